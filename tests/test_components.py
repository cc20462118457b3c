"""Network, EnvironmentKeys, EncryptedPostgres and DatabaseBackupPlan on the mock engine, for both shipped stacks.

Every assertion reads what the engine would receive (recorded inputs and options), so it fails when the
component stops sending the property, not when a Python attribute changes.
"""
from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta, timezone

import botocore.session
import pulumi
import pulumi_aws as aws
import pytest

from securestack.components.database import (ENHANCED_MONITORING_POLICY, EncryptedPostgres, EncryptedPostgresArgs,
                                 postgres_parameters)
from securestack.infra.recording import UNKNOWN, Secret, record
from securestack.infra.settings.database import RESERVED_USERNAMES
from tests.support.aws_checker import provider_default_tags
from tests.support.shipped_fixtures import recording, settings, stack  # noqa: F401 (fixtures: once per stack)
from tests.support.stacks import (by_output, by_output_id, contains_secret, edited, policy_statements, record_config,
                                  shipped_config)

SUBNET, ROUTE_TABLE = "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable"
ASSOCIATION, ROUTE = "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/route:Route"
ENDPOINT, SECURITY_GROUP = "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE, SG_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:ec2/securityGroupRule:SecurityGroupRule"
LOG_GROUP, ROLE, KMS_KEY = "aws:cloudwatch/logGroup:LogGroup", "aws:iam/role:Role", "aws:kms/key:Key"
INSTANCE, PARAMETER_GROUP = "aws:rds/instance:Instance", "aws:rds/parameterGroup:ParameterGroup"
SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
VAULT, PLAN, SELECTION = "aws:backup/vault:Vault", "aws:backup/plan:Plan", "aws:backup/selection:Selection"
DEFAULT_ROUTES = ("0.0.0.0/0", "::/0")
REQUIRED_ENDPOINTS = ("secretsmanager", "kms", "logs", "sts")


def account_of(settings) -> str:
    return settings.allowed_account_ids[0]


def children(recording, component_type: str, type_: str):
    component = recording.one(component_type)
    return [r for r in recording.of_type(type_) if r.parent == component.urn]


def trusted_service(role) -> str:
    (statement,) = policy_statements(role.inputs["assumeRolePolicy"])
    assert statement["Action"] == "sts:AssumeRole" and statement["Effect"] == "Allow"
    return statement["Principal"]["Service"]


# --------------------------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------------------------

def vpc_of(recording):
    return recording.one("aws:ec2/vpc:Vpc")


def split_subnets(recording):
    """(public, private) subnets; private = what the stack exports as privateSubnetIds."""
    subnets = by_output_id(recording, SUBNET)
    private_ids = recording.stack_outputs["privateSubnetIds"]
    private = [subnets[i] for i in private_ids]
    public = [s for i, s in subnets.items() if i not in private_ids]
    return public, private


def route_tables_of(recording, subnet) -> list:
    tables = by_output_id(recording, ROUTE_TABLE)
    return [tables[a.inputs["routeTableId"]] for a in recording.of_type(ASSOCIATION)
            if a.inputs.get("subnetId") == subnet.id]


def destinations(recording, table) -> set[str]:
    inline = {route.get("cidrBlock") or route.get("ipv6CidrBlock") for route in table.inputs.get("routes", [])}
    separate = {r.inputs.get("destinationCidrBlock") or r.inputs.get("destinationIpv6CidrBlock")
                for r in recording.of_type(ROUTE) if r.inputs.get("routeTableId") == table.id}
    return inline | separate


def test_public_and_private_subnets_in_each_of_at_least_two_zones(recording, settings):
    public, private = split_subnets(recording)
    count = settings.network.availability_zone_count
    assert count >= 2 and len(public) == len(private) == count
    for group in (public, private):
        assert len({s.inputs["availabilityZone"] for s in group}) == count
    vpc_block = ipaddress.ip_network(vpc_of(recording).inputs["cidrBlock"])
    assert str(vpc_block) == settings.network.vpc_cidr
    blocks = [ipaddress.ip_network(s.inputs["cidrBlock"]) for s in public + private]
    assert all(block.subnet_of(vpc_block) for block in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1:])


def test_no_subnet_maps_public_ips(recording):
    assert all(s.inputs.get("mapPublicIpOnLaunch") is False for s in recording.of_type(SUBNET))


def test_private_subnets_have_no_default_route(recording):
    _, private = split_subnets(recording)
    for subnet in private:
        tables = route_tables_of(recording, subnet)
        assert tables, f"{subnet.name} has no explicit route table"
        for table in tables:
            assert not destinations(recording, table) & set(DEFAULT_ROUTES), f"{table.name} routes to the internet"


def test_public_subnets_route_to_the_internet_gateway(recording):
    public, _ = split_subnets(recording)
    gateway = recording.one("aws:ec2/internetGateway:InternetGateway")
    assert gateway.inputs["vpcId"] == vpc_of(recording).id
    for subnet in public:
        (table,) = route_tables_of(recording, subnet)
        assert {"cidrBlock": "0.0.0.0/0", "gatewayId": gateway.id} in table.inputs["routes"]


@pytest.mark.parametrize("service", REQUIRED_ENDPOINTS)
def test_interface_endpoint_with_private_dns_in_private_subnets(recording, settings, service):
    _, private = split_subnets(recording)
    name = f"com.amazonaws.{settings.region}.{service}"
    (endpoint,) = [e for e in recording.of_type(ENDPOINT) if e.inputs["serviceName"] == name]
    assert endpoint.inputs["vpcEndpointType"] == "Interface" and endpoint.inputs["privateDnsEnabled"] is True
    assert endpoint.inputs["vpcId"] == vpc_of(recording).id
    assert sorted(endpoint.inputs["subnetIds"]) == sorted(s.id for s in private)
    groups = by_output_id(recording, SECURITY_GROUP)
    for group_id in endpoint.inputs["securityGroupIds"]:
        rules = groups[group_id].inputs["ingress"]
        assert rules and all((r["fromPort"], r["toPort"], r["protocol"]) == (443, 443, "tcp") for r in rules)
        assert all(r["cidrBlocks"] == [settings.network.vpc_cidr] for r in rules)


def test_flow_log_to_a_kms_encrypted_log_group(recording, settings):
    (flow_log,) = recording.of_type("aws:ec2/flowLog:FlowLog")
    assert flow_log.inputs["vpcId"] == vpc_of(recording).id and flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    group = by_output(recording, "arn", LOG_GROUP)[flow_log.inputs["logDestination"]]
    assert group.inputs["kmsKeyId"] == recording.stack_outputs["keys"]["logsKeyArn"]
    assert group.inputs["retentionInDays"] == settings.network.flow_log_retention_days
    role = by_output(recording, "arn", ROLE)[flow_log.inputs["iamRoleArn"]]
    assert trusted_service(role) == "vpc-flow-logs.amazonaws.com"


def test_default_security_group_is_closed(recording):
    (default,) = recording.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.inputs["vpcId"] == vpc_of(recording).id
    assert default.inputs.get("ingress", []) == [] and default.inputs.get("egress", []) == []
    for rule in recording.of_type(INGRESS_RULE, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", SG_RULE):
        assert rule.inputs.get("securityGroupId") != default.id


# --------------------------------------------------------------------------------------------------------------
# EnvironmentKeys
# --------------------------------------------------------------------------------------------------------------

def environment_keys(recording):
    return children(recording, "securestack:index:EnvironmentKeys", KMS_KEY)


def test_one_key_per_purpose_with_rotation(recording, settings):
    keys = environment_keys(recording)
    assert sorted(k.inputs["tags"]["securestack:key-purpose"] for k in keys) == ["data", "logs", "secrets"]
    for key in keys:
        assert key.inputs["enableKeyRotation"] is True and key.inputs["rotationPeriodInDays"] <= 365
        assert key.inputs["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
        assert key.inputs["deletionWindowInDays"] == settings.keys.deletion_window_days
        assert key.inputs["bypassPolicyLockoutSafetyCheck"] is False
    exported = recording.stack_outputs["keys"]
    assert sorted(exported.values()) == sorted(k.outputs["arn"] for k in keys)


def test_every_key_has_an_alias(recording, stack):
    aliases = {a.inputs["targetKeyId"]: a.inputs["name"] for a in recording.of_type("aws:kms/alias:Alias")}
    for key in environment_keys(recording):
        purpose = key.inputs["tags"]["securestack:key-purpose"]
        assert aliases[key.outputs["keyId"]] == f"alias/securestack/{stack}/{purpose}"


def test_key_policies_name_principals_never_an_unconditioned_star(recording, settings):
    """Every KMS key of the stack (backup copy key included)."""
    root = f"arn:aws:iam::{account_of(settings)}:root"
    for key in recording.of_type(KMS_KEY):
        statements = policy_statements(key.inputs["policy"])
        assert any(s.get("Principal") == {"AWS": root} for s in statements), f"{key.name}: no account principal"
        for statement in statements:
            assert "NotPrincipal" not in statement
            principal = statement["Principal"]
            named = [v for values in (principal.values() if isinstance(principal, dict) else [principal])
                     for v in (values if isinstance(values, list) else [values])]
            if "*" in named:
                assert statement.get("Condition"), f"{key.name}: '*' principal without a condition"
            for value in named:
                assert value == "*" or ".amazonaws.com" in value or value.startswith("arn:aws:iam::")


def test_keys_protect_themselves_in_production_only(recording, settings):
    for key in environment_keys(recording):
        assert key.options["protect"] is settings.is_production
        assert key.options["retainOnDelete"] is settings.is_production


def test_logs_key_lets_cloudwatch_logs_use_it_for_this_account_only(recording, settings):
    (logs_key,) = [k for k in environment_keys(recording) if k.inputs["tags"]["securestack:key-purpose"] == "logs"]
    (statement,) = [s for s in policy_statements(logs_key.inputs["policy"])
                    if s["Principal"] == {"Service": f"logs.{settings.region}.amazonaws.com"}]
    condition = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert condition == f"arn:aws:logs:{settings.region}:{account_of(settings)}:log-group:*"


def test_every_log_group_is_encrypted_with_the_logs_key(recording, settings):
    logs_key = recording.stack_outputs["keys"]["logsKeyArn"]
    for group in recording.of_type(LOG_GROUP):
        assert group.inputs["kmsKeyId"] == logs_key and group.inputs["retentionInDays"] > 0


# --------------------------------------------------------------------------------------------------------------
# EncryptedPostgres
# --------------------------------------------------------------------------------------------------------------

def instance_of(recording):
    return recording.one(INSTANCE)


def data_key(recording) -> str:
    return recording.stack_outputs["keys"]["dataKeyArn"]


def test_subnet_group_in_the_private_subnets(recording):
    _, private = split_subnets(recording)
    (group,) = recording.of_type(SUBNET_GROUP)
    assert sorted(group.inputs["subnetIds"]) == sorted(s.id for s in private)
    assert instance_of(recording).inputs["dbSubnetGroupName"] == group.outputs["name"]


def test_database_security_group_admits_only_named_groups_on_5432(recording):
    (group_id,) = instance_of(recording).inputs["vpcSecurityGroupIds"]
    group = by_output_id(recording, SECURITY_GROUP)[group_id]
    assert group.inputs.get("ingress", []) == []
    assert recording.stack_outputs["database"]["securityGroupId"] == group_id
    for rule in recording.of_type(INGRESS_RULE):
        if rule.inputs["securityGroupId"] == group_id:
            assert_named_postgres_rule(rule)
    assert not [r for r in recording.of_type(SG_RULE) if r.inputs.get("securityGroupId") == group_id]


def assert_named_postgres_rule(rule):
    inputs = rule.inputs
    assert (inputs["ipProtocol"], inputs["fromPort"], inputs["toPort"]) == ("tcp", 5432, 5432)
    assert inputs["referencedSecurityGroupId"].startswith("sg-")
    assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(inputs)


def admitting_program():
    """EncryptedPostgres alone, with two sources admitted (what later components do)."""
    provider = aws.Provider("aws", region="us-east-1")
    database = EncryptedPostgres("database", EncryptedPostgresArgs(
        environment="dev", production=False, vpc_id="vpc-0123456789abcdef0",
        private_subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        data_key_arn="arn:aws:kms:us-east-1:111111111111:key/data", logs_key_arn="arn:aws:kms:us-east-1:111111111111:key/logs",
        log_retention_days=30), pulumi.ResourceOptions(providers=[provider]))
    database.admit("app", "sg-0aaaaaaaaaaaaaaaa")
    database.admit("rotator", "sg-0bbbbbbbbbbbbbbbb")


def test_admit_adds_one_5432_rule_per_named_group():
    recording = record(admitting_program, stack="dev", config=shipped_config("dev"))
    group = recording.one(SECURITY_GROUP, "database-sg")
    rules = recording.of_type(INGRESS_RULE)
    assert sorted(r.name for r in rules) == ["database-from-app", "database-from-rotator"]
    assert sorted(r.inputs["referencedSecurityGroupId"] for r in rules) == ["sg-0aaaaaaaaaaaaaaaa", "sg-0bbbbbbbbbbbbbbbb"]
    component = recording.one("securestack:index:EncryptedPostgres")
    for rule in rules:
        assert rule.inputs["securityGroupId"] == group.id and rule.parent == component.urn
        assert_named_postgres_rule(rule)


def test_parameter_group_enforces_tls_and_audits(recording, settings):
    group = recording.one(PARAMETER_GROUP)
    parameters = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert parameters == postgres_parameters(settings.database.log_statement,
                                              settings.database.log_min_duration_statement_ms)
    assert parameters["rds.force_ssl"] == "1" and parameters["ssl_min_protocol_version"] == "TLSv1.2"
    assert parameters["log_connections"] == "1" and parameters["log_disconnections"] == "1"
    assert parameters["log_statement"] == settings.database.log_statement != "none"
    assert parameters["log_min_duration_statement"] == str(settings.database.log_min_duration_statement_ms)
    assert instance_of(recording).inputs["parameterGroupName"] == group.outputs["name"]


def test_parameter_group_family_matches_engine_major(recording):
    family = recording.one(PARAMETER_GROUP).inputs["family"]
    major = instance_of(recording).inputs["engineVersion"].split(".")[0]
    assert family == f"postgres{major}"


def test_storage_encrypted_with_the_data_key(recording):
    inputs = instance_of(recording).inputs
    assert inputs["storageEncrypted"] is True and inputs["kmsKeyId"] == data_key(recording)
    assert inputs["engine"] == "postgres"


def test_backups_from_config_with_window_and_tags_copied(recording, settings):
    inputs = instance_of(recording).inputs
    assert inputs["backupRetentionPeriod"] == settings.database.backup_retention_days >= 7
    assert inputs["backupWindow"] == settings.database.backup_window
    assert inputs["maintenanceWindow"] == settings.database.maintenance_window
    assert inputs["copyTagsToSnapshot"] is True


def test_final_snapshot_never_skipped_in_production(recording, settings):
    inputs = instance_of(recording).inputs
    assert inputs["skipFinalSnapshot"] is settings.database.skip_final_snapshot
    if settings.is_production:
        assert inputs["skipFinalSnapshot"] is False and inputs["deleteAutomatedBackups"] is False


def test_final_snapshot_name_is_new_for_every_instance(recording):
    # A fixed name collides on the second destroy (DBSnapshotAlreadyExists): the suffix is drawn per instance and
    # drawn again whenever an input that replaces the instance changes.
    instance = instance_of(recording)
    (suffix,) = [r for r in recording.of_type("random:index/randomId:RandomId") if r.name.endswith("final-snapshot-suffix")]
    assert suffix.parent == instance.parent
    assert instance.inputs["finalSnapshotIdentifier"] == f"{instance.inputs['identifier']}-final-{suffix.outputs['hex']}"
    assert suffix.inputs["keepers"] == {"identifier": instance.inputs["identifier"],
                                        "kmsKeyId": instance.inputs["kmsKeyId"],
                                        "dbName": instance.inputs["dbName"], "username": instance.inputs["username"]}
    assert instance.property_dependencies["finalSnapshotIdentifier"] == [suffix.urn]


def test_deletion_protection_and_protect_in_production(recording, settings):
    instance = instance_of(recording)
    assert instance.inputs["deletionProtection"] is settings.database.deletion_protection
    assert instance.options["protect"] is settings.is_production
    assert instance.options["retainOnDelete"] is settings.is_production
    if settings.is_production:
        assert instance.inputs["deletionProtection"] is True


def test_multi_az_from_config_and_private_only(recording, settings):
    inputs = instance_of(recording).inputs
    assert inputs["multiAz"] is settings.database.multi_az
    assert inputs["multiAz"] is True or not settings.is_production
    assert inputs["publiclyAccessible"] is False


def test_iam_auth_and_log_exports(recording, settings, stack):
    instance = instance_of(recording)
    assert instance.inputs["iamDatabaseAuthenticationEnabled"] is True
    assert set(instance.inputs["enabledCloudwatchLogsExports"]) >= {"postgresql", "upgrade"}
    # The export log groups exist (encrypted, with retention) before RDS would create them itself.
    groups = {g.inputs["name"]: g for g in recording.of_type(LOG_GROUP)}
    for export in instance.inputs["enabledCloudwatchLogsExports"]:
        group = groups[f"/aws/rds/instance/{instance.inputs['identifier']}/{export}"]
        assert group.inputs["retentionInDays"] == settings.logs.retention_days
        assert group.urn in instance.options["dependsOn"]


def test_enhanced_monitoring_with_its_role(recording, settings):
    inputs = instance_of(recording).inputs
    assert inputs["monitoringInterval"] == settings.database.monitoring_interval_seconds > 0
    role = by_output(recording, "arn", ROLE)[inputs["monitoringRoleArn"]]
    assert trusted_service(role) == "monitoring.rds.amazonaws.com"
    (statement,) = policy_statements(role.inputs["assumeRolePolicy"])
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": account_of(settings)}}
    attached = [a.inputs["policyArn"] for a in recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.inputs["role"] == role.outputs["name"]]
    assert attached == [ENHANCED_MONITORING_POLICY.format(partition="aws")]


def test_performance_insights_on_the_data_key(recording, settings):
    inputs = instance_of(recording).inputs
    assert inputs["performanceInsightsEnabled"] is True
    assert inputs["performanceInsightsKmsKeyId"] == data_key(recording)
    assert inputs["performanceInsightsRetentionPeriod"] == settings.database.performance_insights_retention_days


def test_minor_upgrades_automatic_major_upgrades_not(recording):
    inputs = instance_of(recording).inputs
    assert inputs["autoMinorVersionUpgrade"] is True and inputs["allowMajorVersionUpgrade"] is False


def test_master_password_managed_by_rds_under_the_key(recording, settings):
    inputs = instance_of(recording).inputs
    assert inputs["manageMasterUserPassword"] is True
    assert inputs["masterUserSecretKmsKeyId"] == data_key(recording)
    assert "password" not in inputs and "passwordWo" not in inputs
    assert inputs["username"] == settings.database.master_username
    assert inputs["username"] not in RESERVED_USERNAMES
    assert recording.stack_outputs["database"]["masterSecretArn"].startswith("arn:aws:secretsmanager:")


def test_aws_backup_daily_with_copy_to_a_second_region_in_production(recording, settings):
    if not settings.is_production:
        assert recording.of_type(PLAN) == [] and settings.database.aws_backup is None
        return
    backup = settings.database.aws_backup
    (plan,) = recording.of_type(PLAN)
    (rule,) = plan.inputs["rules"]
    assert is_daily(rule["schedule"])
    assert rule["lifecycle"]["deleteAfter"] == backup.retention_days
    vaults = by_output(recording, "arn", VAULT)
    assert rule["targetVaultName"] in {v.inputs["name"] for v in vaults.values()}
    (copy,) = rule["copyActions"]
    copy_vault = vaults[copy["destinationVaultArn"]]
    assert copy["lifecycle"]["deleteAfter"] == backup.copy_retention_days
    assert backup.copy_region != settings.region
    assert copy_vault.inputs["region"] == backup.copy_region
    assert copy["destinationVaultArn"].split(":")[3] == backup.copy_region
    copy_key = by_output(recording, "arn", KMS_KEY)[copy_vault.inputs["kmsKeyArn"]]
    assert copy_key.inputs["region"] == backup.copy_region and copy_key.outputs["arn"].split(":")[3] == backup.copy_region
    assert copy_key.options["protect"] is True and copy_vault.options["protect"] is True
    (selection,) = recording.of_type(SELECTION)
    assert selection.inputs["resources"] == [instance_of(recording).outputs["arn"]]
    assert selection.inputs["planId"] == plan.id
    assert trusted_service(by_output(recording, "arn", ROLE)[selection.inputs["iamRoleArn"]]) == "backup.amazonaws.com"


def is_daily(schedule: str) -> bool:
    """cron(min hour day-of-month month day-of-week year) that fires once every day."""
    fields = re.fullmatch(r"cron\((.+)\)", schedule).group(1).split()
    minute, hour, day_of_month, month, day_of_week, year = fields
    return minute.isdigit() and hour.isdigit() and {day_of_month, day_of_week} <= {"*", "?"} \
        and "?" in (day_of_month, day_of_week) and month == "*" and year == "*"


# --------------------------------------------------------------------------------------------------------------
# The restore path
# --------------------------------------------------------------------------------------------------------------

RESTORE_TIME = (datetime.now(timezone.utc) - timedelta(hours=6)).replace(microsecond=0)
# A copy of dev's database in dev's account: a point-in-time restore reads backups of this account and region.
SOURCE_KEY = "arn:aws:kms:us-east-1:111111111111:key/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
SOURCE = {"sourceEnvironment": "dev", "sourceDbInstanceIdentifier": "securestack-dev-postgres",
          "sourceKmsKeyArn": SOURCE_KEY}
RESTORE_STACK = "devrestore"


def restore_stack_config() -> dict[str, str]:
    """dev's config as the restore stack's own: its roles and names carry its environment, as settings require
    (another environment's names are refused, the declared restore source excepted)."""
    return {key: value.replace("securestack-dev-", f"securestack-{RESTORE_STACK}-")
            .replace("securestack/dev/", f"securestack/{RESTORE_STACK}/")
            for key, value in shipped_config("dev").items()}


def restored(**point) -> "securestack.infra.recording.Recording":
    return record_config(edited(restore_stack_config(), "securestack:database", restore={**SOURCE, **point}),
                         RESTORE_STACK)


@pytest.fixture(scope="module")
def restored_at_time():
    return restored(restoreTime=RESTORE_TIME.strftime("%Y-%m-%dT%H:%M:%SZ"))


@pytest.fixture(scope="module")
def restored_latest():
    return restored(useLatestRestorableTime=True)


def test_restore_to_a_point_in_time(restored_at_time):
    inputs = instance_of(restored_at_time).inputs
    assert inputs["restoreToPointInTime"] == {"sourceDbInstanceIdentifier": "securestack-dev-postgres",
                                              "restoreTime": RESTORE_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert inputs["identifier"] == f"securestack-{RESTORE_STACK}-postgres"
    assert "dbName" not in inputs and "username" not in inputs


def test_restore_to_latest_restorable_time(restored_latest):
    inputs = instance_of(restored_latest).inputs
    assert inputs["restoreToPointInTime"] == {"sourceDbInstanceIdentifier": "securestack-dev-postgres",
                                              "useLatestRestorableTime": True}
    assert "dbName" not in inputs and "username" not in inputs


def test_restored_copy_records_the_key_aws_keeps(restored_at_time):
    # RestoreDBInstanceToPointInTime has no KmsKeyId: AWS keeps the source's key, so that is what the instance asks
    # for (this stack's data key would plan a replacement of the protected instance on the next `up`).
    assert "KmsKeyId" not in botocore.session.get_session().get_service_model("rds").operation_model(
        "RestoreDBInstanceToPointInTime").input_shape.members
    inputs = instance_of(restored_at_time).inputs
    assert inputs["storageEncrypted"] is True and inputs["kmsKeyId"] == SOURCE_KEY != data_key(restored_at_time)


def test_restore_inputs_are_ignored_once_the_instance_exists(restored_at_time, recording):
    ignored = set(instance_of(restored_at_time).options.get("ignoreChanges") or [])
    assert {"restoreToPointInTime", "kmsKeyId", "dbName", "username"} <= ignored
    assert not instance_of(recording).options.get("ignoreChanges"), "a fresh database ignores nothing"


def test_restored_database_keeps_every_control(restored_at_time):
    inputs = instance_of(restored_at_time).inputs
    assert inputs["masterUserSecretKmsKeyId"] == inputs["performanceInsightsKmsKeyId"] == data_key(restored_at_time)
    assert inputs["manageMasterUserPassword"] is True and inputs["publiclyAccessible"] is False
    assert inputs["backupRetentionPeriod"] >= 7 and inputs["iamDatabaseAuthenticationEnabled"] is True


def test_fresh_database_has_no_restore(recording, settings):
    inputs = instance_of(recording).inputs
    assert "restoreToPointInTime" not in inputs
    assert inputs["dbName"] == settings.database.database_name


# --------------------------------------------------------------------------------------------------------------
# Stack exports: non-secret only
# --------------------------------------------------------------------------------------------------------------

# An export key that reads like a credential; a key naming a resource (a secret's ARN, id, name) is fine.
CREDENTIAL_KEY = re.compile(r"password|passwd|pwd|token|credential|privatekey|apikey|secretvalue|secretstring",
                            re.IGNORECASE)
NAMES_A_RESOURCE = re.compile(r"(arn|arns|id|ids|name|identifier)$", re.IGNORECASE)
ISSUE_2_COMPONENTS = ("securestack:index:Network", "securestack:index:EnvironmentKeys",
                      "securestack:index:EncryptedPostgres", "securestack:index:DatabaseBackupPlan")


def flattened(value, path=""):
    """(path, leaf) pairs of a nested export."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flattened(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from flattened(item, f"{path}[{index}]")
    else:
        yield path, value


def test_exports_are_non_secret(recording):
    exports = recording.stack_outputs
    database = exports["database"]
    assert {"endpoint", "address", "port", "masterSecretArn", "securityGroupId", "identifier", "arn"} <= set(database)
    for path, value in flattened(exports):
        assert not isinstance(value, Secret), f"export {path} is a secret"
        key = path.split(".")[-1].split("[")[0]
        assert NAMES_A_RESOURCE.search(key) or not CREDENTIAL_KEY.search(key), f"export {path} looks like a credential"
        assert value is not UNKNOWN


def test_no_secret_value_passes_through_pulumi(recording):
    """No input of these components carries a Pulumi secret (RDS keeps the master password in Secrets Manager)."""
    components = {c.urn for c in recording.of_type(*ISSUE_2_COMPONENTS)}
    for resource in recording.resources:
        if resource.parent in components:
            assert not contains_secret(resource.inputs), f"{resource.name} has a secret input"
    assert not recording.of_type("aws:secretsmanager/secretVersion:SecretVersion", "random:index/randomPassword:RandomPassword")


# --------------------------------------------------------------------------------------------------------------
# AWS limits the mock engine does not check
# --------------------------------------------------------------------------------------------------------------

# Tags (with the provider's default tags), IAM role names, RDS identifiers, log group / alias / vault names and
# every other value AWS constrains are checked on every resource of every stack by tests/test_aws_rules.py.

def test_provider_default_tags_name_the_environment(recording):
    tags = provider_default_tags(recording.one("pulumi:providers:aws"))
    assert tags["securestack:env"] == recording.stack
