"""Settings in two passes (issue 14): every field of every section, then every rule spanning fields, sections and
the tier on whatever parsed; all problems at once, in file order; every value a component or AWS would refuse, or
the policy pack would refuse for a config reason, refused first at its key."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable

import pytest

from securestack.components.audit import FILTER_PATTERN_MAX
from securestack.infra.preview import policy_report, run_stack
from securestack.infra.settings import SettingsError, build_settings
from securestack.infra.settings import rds_catalog
from securestack.infra.settings.limits import AWS_TAGS_MAX, SECRET_OWN_TAGS_MAX, unexpected_principal_pattern
from securestack.infra.stack_config import StackConfigError, read_stack_config
from tests.support.stacks import (DELETE, STACK_FILES, edited, record_config, replaced, section, shipped_config,
                                  shipped_recording)

NS = "securestack"
DB, LB, APP, AUDIT, SECRETS = (f"{NS}:{k}" for k in ("database", "loadBalancer", "app", "audit", "secrets"))
REPO = Path(__file__).resolve().parents[1]
DEV_ACCOUNT = "111111111111"
OTHER_ACCOUNT = "333333333333"


def problems(config: dict[str, str], stack: str, **kwargs: Any) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        build_settings(config, stack, **kwargs)
    return raised.value.problems


def keys(listed: list[str]) -> list[str]:
    return [problem.split(": ", 1)[0] for problem in listed]


def nested(config: dict[str, str], key: str, field: str, **fields: Any) -> dict[str, str]:
    """`config` with `key`'s mapping `field` updated with `fields`."""
    return edited(config, key, **{field: {**section(config, key).get(field, {}), **fields}})


# -- every problem at once -----------------------------------------------------------------------------------

def test_readmes_two_problem_example_prints_both():
    config = edited(shipped_config("prod"), DB, backupRetentionDays=3, deletionProtection=False)
    assert problems(config, "prod") == [f"{DB}.backupRetentionDays: must be >= 7",
                                        f"{DB}.deletionProtection: must be true in a production stack"]


def test_prod_with_three_problems_in_three_sections_lists_all_three():
    config = edited(edited(edited(shipped_config("prod"), DB, instanceClass="db.r7g.larg"), LB,
                           deletionProtection=False), APP, desiredCount=1)
    assert keys(problems(config, "prod")) == [f"{DB}.instanceClass", f"{LB}.deletionProtection",
                                              f"{APP}.desiredCount"]


def test_problems_are_listed_in_file_order():
    config = edited(edited(shipped_config("dev"), APP, cpu="big", user="root"), "securestack:network",
                    flowLogRetentionDays=8, vpcCidr="bad")
    config = {**config, "securestack:tier": "staging"}
    # Pulumi.dev.yaml: tier, network (vpcCidr before flowLogRetentionDays), ..., app (cpu before user)
    assert keys(problems(config, "dev")) == [f"{NS}:tier", f"{NS}:network.vpcCidr",
                                             f"{NS}:network.flowLogRetentionDays", f"{APP}.cpu", f"{APP}.user"]


def test_a_missing_key_is_listed_after_what_its_section_holds():
    config = edited(edited(shipped_config("dev"), LB, certificateArn=DELETE, domainName="api.dev.example.com",
                           rateLimit=1), APP, cpu=3)
    listed = keys(problems(config, "dev"))
    assert listed == [f"{LB}.rateLimit", LB, APP], listed


def test_a_sections_own_rules_run_when_another_field_fails():
    config = edited(shipped_config("dev"), APP, memory=4096, user="root")  # cpu 256 has no 4096 MB size
    listed = problems(config, "dev")
    assert keys(listed) == [f"{APP}.user", APP] and "not a Fargate task size" in listed[1]


def test_cross_section_rules_run_when_a_field_fails():
    config = edited(shipped_config("dev"), APP, containerPort=9090, user="root")
    assert keys(problems(config, "dev")) == [f"{APP}.containerPort", f"{APP}.user"]


def test_production_rules_run_when_a_field_of_the_section_fails():
    config = edited(shipped_config("prod"), DB, multiAz=False, instanceClass="db.m9.large")
    assert set(keys(problems(config, "prod"))) == {f"{DB}.multiAz", f"{DB}.instanceClass"}


@pytest.mark.parametrize("change, reported", [
    # targetPort did not parse: containerPort is not compared with its default
    (lambda c: edited(c, LB, targetPort="8080"), [f"{LB}.targetPort"]),
    # backupWindow did not parse: maintenanceWindow is not compared with its default (03:00-03:30)
    (lambda c: edited(c, DB, backupWindow="3am", maintenanceWindow="sun:03:00-sun:03:45"), [f"{DB}.backupWindow"]),
    # a consumer's role did not parse: the keys naming it are not told it is unknown
    (lambda c: nested(c, SECRETS, "consumers", storefront={"roleArn": "not-an-arn"}),
     [f"{SECRETS}.consumers.storefront.roleArn"]),
    # a whole certificate source did not parse: no "no certificate source" on top
    (lambda c: edited(c, LB, certificateArn="arn:aws:acm:us-east-1:111111111111:certificate/nope"),
     [f"{LB}.certificateArn"]),
], ids=["target-port", "backup-window", "consumer-role", "certificate"])
def test_a_rule_whose_input_did_not_parse_is_skipped(change: Callable[[dict[str, str]], dict[str, str]],
                                                     reported: list[str]):
    assert keys(problems(change(shipped_config("dev")), "dev")) == reported


def test_list_entries_keep_their_file_index_when_one_does_not_parse():
    api_keys = json.loads(shipped_config("dev")[f"{NS}:apiKeys"])
    api_keys[1]["scopes"] = ["not a scope"]
    api_keys[3]["name"] = api_keys[0]["name"]
    api_keys[3]["scopes"] = ["orders:read"]
    listed = problems(replaced(shipped_config("dev"), f"{NS}:apiKeys", api_keys), "dev")
    assert keys(listed) == [f"{NS}:apiKeys[1].scopes", f"{NS}:apiKeys[3].name"]
    assert "also apiKeys[0]" in listed[1]


# -- what AWS or a component would refuse ------------------------------------------------------------------

@dataclass(frozen=True)
class Refused:
    id: str
    stack: str
    change: Callable[[dict[str, str]], dict[str, str]]
    key: str
    says: str


def principals(count: int, name: str = "operator-" * 2) -> list[str]:
    # Users of the stack's account: not folded into the account-wide role clause, each costs its full ARN. The
    # default name is about the longest one user the shipped dev file (4 consumers and an operator) has room for.
    return [f"arn:aws:iam::{DEV_ACCOUNT}:user/break-glass/{name}{n}" for n in range(count)]


REFUSED = [
    Refused("invented-region", "dev", lambda c: {**c, "aws:region": "us-fake-9"}, "aws:region", "botocore"),
    Refused("invented-copy-region", "prod", lambda c: nested(c, DB, "awsBackup", copyRegion="xx-nowhere-0"),
            f"{DB}.awsBackup.copyRegion", "not an AWS region"),
    Refused("misspelt-instance-class", "dev", lambda c: edited(c, DB, instanceClass="db.t4g.medum"),
            f"{DB}.instanceClass", "did you mean db.t4g.medium"),
    Refused("engine-16.99", "dev", lambda c: edited(c, DB, engineVersion="16.99"), f"{DB}.engineVersion",
            "16.11"),
    Refused("74-tags", "dev", lambda c: replaced(c, f"{NS}:tags", {f"tag{n}": "x" for n in range(74)}),
            f"{NS}:tags", f"AWS allows {AWS_TAGS_MAX}"),
    Refused("lifecycle-1e11-days", "dev", lambda c: nested(c, AUDIT, "bucketLifecycle", expirationDays=10**11),
            f"{AUDIT}.bucketLifecycle.expirationDays", "<= 2147483647"),
    Refused("noncurrent-1e11-days", "dev",
            lambda c: nested(c, AUDIT, "bucketLifecycle", noncurrentVersionExpirationDays=10**11),
            f"{AUDIT}.bucketLifecycle.noncurrentVersionExpirationDays", "<= 2147483647"),
    Refused("environment-names-a-secret-variable", "dev", lambda c: edited(c, APP, environment={"DB_USERNAME": "x"}),
            f"{APP}.environment", "secret variable ECS injects"),
    Refused("four-principals-overflow-the-metric-filter", "dev",
            lambda c: edited(c, AUDIT, expectedSecretPrincipals=principals(4)),
            f"{AUDIT}.expectedSecretPrincipals", f"(max {FILTER_PATTERN_MAX})"),
    Refused("role-of-another-account", "dev",
            lambda c: nested(c, SECRETS, "consumers", storefront={
                "roleArn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/securestack-dev-storefront"}),
            f"{SECRETS}.consumers.storefront.roleArn", "outside aws:allowedAccountIds"),
    Refused("image-of-another-account", "dev",
            lambda c: edited(c, APP, image=f"{OTHER_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/securestack-app:1.4.2"),
            f"{APP}.image", f"names account {OTHER_ACCOUNT}"),
    Refused("principal-of-another-account", "dev",
            lambda c: edited(c, AUDIT, expectedSecretPrincipals=[f"arn:aws:iam::{OTHER_ACCOUNT}:role/break-glass"]),
            f"{AUDIT}.expectedSecretPrincipals[0]", f"names account {OTHER_ACCOUNT}"),
    Refused("arn-of-another-partition", "dev",
            lambda c: edited(c, AUDIT, expectedSecretPrincipals=[f"arn:aws-cn:iam::{DEV_ACCOUNT}:role/break-glass"]),
            f"{AUDIT}.expectedSecretPrincipals[0]", "partition aws-cn"),
    Refused("name-of-another-environment", "dev",
            lambda c: edited(c, AUDIT, expectedSecretPrincipals=[f"arn:aws:iam::{DEV_ACCOUNT}:role/securestack-prod-ops"]),
            f"{AUDIT}.expectedSecretPrincipals[0]", "names environment prod"),
    Refused("secure-tier", "dev", lambda c: {**c, f"{NS}:tier": "[secret]"}, f"{NS}:tier", "must not be a secret"),
    Refused("secure-nested-value", "dev", lambda c: edited(c, DB, masterUsername="[secret]"),
            f"{DB}.masterUsername", "must not be a secret"),
    Refused("secure-list-item", "dev", lambda c: {**c, "aws:allowedAccountIds": json.dumps(["[secret]"])},
            "aws:allowedAccountIds", "must not be a secret"),
]


def test_refused_cases_are_distinct():
    assert len({case.id for case in REFUSED}) == len(REFUSED)


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.id)
def test_what_aws_or_a_component_refuses_is_refused_at_its_key(case: Refused):
    listed = problems(case.change(shipped_config(case.stack)), case.stack, environments=STACK_FILES)
    assert keys(listed) == [case.key], listed
    assert case.says in listed[0], listed


def test_a_secret_the_engine_decrypted_is_refused_by_its_key():
    """On the real engine a `secure:` value arrives decrypted, its key among the secret keys."""
    listed = problems(shipped_config("dev"), "dev", secret_keys=[f"{NS}:tier"])
    assert listed == [f"{NS}:tier: must not be a secret (secure:): settings read this value to check it and to "
                      "name and size resources; write it in plain text"]


def test_a_secret_settings_do_not_read_is_left_alone():
    config = {**shipped_config("dev"), "other:apiToken": "[secret]"}
    assert build_settings(config, "dev", secret_keys=["other:apiToken"]).environment == "dev"


# -- accepted at the limits: the program registers them without a component refusing ---------------------

AT_THE_LIMITS = {
    "tags": lambda c: replaced(c, f"{NS}:tags", {f"tag{n}": "x" for n in range(AWS_TAGS_MAX - SECRET_OWN_TAGS_MAX)}),
    "plain-variable": lambda c: edited(c, APP, environment={"DB_HOST_LABEL": "primary"}),
    "principals": lambda c: edited(c, AUDIT, expectedSecretPrincipals=principals(1)),
    "engine-minor": lambda c: edited(c, DB, engineVersion="16.11", instanceClass="db.m7g.large"),
    "lifecycle": lambda c: nested(c, AUDIT, "bucketLifecycle", expirationDays=2**31 - 1),
}


@pytest.mark.parametrize("variant", sorted(AT_THE_LIMITS))
def test_values_at_the_limits_build_the_stack(variant: str):
    recording = record_config(AT_THE_LIMITS[variant](shipped_config("dev")), "dev")
    assert recording.of_type("aws:secretsmanager/secret:Secret")


@pytest.mark.parametrize("stack", STACK_FILES)
def test_secrets_carry_no_more_own_tags_than_settings_count(stack: str):
    """SECRET_OWN_TAGS_MAX is what settings add to securestack:tags against AWS's 50: the recorded stacks' most
    tagged secret (its tags and the provider's default tags) carries no more."""
    extra = section(shipped_config(stack), f"{NS}:tags")
    most = max(len(set(secret.inputs.get("tags") or {}) - set(extra))
               for secret in shipped_recording(stack).of_type("aws:secretsmanager/secret:Secret"))
    assert most == SECRET_OWN_TAGS_MAX


@pytest.mark.parametrize("stack", STACK_FILES)
def test_settings_compute_the_metric_filter_pattern_the_program_builds(stack: str):
    recording = shipped_recording(stack)
    (recorded,) = [f.inputs["pattern"] for f in recording.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
                   if f.name.endswith("unexpected-principal-filter")]
    settings = build_settings(shipped_config(stack), stack)
    master_secret = recording.one("aws:rds/instance:Instance").outputs["masterUserSecrets"][0]["secretArn"]
    computed = unexpected_principal_pattern(
        settings.environment, "aws", settings.region, settings.allowed_account_ids[0],
        settings.app.name if settings.app.enabled else None,
        # the operators of vendor-issued values come after the consumers, as the program lists them
        [c.role_arn for c in settings.secrets.consumers.values()] + list(settings.secrets.operators),
        list(settings.audit.expected_secret_principals),
        master_secret_arn=master_secret)
    assert computed == recorded


def test_the_rds_catalog_is_less_than_a_year_old():
    assert date.today() - rds_catalog.AS_OF < timedelta(days=365), (
        f"infra/settings/rds_catalog.py is as of {rds_catalog.AS_OF}: re-check its versions and classes against "
        "`aws rds describe-orderable-db-instance-options --engine postgres` and move AS_OF")


def test_the_shipped_stacks_use_catalogued_values():
    for stack in STACK_FILES:
        database = build_settings(shipped_config(stack), stack).database
        assert database.instance_class in rds_catalog.INSTANCE_CLASSES
        assert database.engine_version in rds_catalog.engine_versions()


# -- the stack file ------------------------------------------------------------------------------------------

def project_with(tmp_path: Path, name: str, text: str) -> Path:
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / f"Pulumi.{name}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_duplicate_key_names_its_line(tmp_path: Path):
    root = project_with(tmp_path, "twice", "config:\n  aws:region: us-east-1\n  securestack:database:\n"
                                           "    multiAz: true\n  securestack:database:\n    multiAz: false\n")
    with pytest.raises(StackConfigError, match=r"line 5, column 3: duplicate key 'securestack:database' "
                                               r"\(first at line 3\)"):
        read_stack_config("twice", root=root)


def test_a_duplicate_nested_key_names_its_line(tmp_path: Path):
    root = project_with(tmp_path, "twice", "config:\n  securestack:database:\n    multiAz: true\n"
                                           "    deletionProtection: true\n    multiAz: false\n")
    with pytest.raises(StackConfigError, match=r"line 5, column 5: duplicate key 'multiAz' \(first at line 3\)"):
        read_stack_config("twice", root=root)


def test_an_unknown_top_level_key_is_named_with_the_known_one(tmp_path: Path):
    text = (REPO / "Pulumi.dev.yaml").read_text(encoding="utf-8").replace("\nconfig:", "\nconfg:")
    root = project_with(tmp_path, "typo", text)
    with pytest.raises(StackConfigError) as raised:
        read_stack_config("typo", root=root)
    assert "line 2: unknown top-level key 'confg'; did you mean 'config'?" in str(raised.value)


# -- a new environment copied from dev -----------------------------------------------------------------------

@pytest.fixture
def staging_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project as a user has it after `cp Pulumi.dev.yaml Pulumi.staging.yaml` (run from there, as the CLIs)."""
    for name in ("Pulumi.yaml", *(f"Pulumi.{stack}.yaml" for stack in STACK_FILES)):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copy(REPO / "Pulumi.dev.yaml", tmp_path / "Pulumi.staging.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_copy_of_dev_names_the_keys_that_still_name_dev(staging_project: Path):
    stack_config = read_stack_config("staging", root=staging_project)
    with pytest.raises(SettingsError) as raised:
        run_stack(stack_config)
    consumers = section(shipped_config("dev"), SECRETS)["consumers"]
    assert keys(raised.value.problems) == [*(f"{SECRETS}.consumers.{name}.roleArn" for name in consumers),
                                           f"{SECRETS}.operators[0]"]
    assert all("names environment dev in the 'staging' stack" in p for p in raised.value.problems)


def test_a_copy_of_dev_in_another_account_names_every_key_of_the_old_account(staging_project: Path):
    text = (staging_project / "Pulumi.staging.yaml").read_text(encoding="utf-8")
    text = text.replace(f'["{DEV_ACCOUNT}"]', f'["{OTHER_ACCOUNT}"]').replace("securestack-dev-", "securestack-staging-")
    (staging_project / "Pulumi.staging.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as raised:
        run_stack(read_stack_config("staging", root=staging_project))
    consumers = section(shipped_config("dev"), SECRETS)["consumers"]
    assert keys(raised.value.problems) == [f"{LB}.certificateArn",
                                           *(f"{SECRETS}.consumers.{name}.roleArn" for name in consumers),
                                           f"{SECRETS}.operators", f"{APP}.image"]


def test_a_copy_of_dev_with_its_names_fixed_previews_clean(staging_project: Path):
    path = staging_project / "Pulumi.staging.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("securestack-dev-", "securestack-staging-"),
                    encoding="utf-8")
    stack_config = read_stack_config("staging", root=staging_project)
    violations = policy_report(run_stack(stack_config), stack_config)
    assert [v for v in violations if v["enforcementLevel"] == "mandatory"] == []


def test_lifecycle_days_of_1e11_in_a_stack_file_are_refused(tmp_path: Path):
    """Written as YAML has it: go-yaml (the Pulumi CLI) reads `1e11` as a number, PyYAML as text; neither is
    accepted as days."""
    text = (REPO / "Pulumi.dev.yaml").read_text(encoding="utf-8").replace("expirationDays: 365",
                                                                          "expirationDays: 1e11")
    stack_config = read_stack_config("big", root=project_with(tmp_path, "big", text))
    assert keys(problems(stack_config.config, "dev")) == [f"{AUDIT}.bucketLifecycle.expirationDays"]


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.id)
def test_the_program_stops_at_settings_before_any_component_sees_the_value(case: Refused, monkeypatch):
    """Each refused value used to reach a component (ArgsError/ValueError after 113-164 registrations) or AWS:
    the program now raises SettingsError before anything is registered."""
    from tests.test_settings import registrations_of_failing_run

    error, registered = registrations_of_failing_run(case.change(shipped_config(case.stack)), case.stack,
                                                     monkeypatch)
    assert case.key in keys(error.problems)
    assert registered == []
