"""Contract 13 for Network, EnvironmentKeys, EncryptedPostgres, DatabaseBackupPlan and AccessLogBucket: each is
built from its own Args alone (no stack settings) on the mock engine, its defaults are the secure ones, a bad field
is one ArgsError line naming `<Args>.<field>`, and the dict the component provider hands over gives the same
resources as the dataclass.

Every assertion reads what the engine would receive (recorded inputs and options).
"""
import ast
import json
from dataclasses import fields, is_dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Callable

import pulumi
import pulumi_aws as aws
import pytest

from securestack.components.access_logs import AccessLogBucket, AccessLogBucketArgs
from securestack.components.args import ArgsError
from securestack.components.backup import DatabaseBackupPlan, DatabaseBackupPlanArgs
from securestack.components.database import (EncryptedPostgres, EncryptedPostgresArgs, LogStatement,
                                             PointInTimeRestore)
from securestack.components.keys import EnvironmentKeys, EnvironmentKeysArgs, KeyPolicyStatements
from securestack.components.network import DEFAULT_INTERFACE_ENDPOINTS, ExistingVpc, Network, NetworkArgs
from securestack.infra.endpoints import BASELINE_INTERFACE_ENDPOINTS
from securestack.infra.recording import Recording, record
from tests.support.stacks import policy_statements

COMPONENTS_DIR = Path(__file__).resolve().parents[1] / "components"
CORE_MODULES = ("network.py", "keys.py", "database.py", "backup.py", "access_logs.py")
CONFIG = {"aws:region": "us-east-1", "aws:allowedAccountIds": '["111111111111"]'}
DATA_KEY = "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000001"
LOGS_KEY = "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000002"
SOURCE_KEY = "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000003"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
DATABASE_ARN = "arn:aws:rds:us-east-1:111111111111:db:securestack-team-postgres"
EXISTING_VPC = {"vpc_id": "vpc-0a1b2c3d4e5f60718", "cidr_block": "10.40.0.0/16",
                "public_subnet_ids": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
                "private_subnet_ids": ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012"],
                "private_route_table_ids": ["rtb-0a1b2c3d4e5f60021"]}
INSTANCE, PARAMETER_GROUP = "aws:rds/instance:Instance", "aws:rds/parameterGroup:ParameterGroup"
ENDPOINT, LOG_GROUP, KMS_KEY = "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:cloudwatch/logGroup:LogGroup", "aws:kms/key:Key"


def on_mock_engine(build: Callable[[pulumi.ResourceOptions], Any]) -> Recording:
    """`build(opts)` alone in a program with one AWS provider: no stack program, no settings."""
    def program() -> None:
        build(pulumi.ResourceOptions(providers=[aws.Provider("aws", region="us-east-1")]))
    return record(program, stack="team", config=CONFIG)


def as_provider_dict(args: Any) -> Any:
    """What the component provider hands the constructor: Python field names, nested types as dicts (enums it has
    already turned back into members: ComponentProvider.map_input_properties)."""
    if is_dataclass(args):
        return {f.name: as_provider_dict(getattr(args, f.name)) for f in fields(args)}
    if isinstance(args, list):
        return [as_provider_dict(item) for item in args]
    if isinstance(args, dict):
        return {key: as_provider_dict(value) for key, value in args.items()}
    return args


def engine_view(recording: Recording) -> list[dict]:
    """The resources as the engine receives them, in a stable order: registration is concurrent, so neither the
    resources nor the urns in a dependency list come in a fixed order (two runs of the same program differ)."""
    return sorted((urns_sorted(resource.to_json()) for resource in recording.resources), key=lambda r: r["urn"])


def urns_sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: urns_sorted(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [urns_sorted(item) for item in value]
        return sorted(items) if all(isinstance(i, str) and i.startswith("urn:") for i in items) else items
    return value


# -- the five components from their own Args ------------------------------------------------------------------

def keys_args() -> EnvironmentKeysArgs:
    trail_may_encrypt = json.dumps({"Sid": "CloudTrailEncrypts", "Effect": "Allow",
                                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                                    "Action": "kms:GenerateDataKey*", "Resource": "*"})
    return EnvironmentKeysArgs(environment="team", extra_statements=KeyPolicyStatements(logs=[trail_may_encrypt]))


def network_args() -> NetworkArgs:
    return NetworkArgs(environment="team", logs_key_arn=LOGS_KEY)


def database_args() -> EncryptedPostgresArgs:
    return EncryptedPostgresArgs(environment="team", vpc_id="vpc-0123456789abcdef0", private_subnet_ids=SUBNETS,
                                 data_key_arn=DATA_KEY, logs_key_arn=LOGS_KEY)


def backup_args() -> DatabaseBackupPlanArgs:
    return DatabaseBackupPlanArgs(environment="team", database_arn=DATABASE_ARN, data_key_arn=DATA_KEY,
                                  copy_region="us-west-2")


def access_log_args() -> AccessLogBucketArgs:
    return AccessLogBucketArgs(environment="team")


BUILDERS = {
    "EnvironmentKeys": (EnvironmentKeys, keys_args),
    "Network": (Network, network_args),
    "EncryptedPostgres": (EncryptedPostgres, database_args),
    "DatabaseBackupPlan": (DatabaseBackupPlan, backup_args),
    "AccessLogBucket": (AccessLogBucket, access_log_args),
}


def recorded(component: str, args: Any = None) -> Recording:
    cls, default_args = BUILDERS[component]
    given = default_args() if args is None else args
    return on_mock_engine(lambda opts: cls(component.lower(), given, opts))


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def component(request) -> str:
    return request.param


def test_each_component_registers_under_its_index_token_as_the_parent_of_what_it_creates(component):
    recording = recorded(component)
    (registered,) = [r for r in recording.resources if r.type == f"securestack:index:{component}"]
    created = [r for r in recording.resources if r is not registered and not r.type.startswith("pulumi:")]
    assert created and all(r.parent == registered.urn for r in created)


def test_a_provider_dict_gives_the_same_resources_as_the_dataclass(component):
    cls, default_args = BUILDERS[component]
    from_dataclass = recorded(component)
    from_dict = recorded(component, as_provider_dict(default_args()))
    assert engine_view(from_dict) == engine_view(from_dataclass)
    assert len(from_dataclass.resources) > 2


def test_a_network_with_an_existing_vpc_from_a_dict_matches_the_dataclass():
    from_dataclass = recorded("Network", NetworkArgs(environment="team", logs_key_arn=LOGS_KEY,
                                                     existing_vpc=ExistingVpc(**EXISTING_VPC)))
    from_dict = recorded("Network", {"environment": "team", "logs_key_arn": LOGS_KEY, "existing_vpc": EXISTING_VPC})
    assert engine_view(from_dict) == engine_view(from_dataclass)
    assert not from_dataclass.of_type("aws:ec2/vpc:Vpc")


# -- secure defaults ---------------------------------------------------------------------------------------------

def test_a_default_database_is_protected_encrypted_with_the_given_key_and_recoverable():
    recording = recorded("EncryptedPostgres")
    instance = recording.one(INSTANCE)
    inputs = instance.inputs
    assert inputs["deletionProtection"] is True and inputs["skipFinalSnapshot"] is False
    assert inputs["backupRetentionPeriod"] == 35
    assert inputs["storageEncrypted"] is True and inputs["kmsKeyId"] == DATA_KEY
    assert inputs["performanceInsightsKmsKeyId"] == DATA_KEY and inputs["masterUserSecretKmsKeyId"] == DATA_KEY
    assert inputs["multiAz"] is True and inputs["publiclyAccessible"] is False
    assert inputs["iamDatabaseAuthenticationEnabled"] is True and inputs["deleteAutomatedBackups"] is False
    assert inputs["username"] == "securestack_admin" and inputs["identifier"] == "securestack-team-postgres"
    assert instance.options.get("protect") is True
    parameters = {p["name"]: p["value"] for p in recording.one(PARAMETER_GROUP).inputs["parameters"]}
    assert parameters["rds.force_ssl"] == "1" and parameters["ssl_min_protocol_version"] == "TLSv1.2"
    assert parameters["log_statement"] == "ddl"
    assert {g.inputs["retentionInDays"] for g in recording.of_type(LOG_GROUP)} == {365}
    assert {g.inputs["kmsKeyId"] for g in recording.of_type(LOG_GROUP)} == {LOGS_KEY}


def test_a_restored_database_keeps_its_sources_key_and_ignores_restore_inputs_once_created():
    restore_time = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    args = database_args()
    args.restore = PointInTimeRestore(source_db_instance_identifier="securestack-prod-postgres",
                                      source_kms_key_arn=SOURCE_KEY, restore_time=restore_time)
    instance = recorded("EncryptedPostgres", args).one(INSTANCE)
    assert instance.inputs["restoreToPointInTime"] == {"sourceDbInstanceIdentifier": "securestack-prod-postgres",
                                                       "restoreTime": restore_time}
    assert instance.inputs["kmsKeyId"] == SOURCE_KEY and "dbName" not in instance.inputs
    assert set(instance.options["ignoreChanges"]) == {"restoreToPointInTime", "kmsKeyId", "dbName", "username"}


def test_default_keys_rotate_yearly_wait_the_longest_and_protect_themselves():
    recording = recorded("EnvironmentKeys")
    keys = recording.of_type(KMS_KEY)
    assert len(keys) == 3
    for key in keys:
        assert key.inputs["enableKeyRotation"] is True and key.inputs["rotationPeriodInDays"] == 365
        assert key.inputs["deletionWindowInDays"] == 30 and key.inputs["bypassPolicyLockoutSafetyCheck"] is False
        assert key.options.get("protect") is True
    (logs_key,) = [k for k in keys if k.inputs["tags"]["securestack:key-purpose"] == "logs"]
    assert "CloudTrailEncrypts" in [s.get("Sid") for s in policy_statements(logs_key.inputs["policy"])]
    others = [k for k in keys if k is not logs_key]
    assert all("CloudTrailEncrypts" not in k.inputs["policy"] for k in others)


def test_a_default_network_spans_two_zones_with_the_baseline_endpoints_and_a_year_of_flow_logs():
    recording = recorded("Network")
    assert recording.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"] == "10.0.0.0/16"
    assert len(recording.of_type("aws:ec2/subnet:Subnet")) == 4
    services = {e.inputs["serviceName"].removeprefix("com.amazonaws.us-east-1."): e.inputs["vpcEndpointType"]
                for e in recording.of_type(ENDPOINT)}
    assert services == {**{s: "Interface" for s in DEFAULT_INTERFACE_ENDPOINTS}, "s3": "Gateway"}
    (flow_logs,) = recording.of_type(LOG_GROUP)
    assert flow_logs.inputs["retentionInDays"] == 365 and flow_logs.inputs["kmsKeyId"] == LOGS_KEY


def test_the_network_default_endpoints_are_the_stacks_baseline():
    assert DEFAULT_INTERFACE_ENDPOINTS == BASELINE_INTERFACE_ENDPOINTS


def test_a_default_backup_plan_runs_daily_keeps_35_days_and_copies_to_the_second_region():
    recording = recorded("DatabaseBackupPlan")
    (rule,) = recording.one("aws:backup/plan:Plan").inputs["rules"]
    assert rule["schedule"] == "cron(0 7 ? * * *)" and rule["lifecycle"] == {"deleteAfter": 35}
    assert rule["copyActions"][0]["lifecycle"] == {"deleteAfter": 35}
    vaults = recording.of_type("aws:backup/vault:Vault")
    assert {v.inputs.get("region") for v in vaults} == {None, "us-west-2"}
    assert all(v.options.get("protect") is True for v in vaults)
    assert recording.one("aws:backup/selection:Selection").inputs["resources"] == [DATABASE_ARN]


def test_a_default_access_log_bucket_is_protected_and_keeps_a_year():
    recording = recorded("AccessLogBucket")
    bucket = recording.one("aws:s3/bucket:Bucket")
    assert bucket.inputs["forceDestroy"] is False and bucket.options.get("protect") is True
    rules = recording.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert rules[0]["expiration"] == {"days": 365}


def test_production_defaults_on_and_asking_for_less_is_explicit():
    for args in (keys_args(), network_args(), database_args(), backup_args(), access_log_args()):
        if hasattr(args, "production"):
            assert args.production is True, type(args).__name__
    relaxed = database_args()
    relaxed.production = False
    assert recorded("EncryptedPostgres", relaxed).one(INSTANCE).options.get("protect") is False


# -- one line naming the field -----------------------------------------------------------------------------------

def future() -> str:
    return (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def restore(**changes: Any) -> dict:
    return {"source_db_instance_identifier": "securestack-prod-postgres", "source_kms_key_arn": SOURCE_KEY,
            "use_latest_restorable_time": True, **changes}


INVALID = [
    (EnvironmentKeysArgs, keys_args, {"environment": "Team_1"}, "EnvironmentKeysArgs.environment: "),
    (EnvironmentKeysArgs, keys_args, {"deletion_window_days": 45}, "EnvironmentKeysArgs.deletion_window_days: "),
    (EnvironmentKeysArgs, keys_args, {"tags": {"aws:owner": "x"}}, "EnvironmentKeysArgs.tags: "),
    (EnvironmentKeysArgs, keys_args, {"extra_statements": KeyPolicyStatements(data=["{not json"])},
     "EnvironmentKeysArgs.extra_statements.data[0]: "),
    (NetworkArgs, network_args, {"vpc_cidr": "8.8.0.0/16"}, "NetworkArgs.vpc_cidr: "),
    (NetworkArgs, network_args, {"vpc_cidr": "10.0.0.0/12"}, "NetworkArgs.vpc_cidr: "),
    (NetworkArgs, network_args, {"availability_zone_count": 1}, "NetworkArgs.availability_zone_count: "),
    (NetworkArgs, network_args, {"interface_endpoints": ["kms", "kms"]}, "NetworkArgs.interface_endpoints: "),
    (NetworkArgs, network_args, {"interface_endpoints": ["Secrets Manager"]}, "NetworkArgs.interface_endpoints: "),
    (NetworkArgs, network_args, {"flow_log_retention_days": 400_000}, "NetworkArgs.flow_log_retention_days: "),
    (EncryptedPostgresArgs, database_args, {"engine_version": "12"}, "EncryptedPostgresArgs.engine_version: "),
    (EncryptedPostgresArgs, database_args, {"instance_class": "db.t2.micro"}, "EncryptedPostgresArgs.instance_class: "),
    (EncryptedPostgresArgs, database_args, {"master_username": "postgres"}, "EncryptedPostgresArgs.master_username: "),
    (EncryptedPostgresArgs, database_args, {"database_name": "App-DB"}, "EncryptedPostgresArgs.database_name: "),
    (EncryptedPostgresArgs, database_args, {"backup_retention_days": 0},
     "EncryptedPostgresArgs.backup_retention_days: "),
    (EncryptedPostgresArgs, database_args, {"allocated_storage_gb": 200},
     "EncryptedPostgresArgs.max_allocated_storage_gb: "),
    (EncryptedPostgresArgs, database_args, {"backup_window": "03:00-03:10"}, "EncryptedPostgresArgs.backup_window: "),
    (EncryptedPostgresArgs, database_args, {"maintenance_window": "mon:03:00-mon:04:00"},
     "EncryptedPostgresArgs.maintenance_window: "),
    (EncryptedPostgresArgs, database_args, {"performance_insights_retention_days": 30},
     "EncryptedPostgresArgs.performance_insights_retention_days: "),
    (EncryptedPostgresArgs, database_args, {"monitoring_interval_seconds": 0},
     "EncryptedPostgresArgs.monitoring_interval_seconds: "),
    (EncryptedPostgresArgs, database_args, {"private_subnet_ids": SUBNETS[:1]},
     "EncryptedPostgresArgs.private_subnet_ids: "),
    (EncryptedPostgresArgs, database_args, {"log_statement": "everything"}, "EncryptedPostgresArgs.log_statement: "),
    (EncryptedPostgresArgs, database_args, {"restore": restore(restore_time=future(), use_latest_restorable_time=False)},
     "PointInTimeRestore.restore_time: "),
    (EncryptedPostgresArgs, database_args, {"restore": restore(restore_time="2026-01-01T00:00:00Z")},
     "PointInTimeRestore.restore_time: "),
    (EncryptedPostgresArgs, database_args, {"restore": restore(source_kms_key_arn="alias/prod-data")},
     "PointInTimeRestore.source_kms_key_arn: "),
    (DatabaseBackupPlanArgs, backup_args, {"copy_region": "west"}, "DatabaseBackupPlanArgs.copy_region: "),
    (DatabaseBackupPlanArgs, backup_args, {"schedule": "daily"}, "DatabaseBackupPlanArgs.schedule: "),
    (DatabaseBackupPlanArgs, backup_args, {"retention_days": 1}, "DatabaseBackupPlanArgs.retention_days: "),
    (AccessLogBucketArgs, access_log_args, {"expiration_days": 0}, "AccessLogBucketArgs.expiration_days: "),
    (AccessLogBucketArgs, access_log_args, {"environment": "a-very-long-environment"},
     "AccessLogBucketArgs.environment: "),
]


def invalid_id(case) -> str:
    return case[3].rstrip(": ") + "=" + repr(next(iter(case[2].values())))[:20]


@pytest.mark.parametrize("cls, valid, change, message", INVALID, ids=[invalid_id(case) for case in INVALID])
def test_a_bad_field_is_one_line_naming_it_from_python_and_from_the_provider(cls, valid, change, message):
    given = {**as_provider_dict(valid()), **change}
    with pytest.raises(ArgsError) as from_dict:
        component_of(cls)("bad", given)
    assert str(from_dict.value).startswith(message) and "\n" not in str(from_dict.value)
    with pytest.raises(ArgsError) as from_python:
        if "restore" in change:  # the nested type refuses itself, before the Args exist
            PointInTimeRestore(**change["restore"])
        else:
            cls(**{**{f.name: getattr(valid(), f.name) for f in fields(cls)}, **change})
    assert str(from_python.value) == str(from_dict.value)


def component_of(args_class: type) -> type:
    return {EnvironmentKeysArgs: EnvironmentKeys, NetworkArgs: Network, EncryptedPostgresArgs: EncryptedPostgres,
            DatabaseBackupPlanArgs: DatabaseBackupPlan, AccessLogBucketArgs: AccessLogBucket}[args_class]


@pytest.mark.parametrize("change, message", [
    ({"vpc_id": "vpc-nothex!"}, "ExistingVpc.vpc_id: "),
    ({"private_subnet_ids": ["subnet-0a1b2c3d4e5f60011"]}, "ExistingVpc.private_subnet_ids: "),
    ({"public_subnet_ids": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60001"]}, "ExistingVpc.public_subnet_ids: "),
    ({"private_route_table_ids": []}, "ExistingVpc.private_route_table_ids: "),
    ({"cidr_block": "10.40.0.0/33"}, "ExistingVpc.cidr_block: "),
])
def test_a_bad_existing_vpc_field_is_one_line_naming_it(change, message):
    with pytest.raises(ArgsError) as raised:
        ExistingVpc(**{**EXISTING_VPC, **change})
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_outputs_of_other_resources_are_not_judged_as_text():
    """An id given as an Output (another resource's) passes: only what is known here is checked."""
    vpc_id = pulumi.Output.from_input("vpc-0a1b2c3d4e5f60718")
    assert ExistingVpc(**{**EXISTING_VPC, "vpc_id": vpc_id}).vpc_id is vpc_id


# -- the library boundary and the shapes the schema analyzer reads -------------------------------------------------

@pytest.mark.parametrize("module", CORE_MODULES)
def test_component_module_imports_nothing_of_the_stack_and_keeps_annotations_evaluated(module):
    tree = ast.parse((COMPONENTS_DIR / module).read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)] + \
        [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if name.startswith(("securestack.infra", "infra", "pydantic"))]
    assert "__future__" not in imported


def test_the_schema_analyzer_describes_every_input_output_and_type():
    from pulumi.provider.experimental.analyzer import Analyzer

    analyzed = Analyzer("securestack").analyze([cls for cls, _ in BUILDERS.values()])
    for name, component in analyzed["component_definitions"].items():
        assert component.description, name
        undescribed = [k for k, p in {**component.inputs, **component.outputs}.items() if not p.description]
        assert undescribed == [], name
    for name, type_def in analyzed["type_definitions"].items():
        assert type_def.description, name
        assert all(p.description for p in type_def.properties.values()), name
        assert all(member.description for member in type_def.enum or []), name
    outputs = {name: set(c.outputs) for name, c in analyzed["component_definitions"].items()}
    assert outputs["EncryptedPostgres"] == {"endpoint", "address", "port", "arn", "securityGroupId",
                                            "masterSecretArn"}
    assert outputs["Network"] == {"vpcId", "vpcCidr", "publicSubnetIds", "privateSubnetIds",
                                  "endpointSecurityGroupId"}
    assert analyzed["type_definitions"]["LogStatement"].enum and issubclass(LogStatement, Enum)
