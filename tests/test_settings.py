"""Stack settings: every malformed config fails with the exact key path, before any resource exists."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest

import securestack.infra.recording
from securestack.infra.program import build
from securestack.infra.recording import record
from securestack.infra.settings import SettingsError, Tier, build_settings
from tests.support.stacks import DELETE, SHIPPED_STACKS, STACK_FILES, edited, replaced, shipped_config

DB, NETWORK, TAGS = "securestack:database", "securestack:network", "securestack:tags"
A_DAY_AGO = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
NEXT_YEAR = (datetime.now(timezone.utc) + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Malformed:
    """One broken config: `stack`'s shipped config changed by `change`; exactly `key` is reported."""

    id: str
    stack: str
    change: Callable[[dict[str, str]], dict[str, str]]
    key: str
    says: str  # a fragment of the message, so the right rule fired

    def config(self) -> dict[str, str]:
        return self.change(shipped_config(self.stack))


def db(**fields):
    return lambda config: edited(config, DB, **fields)


def network(**fields):
    return lambda config: edited(config, NETWORK, **fields)


# An existing VPC as its owner describes it (ids of the shape EC2 gives).
EXISTING_VPC = {"vpcId": "vpc-0a1b2c3d4e5f60718", "cidrBlock": "10.40.0.0/16",
                "publicSubnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
                "privateSubnetIds": ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012"],
                "privateRouteTableIds": ["rtb-0a1b2c3d4e5f60021", "rtb-0a1b2c3d4e5f60022"]}
# A restore declares its source: environment, instance and the key that instance is encrypted with (dev's account).
RESTORE_SOURCE = {"sourceEnvironment": "qa", "sourceDbInstanceIdentifier": "securestack-qa-postgres",
                  "sourceKmsKeyArn": "arn:aws:kms:us-east-1:111111111111:key/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"}


def restore(**fields):
    return db(restore={**RESTORE_SOURCE, **fields})


def restore_without(field: str, **fields):
    return db(restore={**{k: v for k, v in RESTORE_SOURCE.items() if k != field}, **fields})


MALFORMED = [
    # wrong types
    Malformed("retention-is-text", "dev", db(backupRetentionDays="seven"), f"{DB}.backupRetentionDays", "integer"),
    Malformed("retention-is-boolean", "dev", db(backupRetentionDays=True), f"{DB}.backupRetentionDays", "integer"),
    Malformed("multi-az-is-text", "dev", db(multiAz="no"), f"{DB}.multiAz", "boolean"),
    Malformed("network-is-a-list", "dev", lambda c: replaced(c, NETWORK, ["10.0.0.0/16"]), NETWORK, "mapping"),
    Malformed("tag-value-is-a-number", "dev", lambda c: edited(c, TAGS, **{"cost-center": 1234}),
              f"{TAGS}.cost-center", "string"),
    # out of range
    Malformed("retention-below-7", "dev", db(backupRetentionDays=3), f"{DB}.backupRetentionDays", ">= 7"),
    Malformed("retention-above-35", "dev", db(backupRetentionDays=36), f"{DB}.backupRetentionDays", "<= 35"),
    Malformed("log-retention-not-a-logs-value", "dev", lambda c: edited(c, "securestack:logs", retentionDays=42),
              "securestack:logs.retentionDays", "not a CloudWatch Logs retention"),
    Malformed("key-deletion-window-too-short", "dev", lambda c: edited(c, "securestack:keys", deletionWindowDays=5),
              "securestack:keys.deletionWindowDays", ">= 7"),
    # unknown keys
    Malformed("unknown-section", "dev", lambda c: replaced(c, "securestack:databse", {"multiAz": True}),
              "securestack:databse", "unknown key"),
    Malformed("unknown-field", "dev", db(backupRetention=7), f"{DB}.backupRetention", "unknown key"),
    # missing required keys
    Malformed("no-region", "dev", lambda c: replaced(c, "aws:region"), "aws:region", "missing"),
    Malformed("no-allowed-accounts", "dev", lambda c: replaced(c, "aws:allowedAccountIds"), "aws:allowedAccountIds",
              "missing"),
    Malformed("no-tier", "dev", lambda c: replaced(c, "securestack:tier"), "securestack:tier", "missing"),
    Malformed("restore-without-source", "dev", restore_without("sourceDbInstanceIdentifier",
                                                                useLatestRestorableTime=True),
              f"{DB}.restore.sourceDbInstanceIdentifier", "missing"),
    Malformed("restore-without-source-environment", "dev", restore_without("sourceEnvironment",
                                                                            useLatestRestorableTime=True),
              f"{DB}.restore.sourceEnvironment", "missing"),
    Malformed("restore-without-source-key", "dev", restore_without("sourceKmsKeyArn", useLatestRestorableTime=True),
              f"{DB}.restore.sourceKmsKeyArn", "missing"),
    # bad values
    Malformed("unknown-tier", "dev", lambda c: replaced(c, "securestack:tier", "staging"), "securestack:tier",
              "'production' or 'non-production'"),
    Malformed("not-a-region", "dev", lambda c: replaced(c, "aws:region", "us-east"), "aws:region", "not an AWS region"),
    Malformed("short-account-id", "dev", lambda c: replaced(c, "aws:allowedAccountIds", ["12345"]),
              "aws:allowedAccountIds[0]", "12-digit"),
    Malformed("unquoted-account-id", "dev", lambda c: replaced(c, "aws:allowedAccountIds", [111111111111]),
              "aws:allowedAccountIds[0]", "12-digit"),
    Malformed("cidr-bad-netmask", "dev", network(vpcCidr="10.0.0.0/33"), f"{NETWORK}.vpcCidr", "not an IPv4 CIDR"),
    Malformed("cidr-public-range", "dev", network(vpcCidr="8.8.0.0/16"), f"{NETWORK}.vpcCidr", "private"),
    Malformed("one-availability-zone", "dev", network(availabilityZoneCount=1), f"{NETWORK}.availabilityZoneCount",
              ">= 2"),
    Malformed("unknown-endpoint-service", "dev", network(interfaceEndpoints=["ecs", "ec2messages"]),
              f"{NETWORK}.interfaceEndpoints", "unknown endpoint service"),
    Malformed("existing-vpc-without-route-tables", "dev", network(existingVpc={
        k: v for k, v in EXISTING_VPC.items() if k != "privateRouteTableIds"}),
              f"{NETWORK}.existingVpc.privateRouteTableIds", "missing"),
    Malformed("existing-vpc-no-route-tables", "dev", network(existingVpc={**EXISTING_VPC, "privateRouteTableIds": []}),
              f"{NETWORK}.existingVpc.privateRouteTableIds", "at least 1"),
    Malformed("existing-vpc-route-table-id", "dev", network(existingVpc={
        **EXISTING_VPC, "privateRouteTableIds": ["rtb-0123456789abcdef0", "subnet-0123456789abcdef0"]}),
              f"{NETWORK}.existingVpc.privateRouteTableIds", "not a route table id (rtb-...)"),
    Malformed("backup-window-format", "dev", db(backupWindow="3:00-3:30"), f"{DB}.backupWindow", "hh24:mi"),
    Malformed("backup-window-too-short", "dev", db(backupWindow="03:00-03:10"), f"{DB}.backupWindow", "30 minutes"),
    Malformed("maintenance-window-day", "dev", db(maintenanceWindow="sunday:04:30-sunday:05:30"),
              f"{DB}.maintenanceWindow", "ddd:hh24:mi"),
    Malformed("maintenance-window-too-short", "dev", db(maintenanceWindow="sun:04:30-sun:04:45"),
              f"{DB}.maintenanceWindow", "30 minutes"),
    Malformed("windows-overlap", "dev", db(backupWindow="04:45-05:15"), f"{DB}.maintenanceWindow", "overlaps"),
    Malformed("windows-overlap-across-midnight", "dev",
              db(backupWindow="23:45-00:30", maintenanceWindow="mon:00:00-mon:01:00"), f"{DB}.maintenanceWindow",
              "overlaps"),
    Malformed("reserved-master-username", "dev", db(masterUsername="postgres"), f"{DB}.masterUsername", "reserved"),
    Malformed("app-user-is-master", "dev", db(appUsername="securestack_admin"), f"{DB}.appUsername",
              "differ from masterUsername"),
    Malformed("storage-ceiling-below-size", "dev", db(allocatedStorageGb=100, maxAllocatedStorageGb=50),
              f"{DB}.maxAllocatedStorageGb", ">= allocatedStorageGb"),
    Malformed("engine-version-9", "dev", db(engineVersion="9.6"), f"{DB}.engineVersion", "supported"),
    Malformed("engine-version-not-a-version", "dev", db(engineVersion="16.x"), f"{DB}.engineVersion", "supported"),
    Malformed("engine-version-unquoted", "dev", db(engineVersion=16), f"{DB}.engineVersion", "string"),
    Malformed("monitoring-off", "dev", db(monitoringIntervalSeconds=0), f"{DB}.monitoringIntervalSeconds",
              "enhanced monitoring off"),
    Malformed("tag-value-with-star", "dev", lambda c: edited(c, TAGS, owner="platform*"), f"{TAGS}.owner",
              "AWS rejects"),
    Malformed("tag-value-with-comma", "dev", lambda c: edited(c, TAGS, owner="a,b"), f"{TAGS}.owner", "AWS rejects"),
    Malformed("tag-key-reserved", "dev", lambda c: edited(c, TAGS, **{"securestack:env": "x"}),
              f"{TAGS}.securestack:env", "reserved"),
    # the restore path
    Malformed("restore-both-times", "dev", restore(restoreTime=A_DAY_AGO, useLatestRestorableTime=True),
              f"{DB}.restore", "exactly one"),
    Malformed("restore-no-time", "dev", restore(), f"{DB}.restore", "exactly one"),
    Malformed("restore-in-the-future", "dev", restore(restoreTime=NEXT_YEAR), f"{DB}.restore.restoreTime",
              "future"),
    Malformed("restore-time-without-zone", "dev", restore(restoreTime="2026-01-01T03:15:00"),
              f"{DB}.restore.restoreTime", "time zone"),
    Malformed("restore-source-not-an-identifier", "dev",
              restore(sourceDbInstanceIdentifier="Prod_DB", useLatestRestorableTime=True),
              f"{DB}.restore.sourceDbInstanceIdentifier", "not an RDS instance identifier"),
    Malformed("restore-source-not-the-environments-instance", "dev",
              restore(sourceDbInstanceIdentifier="securestack-prod-postgres", useLatestRestorableTime=True),
              f"{DB}.restore.sourceDbInstanceIdentifier", "not the instance of sourceEnvironment 'qa'"),
    Malformed("restore-from-itself", "dev",
              restore(sourceEnvironment="dev", sourceDbInstanceIdentifier="securestack-dev-postgres",
                      useLatestRestorableTime=True),
              f"{DB}.restore.sourceEnvironment", "this stack's own environment"),
    Malformed("restore-key-is-an-alias", "dev",
              restore(sourceKmsKeyArn="arn:aws:kms:us-east-1:111111111111:alias/securestack/qa/data",
                      useLatestRestorableTime=True),
              f"{DB}.restore.sourceKmsKeyArn", "not a KMS key ARN"),
    Malformed("restore-key-of-another-region", "dev",
              restore(sourceKmsKeyArn=RESTORE_SOURCE["sourceKmsKeyArn"].replace("us-east-1", "eu-west-1"),
                      useLatestRestorableTime=True),
              f"{DB}.restore.sourceKmsKeyArn", "a point-in-time restore in us-east-1 keeps"),
    Malformed("restore-key-of-another-account", "dev",
              restore(sourceKmsKeyArn=RESTORE_SOURCE["sourceKmsKeyArn"].replace("111111111111", "999999999999"),
                      useLatestRestorableTime=True),
              f"{DB}.restore.sourceKmsKeyArn", "not to this stack's aws:allowedAccountIds"),
    # prod's file names its own domain: a restore stack copied from it must not create records for that name
    Malformed("restore-stack-keeps-the-source-domain", "prod",
              restore(sourceKmsKeyArn=RESTORE_SOURCE["sourceKmsKeyArn"].replace("111111111111", "222222222222"),
                      useLatestRestorableTime=True),
              "securestack:loadBalancer.domainName", "does not carry this restore stack's environment 'prod'"),
    # production forbids the weaker settings a non-production stack may ask for
    Malformed("prod-no-deletion-protection", "prod", db(deletionProtection=False), f"{DB}.deletionProtection",
              "production"),
    Malformed("prod-single-az", "prod", db(multiAz=False), f"{DB}.multiAz", "production"),
    Malformed("prod-retention-below-35", "prod", db(backupRetentionDays=14), f"{DB}.backupRetentionDays",
              "production"),
    Malformed("prod-skips-final-snapshot", "prod", db(skipFinalSnapshot=True), f"{DB}.skipFinalSnapshot",
              "production"),
    Malformed("prod-without-aws-backup", "prod", db(awsBackup=DELETE), f"{DB}.awsBackup", "production"),
    Malformed("prod-copy-in-same-region", "prod",
              db(awsBackup={"copyRegion": "us-east-1", "retentionDays": 35, "copyRetentionDays": 35}),
              f"{DB}.awsBackup.copyRegion", "must differ from aws:region"),
    Malformed("prod-backup-schedule-not-cron", "prod", db(awsBackup={"copyRegion": "us-west-2", "schedule": "daily"}),
              f"{DB}.awsBackup.schedule", "cron"),
    # AWS Backup starts no RDS backup in the hour before or during the maintenance window (issue 11, item 15):
    # 05:00 + the 60-minute start window meets sun:04:30-05:30, the previous prod schedule
    Malformed("prod-backup-schedule-in-maintenance", "prod", db(awsBackup={
        "copyRegion": "us-west-2", "schedule": "cron(0 5 ? * * *)"}), f"{DB}.awsBackup", "maintenanceWindow"),
    Malformed("prod-backup-start-window-reaches-hour-before-maintenance", "prod", db(awsBackup={
        "copyRegion": "us-west-2", "schedule": "cron(45 2 ? * * *)"}), f"{DB}.awsBackup", "hour before"),
]


def problem_keys(error: SettingsError) -> set[str]:
    """Each problem is `<key path>: <message>`; a key path never contains ': '."""
    return {problem.split(": ", 1)[0] for problem in error.problems}


def registrations_of_failing_run(config: dict[str, str], stack: str, monkeypatch) -> tuple[SettingsError, list]:
    """Runs the real program on the recording engine; returns the error it raised and what it registered."""
    monitors = []

    class WatchedMonitor(securestack.infra.recording.RecordingMonitor):
        def __init__(self, mocks):
            super().__init__(mocks)
            monitors.append(self)

    monkeypatch.setattr(securestack.infra.recording, "RecordingMonitor", WatchedMonitor)
    with pytest.raises(SettingsError) as raised:
        record(build, stack=stack, config=config)
    (monitor,) = monitors
    return raised.value, monitor.recorded + [i for i in monitor.mocks.invokes]


def test_enough_malformed_configs():
    assert len({case.id for case in MALFORMED}) == len(MALFORMED) >= 15


@pytest.mark.parametrize("case", MALFORMED, ids=lambda case: case.id)
def test_malformed_config_names_the_key(case: Malformed):
    with pytest.raises(SettingsError) as raised:
        build_settings(case.config(), case.stack)
    assert problem_keys(raised.value) == {case.key}, raised.value.problems
    assert case.says in raised.value.problems[0], raised.value.problems
    assert f"\n  {case.key}: " in str(raised.value)


@pytest.mark.parametrize("case", MALFORMED, ids=lambda case: case.id)
def test_malformed_config_registers_nothing(case: Malformed, monkeypatch):
    error, registered = registrations_of_failing_run(case.config(), case.stack, monkeypatch)
    assert case.key in problem_keys(error)
    assert registered == [], "resources or invokes happened before the settings were validated"


@pytest.mark.parametrize("stack", ["dev-", "a--b", "Prod", "dév", "averyverylongname"])
def test_stack_names_that_break_aws_names_are_refused(stack):
    with pytest.raises(SettingsError) as raised:
        build_settings(shipped_config("dev"), stack)
    assert problem_keys(raised.value) == {"stack name"}


def test_every_problem_is_listed_at_once(monkeypatch):
    config = replaced(edited(edited(shipped_config("dev"), DB, backupRetentionDays=3), NETWORK, vpcCidr="bad"),
                      "securestack:tier")
    error, registered = registrations_of_failing_run(config, "dev", monkeypatch)
    assert problem_keys(error) == {f"{DB}.backupRetentionDays", f"{NETWORK}.vpcCidr", "securestack:tier"}
    listed = [line for line in str(error).splitlines() if line.startswith("  securestack:")]
    assert len(listed) == 3 and str(error).startswith("3 settings problem(s):")
    assert registered == []


def test_production_lists_every_weakened_setting():
    config = edited(shipped_config("prod"), DB, deletionProtection=False, multiAz=False, backupRetentionDays=7,
                    awsBackup=DELETE)
    with pytest.raises(SettingsError) as raised:
        build_settings(config, "prod")
    assert problem_keys(raised.value) == {f"{DB}.{key}" for key in
                                          ("deletionProtection", "multiAz", "backupRetentionDays", "awsBackup")}


def test_every_bad_tag_is_reported_under_its_own_key():
    config = edited(shipped_config("dev"), TAGS, owner="a*b", team="x,y", **{"bad,key": "v"})
    with pytest.raises(SettingsError) as raised:
        build_settings(config, "dev")
    assert problem_keys(raised.value) == {f"{TAGS}.owner", f"{TAGS}.team", f"{TAGS}.bad,key"}


@pytest.mark.parametrize("stack", STACK_FILES)
def test_every_stack_file_validates(stack):
    settings = build_settings(shipped_config(stack), stack)
    assert settings.environment == stack
    if stack in SHIPPED_STACKS:
        assert settings.tier is (Tier.PRODUCTION if stack == "prod" else Tier.NON_PRODUCTION)


def test_defaults_are_the_safe_settings():
    """A section left out gets the production-grade values: nothing weaker unless asked for."""
    config = replaced(shipped_config("dev"), DB)
    database = build_settings(config, "dev").database
    assert database.multi_az and database.deletion_protection and not database.skip_final_snapshot
    assert database.backup_retention_days == 35
    assert database.master_username not in ("postgres", "admin", "root")


def test_restore_settings_accept_a_past_time_or_latest():
    for restore_fields in ({"restoreTime": A_DAY_AGO}, {"useLatestRestorableTime": True}):
        config = restore(**restore_fields)(shipped_config("dev"))
        assert build_settings(config, "dev").database.restore is not None
