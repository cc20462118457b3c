"""RotationFunction: deterministic packaging of lambdas/<kind>/, and the function, role, network and permission
both shipped stacks send to the engine."""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import botocore.session
import pytest

from securestack.components.code_signing import LAMBDA_SIGNING_PLATFORM, profile_name_prefix, unsigned_object_key
from securestack.components.rotation import (ARCHITECTURE, CACHE_DIR_VARIABLE, LAMBDA_RUNTIME_DISTRIBUTIONS,
                                             LAMBDAS_ROOT, REDEPLOY_FAILURE_PATTERN, RUNTIME, ArchiveCacheError, archive_cache_dir, build_archive,
                                             distribution_closure, vendored_names)
from securestack.infra.settings import SettingsError, build_settings
from securestack.policy.policies.support import secret_looking
from tests.support.shipped_fixtures import key_arn, recording, settings, stack  # noqa: F401 (fixtures)
from tests.support.stacks import by_output_id, edited, policy_statements, record_config, shipped_config

KINDS = ("api_key_rotation", "webhook_secret_rotation", "postgres_user_rotation")
FUNCTION, ROLE, ROLE_POLICY = "aws:lambda/function:Function", "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"
PERMISSION, LOG_GROUP = "aws:lambda/permission:Permission", "aws:cloudwatch/logGroup:LogGroup"
SECURITY_GROUP, INGRESS_RULE = "aws:ec2/securityGroup:SecurityGroup", \
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ROTATOR_ACTIONS = {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                   "secretsmanager:UpdateSecretVersionStage"}
# AWS Lambda runtime deprecation dates (Lambda developer guide, "Supported runtimes"); botocore lists every
# runtime ever accepted, so its enum alone does not say a runtime is still supported.
PYTHON_DEPRECATION = {"python3.9": datetime.date(2025, 12, 15), "python3.10": datetime.date(2026, 6, 30),
                      "python3.11": datetime.date(2026, 6, 30), "python3.12": datetime.date(2028, 10, 31),
                      "python3.13": datetime.date(2029, 6, 30)}
KMS_KEY, BUCKET_OBJECT = "aws:kms/key:Key", "aws:s3/bucketObjectv2:BucketObjectv2"
SIGNING_PROFILE, SIGNING_JOB = "aws:signer/signingProfile:SigningProfile", "aws:signer/signingJob:SigningJob"
CODE_SIGNING_CONFIG = "aws:lambda/codeSigningConfig:CodeSigningConfig"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
# pg8000 and what it needs that the Lambda runtime lacks (python-dateutil and six come with the runtime's boto3).
VENDORED_TOP_LEVEL = {"pg8000", "scramp", "asn1crypto"}


# ---------------------------------------------------------------------------------------------------------------
# Packaging
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict:
    build = tmp_path_factory.mktemp("build")
    return {kind: build_archive(kind, cache_dir=build) for kind in KINDS}


@pytest.fixture
def lambdas_copy(tmp_path) -> Path:
    copy = tmp_path / "lambdas"
    shutil.copytree(LAMBDAS_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_archive_hash_is_stable_across_builds(tmp_path, archives):
    for kind in KINDS:
        again = build_archive(kind, cache_dir=tmp_path / "again")
        assert again.sha256 == archives[kind].sha256
        assert again.path.read_bytes() == archives[kind].path.read_bytes()
        assert again.path.name == f"{kind}-{again.sha256}.zip"  # keyed by content: same source, same file


def test_archive_ignores_timestamps_permissions_and_bytecode(tmp_path, lambdas_copy, archives):
    handler = lambdas_copy / "api_key_rotation" / "handler.py"
    os.utime(handler, (0, 1_000_000_000))
    handler.chmod(0o755)
    (lambdas_copy / "rotation_common" / "__pycache__").mkdir()
    (lambdas_copy / "rotation_common" / "__pycache__" / "protocol.cpython-313.pyc").write_bytes(b"\0")
    rebuilt = build_archive("api_key_rotation", lambdas_root=lambdas_copy, cache_dir=tmp_path / "b")
    assert rebuilt.sha256 == archives["api_key_rotation"].sha256


def test_archive_hash_changes_with_one_source_byte(tmp_path, lambdas_copy, archives):
    common = lambdas_copy / "rotation_common" / "values.py"
    common.write_bytes(common.read_bytes() + b"\n")
    for kind in KINDS:  # the shared package is in every kind's archive
        changed = build_archive(kind, lambdas_root=lambdas_copy, cache_dir=tmp_path / "changed")
        assert changed.sha256 != archives[kind].sha256, kind


def test_zip_entries_are_sorted_with_fixed_times_and_modes(archives):
    for archive in archives.values():
        with zipfile.ZipFile(archive.path) as package:
            infos = package.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names) and len(names) == len(set(names))
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.external_attr >> 16 for info in infos} == {0o100644}


def top_level(entries) -> set[str]:
    return {entry.split("/", 1)[0] for entry in entries}


def test_archive_holds_only_what_its_kind_imports(archives):
    for kind in ("api_key_rotation", "webhook_secret_rotation"):
        assert top_level(archives[kind].entries) == {"handler.py", "rotation_common"}
    postgres = top_level(archives["postgres_user_rotation"].entries)
    distributions = {entry for entry in postgres if entry.endswith(".dist-info")}
    assert postgres - distributions == {"handler.py", "database.py", "rds-global-bundle.pem", "rotation_common",
                                        *VENDORED_TOP_LEVEL}
    assert {d.split("-")[0].lower() for d in distributions} == {"pg8000", "scramp", "asn1crypto"}
    for archive in archives.values():
        for entry in archive.entries:
            parts = entry.split("/")
            assert "__pycache__" not in parts and not entry.endswith((".pyc", ".pyo")), entry
            assert "tests" not in parts and "test" not in parts[:-1], entry
            assert not any(other in parts[0] for other in KINDS), f"another kind's file {entry}"
            assert parts[-1] not in ("VENDOR", "RECORD", "INSTALLER", "direct_url.json"), entry


def test_vendored_closure_follows_installed_dependencies():
    names = {d.metadata["Name"].lower() for d in distribution_closure(vendored_names(LAMBDAS_ROOT /
                                                                                     "postgres_user_rotation"))}
    assert names == {"pg8000", "scramp", "asn1crypto"}  # pg8000's python-dateutil (and its six): the runtime's


def test_runtime_provided_distributions_are_boto3_and_its_install_closure():
    """The runtime carries "the AWS SDK for Python (Boto3) and its dependencies" (AWS Lambda Developer Guide): the
    list the archive leaves out is exactly boto3's closure as installed, so a new boto3 dependency is noticed."""
    import importlib.metadata

    from packaging.requirements import Requirement

    closure, pending = set(), ["boto3"]
    while pending:
        name = pending.pop().lower().replace("_", "-")
        if name not in closure:
            closure.add(name)
            pending += [Requirement(text).name for text in importlib.metadata.distribution(name).requires or []
                        if "extra ==" not in text]
    assert closure == LAMBDA_RUNTIME_DISTRIBUTIONS


@pytest.mark.parametrize("kind", KINDS)
def test_handler_imports_from_the_archive_alone(kind, archives, tmp_path):
    """Unpacked as Lambda does: the handler and everything but boto3 (the runtime's) comes from the archive."""
    from tests.lambdas.harness import isolated_python, lambda_runtime_tree

    archive_root, runtime_root = tmp_path / "task", lambda_runtime_tree(tmp_path / "runtime")
    with zipfile.ZipFile(archives[kind].path) as package:
        package.extractall(archive_root)
    # No site-packages: what is neither in the archive nor among the runtime's packages fails to import.
    probe = (f"import sys, handler; assert callable(handler.lambda_handler); "
             f"roots = ({str(archive_root)!r}, {str(runtime_root)!r}, sys.base_prefix); "
             f"print(sorted(n for n, m in sys.modules.items() "
             f"if getattr(m, '__file__', None) and not m.__file__.startswith(roots)))")
    result = isolated_python(archive_root, runtime_root, probe)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", f"imported from outside the archive and the runtime: {result.stdout}"


def test_runtime_is_current_and_known_to_the_lambda_api():
    runtimes = botocore.session.get_session().get_service_model("lambda").shape_for("Runtime").enum
    assert RUNTIME in runtimes
    assert PYTHON_DEPRECATION[RUNTIME] - datetime.date.today() > datetime.timedelta(days=365)
    assert ARCHITECTURE in botocore.session.get_session().get_service_model("lambda").shape_for("Architecture").enum


def test_default_cache_is_the_users_cache_outside_the_package(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert archive_cache_dir() == tmp_path / "xdg" / "securestack" / "lambda"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec: a relative path is ignored
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert archive_cache_dir() == tmp_path / "home" / ".cache" / "securestack" / "lambda"
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path / "chosen"))
    archive = build_archive("webhook_secret_rotation")
    assert archive.path.parent == tmp_path / "chosen" / "lambda" and archive.path.is_file()
    package = LAMBDAS_ROOT.parent
    assert package not in archive.path.parents


def test_the_stack_uploads_archives_from_the_cache_never_from_the_package(recording):
    for upload in recording.of_type(BUCKET_OBJECT):
        path = Path(upload.inputs["source"]["path"])
        assert path.parent == archive_cache_dir() and LAMBDAS_ROOT.parent not in path.parents, path


def test_a_cache_inside_the_package_is_refused_in_one_line(monkeypatch):
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(LAMBDAS_ROOT))
    with pytest.raises(ArchiveCacheError) as refused:
        build_archive("api_key_rotation")
    assert str(refused.value).startswith(f"{CACHE_DIR_VARIABLE}: ") and "\n" not in str(refused.value)


def test_an_unwritable_cache_is_one_line_naming_the_variable(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(blocker))
    with pytest.raises(ArchiveCacheError) as refused:
        build_archive("api_key_rotation")
    message = str(refused.value)
    assert CACHE_DIR_VARIABLE in message and str(blocker) in message and "\n" not in message


def test_a_tampered_cached_archive_is_rewritten(tmp_path, archives):
    first = build_archive("api_key_rotation", cache_dir=tmp_path)
    first.path.write_bytes(b"not the archive")
    again = build_archive("api_key_rotation", cache_dir=tmp_path)
    assert again.path == first.path and again.path.read_bytes() == archives["api_key_rotation"].path.read_bytes()


# ---------------------------------------------------------------------------------------------------------------
# Mock engine, both shipped stacks
# ---------------------------------------------------------------------------------------------------------------

def function_of(recording, kind: str):
    return next(f for f in recording.of_type(FUNCTION) if f.inputs["name"].endswith(kind.replace("_", "-")))


def sibling(recording, function, type_: str, suffix: str):
    return next(r for r in recording.of_type(type_) if r.parent == function.parent and r.name.endswith(suffix))


def statements_by_sid(recording, function, suffix: str) -> dict:
    return {s["Sid"]: s for s in policy_statements(sibling(recording, function, ROLE_POLICY, suffix).inputs["policy"])}


def rotators(recording):
    """The rotation functions (tagged with their kind); the stack's other function is the secret age check."""
    return [f for f in recording.of_type(FUNCTION) if "securestack:rotator" in f.inputs["tags"]]


def test_one_function_per_kind_with_current_runtime(recording, settings):
    assert len(rotators(recording)) == len(KINDS)
    for kind in KINDS:
        function = function_of(recording, kind)
        inputs = function.inputs
        assert inputs["runtime"] == RUNTIME and inputs["handler"] == "handler.lambda_handler"
        assert len(inputs["name"]) <= 64 and inputs["name"] == f"securestack-{settings.environment}-" \
                                                              f"{kind.replace('_', '-')}"
        archive = Path(uploaded_object(recording, function).inputs["source"]["path"])
        assert archive.name.startswith(kind) and archive.exists()
        assert inputs["sourceCodeHash"] == base64.b64encode(hashlib.sha256(archive.read_bytes()).digest()).decode()
        assert "code" not in inputs  # never the local archive: Enforce would refuse it
        assert inputs["tracingConfig"] == {"mode": "Active"}
        # Issue 11 item 9: unreserved unless configured (a reservation fails on accounts with a low limit).
        assert settings.secrets.rotator_reserved_concurrency is None
        assert "reservedConcurrentExecutions" not in inputs


def test_reserved_concurrency_when_configured():
    config = edited(shipped_config("dev"), "securestack:secrets", rotatorReservedConcurrency=5)
    functions = rotators(record_config(config, "dev"))
    assert len(functions) == len(KINDS)
    assert all(function.inputs["reservedConcurrentExecutions"] == 5 for function in functions)


@pytest.mark.parametrize("value", [0, 101, "five"])
def test_invalid_reserved_concurrency_names_the_key(value):
    config = edited(shipped_config("dev"), "securestack:secrets", rotatorReservedConcurrency=value)
    with pytest.raises(SettingsError) as raised:
        build_settings(config, "dev")
    assert [p.split(": ", 1)[0] for p in raised.value.problems] == ["securestack:secrets.rotatorReservedConcurrency"]


def test_function_environment(recording, settings):
    for kind in KINDS:
        variables = function_of(recording, kind).inputs["environment"]["variables"]
        assert variables["SECRETS_MANAGER_ENDPOINT"] == f"https://secretsmanager.{settings.region}.amazonaws.com"
        assert variables["LOG_LEVEL"] == settings.secrets.rotator_log_level
        if kind == "postgres_user_rotation":
            assert variables["PG_CA_BUNDLE"] == "/var/task/rds-global-bundle.pem"
            assert "rds-global-bundle.pem" in build_archive(kind).entries
        else:
            assert "PG_CA_BUNDLE" not in variables


def test_environment_is_encrypted_with_the_secrets_key_lambda_may_use(recording):
    """Lambda encrypts the variables with the CMK and grants the execution role Decrypt on it, using the deploying
    principal's IAM permissions: the key policy must leave the key's use to IAM (account root statement)."""
    secrets_key = key_arn(recording, "secrets")
    key = next(k for k in recording.of_type(KMS_KEY) if k.outputs["arn"] == secrets_key)
    root = {s["Sid"]: s for s in policy_statements(key.inputs["policy"])}["AccountAdministersThroughIam"]
    assert root["Effect"] == "Allow" and root["Action"] == "kms:*" and root["Principal"]["AWS"].endswith(":root")
    for kind in KINDS:
        function = function_of(recording, kind)
        assert function.inputs["kmsKeyArn"] == secrets_key
        assert function.property_dependencies["kmsKeyArn"] == [key.urn]


def test_environment_holds_no_secret_values(recording):
    for kind in KINDS:
        variables = function_of(recording, kind).inputs["environment"]["variables"]
        assert set(variables) <= {"SECRETS_MANAGER_ENDPOINT", "LOG_LEVEL", "PG_CA_BUNDLE"}, sorted(variables)
        assert not any(secret_looking(name, value) for name, value in variables.items())


def test_logs_go_to_an_encrypted_log_group_created_first(recording, settings):
    logs_key = key_arn(recording, "logs")
    for kind in KINDS:
        function = function_of(recording, kind)
        group = sibling(recording, function, LOG_GROUP, "-logs")
        assert function.inputs["loggingConfig"]["logGroup"] == group.inputs["name"] == \
            f"/aws/lambda/{function.inputs['name']}"
        assert group.inputs["kmsKeyId"] == logs_key
        assert group.inputs["retentionInDays"] == settings.logs.retention_days
        assert group.urn in function.dependencies  # else Lambda makes its own, unencrypted and kept forever


def test_function_runs_in_private_subnets_with_egress_only_group(recording, settings):
    network = recording.one("securestack:index:Network")
    private = sorted(s.id for s in recording.of_type("aws:ec2/subnet:Subnet")
                     if s.parent == network.urn and "private" in s.name)
    database_group = recording.one(SECURITY_GROUP, "database-sg")
    vpc = recording.one("aws:ec2/vpc:Vpc")
    groups = by_output_id(recording, SECURITY_GROUP)
    for kind in KINDS:
        function = function_of(recording, kind)
        assert sorted(function.inputs["vpcConfig"]["subnetIds"]) == private
        [group_id] = function.inputs["vpcConfig"]["securityGroupIds"]
        group = groups[group_id].inputs
        assert not group.get("ingress")
        egress = {(rule["fromPort"], rule["toPort"]): rule for rule in group["egress"]}
        assert egress[(443, 443)]["cidrBlocks"] == [vpc.inputs["cidrBlock"]]
        if kind == "postgres_user_rotation":
            assert set(egress) == {(443, 443), (5432, 5432)}
            assert egress[(5432, 5432)]["securityGroups"] == [database_group.id]
            admitted = [r for r in recording.of_type(INGRESS_RULE)
                        if r.inputs["securityGroupId"] == database_group.id
                        and r.inputs["referencedSecurityGroupId"] == group_id]
            assert [(r.inputs["fromPort"], r.inputs["toPort"]) for r in admitted] == [(5432, 5432)]
        else:
            assert set(egress) == {(443, 443)}


def test_invoke_permission_is_bound_to_the_account(recording, settings):
    permissions = {p.inputs["function"]: p for p in recording.of_type(PERMISSION)}
    for kind in KINDS:
        permission = permissions[function_of(recording, kind).outputs["name"]]
        assert permission.inputs["principal"] == "secretsmanager.amazonaws.com"
        assert permission.inputs["action"] == "lambda:InvokeFunction"
        assert permission.inputs["sourceAccount"] == settings.allowed_account_ids[0]


def test_role_trusts_lambda_of_this_account_only(recording, settings):
    for kind in KINDS:
        function = function_of(recording, kind)
        role = next(r for r in recording.of_type(ROLE) if r.outputs["arn"] == function.inputs["role"])
        assert len(role.inputs["name"]) <= 64
        [trust] = policy_statements(role.inputs["assumeRolePolicy"])
        assert trust["Principal"] == {"Service": "lambda.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": settings.allowed_account_ids[0]}}


def test_secret_permissions_only_for_secrets_that_name_this_function(recording, settings):
    secrets_key = key_arn(recording, "secrets")
    paths = {"api_key_rotation": "api-keys", "webhook_secret_rotation": "webhooks",
             "postgres_user_rotation": "database"}
    for kind in KINDS:
        function = function_of(recording, kind)
        statements = statements_by_sid(recording, function, "-secrets")
        rotate = statements["RotateOnlySecretsThatNameThisFunction"]
        assert set(rotate["Action"]) == ROTATOR_ACTIONS
        assert rotate["Resource"].endswith(f":secret:securestack/{settings.environment}/{paths[kind]}/*")
        assert rotate["Condition"] == {"StringEquals": {
            "secretsmanager:resource/AllowRotationLambdaArn": function.outputs["arn"]}}
        key = statements["SecretsKeyThroughSecretsManager"]
        assert set(key["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"} and key["Resource"] == secrets_key
        assert key["Condition"] == {"StringEquals": {
            "kms:ViaService": f"secretsmanager.{settings.region}.amazonaws.com"}}


def test_postgres_rotator_reads_the_master_secret_with_the_data_key(recording):
    instance = recording.one("aws:rds/instance:Instance")
    statements = statements_by_sid(recording, function_of(recording, "postgres_user_rotation"), "-secrets")
    master = statements["ReadDatabaseMasterSecret"]
    assert master["Resource"] == instance.outputs["masterUserSecrets"][0]["secretArn"]
    assert set(master["Action"]) == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    assert statements["MasterSecretKeyThroughSecretsManager"]["Resource"] == instance.inputs["masterUserSecretKmsKeyId"]
    for kind in ("api_key_rotation", "webhook_secret_rotation"):
        assert "ReadDatabaseMasterSecret" not in statements_by_sid(recording, function_of(recording, kind), "-secrets")


REDEPLOYING_KINDS = ("postgres_user_rotation",)  # issue 12: only the injected database login forces a redeploy


def test_only_the_postgres_rotator_may_redeploy_exactly_the_app_service(recording):
    service_arn = recording.one("aws:ecs/service:Service").outputs["arn"]
    for kind in KINDS:
        statements = statements_by_sid(recording, function_of(recording, kind), "-secrets")
        if kind in REDEPLOYING_KINDS:
            redeploy = statements["RedeployTheConsumingService"]
            assert (redeploy["Action"], redeploy["Resource"]) == ("ecs:UpdateService", service_arn)
        else:
            assert not [s for s in statements.values() if "ecs:" in str(s["Action"])], kind


def test_api_key_rotator_maintains_the_verifier_records_of_its_environment_only(recording, settings):
    """Issue 12 item 2: PutSecretValue on securestack/<env>/api-key-verifiers/* (no rotation names the function
    there), bounded by the records' kind and environment tags; no other rotator may write them."""
    env = settings.environment
    for kind in KINDS:
        statements = statements_by_sid(recording, function_of(recording, kind), "-secrets")
        records = statements.get("MaintainVerifierRecordsOfThisEnvironment")
        if kind != "api_key_rotation":
            assert records is None and "api-key-verifiers" not in json.dumps(statements), kind
            continue
        assert set(records["Action"]) == {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                                          "secretsmanager:PutSecretValue"}
        assert re.fullmatch(rf"arn:aws:secretsmanager:{settings.region}:\d{{12}}:secret:securestack/{env}/"
                            r"api-key-verifiers/\*", records["Resource"])
        assert records["Condition"] == {"StringEquals": {"secretsmanager:ResourceTag/securestack:kind":
                                                         "api-key-verifier", "secretsmanager:ResourceTag/securestack:env": env}}


def test_key_and_webhook_rotators_may_clear_only_the_revoke_previous_tag(recording, settings):
    for kind, path in (("api_key_rotation", "api-keys"), ("webhook_secret_rotation", "webhooks")):
        function = function_of(recording, kind)
        untag = statements_by_sid(recording, function, "-secrets")["ClearRevokePreviousTag"]
        assert untag["Action"] == "secretsmanager:UntagResource"
        assert untag["Resource"].endswith(f":secret:securestack/{settings.environment}/{path}/*")
        assert untag["Condition"] == {
            "StringEquals": {"secretsmanager:resource/AllowRotationLambdaArn": function.outputs["arn"]},
            "ForAllValues:StringEquals": {"aws:TagKeys": ["securestack:revoke-previous"]}}
    postgres = statements_by_sid(recording, function_of(recording, "postgres_user_rotation"), "-secrets")
    assert "ClearRevokePreviousTag" not in postgres


# ---------------------------------------------------------------------------------------------------------------
# Code signing
# ---------------------------------------------------------------------------------------------------------------

def botocore_enum(service: str, shape: str) -> list[str]:
    return botocore.session.get_session().get_service_model(service).shape_for(shape).enum


def uploaded_object(recording, function):
    return sibling(recording, function, BUCKET_OBJECT, "-code-unsigned")


def signing_job(recording, function):
    return sibling(recording, function, SIGNING_JOB, "-code-signing")


def test_one_lambda_signing_profile_and_an_enforcing_config_allowing_only_it(recording):
    [profile] = recording.of_type(SIGNING_PROFILE)
    [config] = recording.of_type(CODE_SIGNING_CONFIG)
    assert profile.inputs["platformId"] == LAMBDA_SIGNING_PLATFORM == "AWSLambda-SHA384-ECDSA"
    # name_prefix, never a fixed name: a canceled profile's name cannot be reused (destroy, then up again).
    assert "name" not in profile.inputs and re.fullmatch(r"[0-9A-Za-z_]{1,38}", profile.inputs["namePrefix"])
    assert config.inputs["policies"] == {"untrustedArtifactOnDeployment": "Enforce"}
    assert "Enforce" in botocore_enum("lambda", "CodeSigningPolicy")
    assert config.inputs["allowedPublishers"] == {"signingProfileVersionArns": [profile.outputs["versionArn"]]}
    for kind in KINDS:
        function = function_of(recording, kind)
        assert function.inputs["codeSigningConfigArn"] == config.outputs["arn"]


def test_profile_name_fits_signer_for_the_longest_environment_name():
    """The provider appends a 26-character unique id to name_prefix (<= 38 chars); Signer takes [a-zA-Z0-9_]{2,64}."""
    longest = "a-b-c-d-e-fg"  # settings allow 12 characters, '-' between letters
    prefix = profile_name_prefix(longest)
    assert re.fullmatch(r"[0-9A-Za-z_]{1,38}", prefix) and len(prefix) + 26 <= 64
    assert botocore.session.get_session().get_service_model("signer").shape_for("ProfileName").metadata["max"] == 64


def test_function_deploys_the_object_its_signing_job_signed(recording):
    for kind in KINDS:
        function = function_of(recording, kind)
        job = signing_job(recording, function)
        [signed] = job.outputs["signedObjects"][0]["s3s"]
        assert (function.inputs["s3Bucket"], function.inputs["s3Key"]) == (signed["bucket"], signed["key"])
        assert function.property_dependencies["s3Key"] == [job.urn]
        assert signed["key"].startswith(f"signed/{kind}/")


def test_signing_job_signs_the_uploaded_version_and_fails_closed(recording):
    [profile] = recording.of_type(SIGNING_PROFILE)
    for kind in KINDS:
        function = function_of(recording, kind)
        upload, job = uploaded_object(recording, function), signing_job(recording, function)
        # Signer signs an object version (the source bucket must be versioned; StartSigningJob, Signer API).
        assert job.inputs["source"] == {"s3": {"bucket": upload.inputs["bucket"], "key": upload.inputs["key"],
                                               "version": upload.outputs["versionId"]}}
        assert job.property_dependencies["source"] == [upload.urn]
        assert job.inputs["profileName"] == profile.outputs["name"]
        assert job.inputs["destination"]["s3"] == {"bucket": upload.inputs["bucket"], "prefix": f"signed/{kind}/"}
        assert job.inputs["ignoreSigningJobFailure"] is False  # a failed signature fails `pulumi up`


def test_archive_is_uploaded_after_the_bucket_is_versioned_private_and_tls_only(recording):
    bucket = recording.one("aws:s3/bucket:Bucket", "rotator-code-signing-bucket")
    versioning = recording.one("aws:s3/bucketVersioning:BucketVersioning", "rotator-code-signing-bucket-versioning")
    policy = recording.one("aws:s3/bucketPolicy:BucketPolicy", "rotator-code-signing-bucket-policy")
    encryption = recording.one(ENCRYPTION, "rotator-code-signing-bucket-encryption")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    [rule] = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms",
                                                          "kmsMasterKeyId": key_arn(recording, "secrets")}
    [deny] = policy_statements(policy.inputs["policy"])
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for kind in KINDS:
        upload = uploaded_object(recording, function_of(recording, kind))
        assert upload.inputs["bucket"] == bucket.outputs["bucket"]
        assert (upload.inputs["serverSideEncryption"], upload.inputs["kmsKeyId"]) == ("aws:kms",
                                                                               key_arn(recording, "secrets"))
        assert policy.urn in upload.options["dependsOn"]  # the policy is set last: the bucket is versioned by then


def test_unchanged_source_is_the_same_object_and_a_changed_byte_a_new_one(recording, tmp_path, lambdas_copy):
    """Same source: same key and asset, so no new object version, no new signing job, no code update. One byte:
    a new key, so a new object version, a new (create-only) signing job and a new signed key for the function."""
    for kind in KINDS:
        upload = uploaded_object(recording, function_of(recording, kind))
        rebuilt = build_archive(kind, cache_dir=tmp_path / "again")
        assert upload.inputs["key"] == unsigned_object_key(kind, rebuilt.sha256) == f"unsigned/{kind}-{rebuilt.sha256}.zip"
        assert upload.inputs["sourceHash"] == rebuilt.sha256
        assert Path(upload.inputs["source"]["path"]).read_bytes() == rebuilt.path.read_bytes()
    handler = lambdas_copy / "api_key_rotation" / "handler.py"
    handler.write_bytes(handler.read_bytes() + b"\n")
    changed = build_archive("api_key_rotation", lambdas_root=lambdas_copy, cache_dir=tmp_path / "changed")
    assert unsigned_object_key("api_key_rotation", changed.sha256) != uploaded_object(
        recording, function_of(recording, "api_key_rotation")).inputs["key"]


@pytest.mark.records_fresh  # compares two recordings of the same stack
def test_a_second_recording_plans_no_change_to_code_objects_jobs_or_functions(stack, recording):
    again = record_config(shipped_config(stack), stack)
    for type_ in (BUCKET_OBJECT, SIGNING_JOB, FUNCTION, SIGNING_PROFILE, CODE_SIGNING_CONFIG):
        before = {r.urn: r.inputs for r in recording.of_type(type_)}
        assert before and before == {r.urn: r.inputs for r in again.of_type(type_)}, type_


def test_runtime_permissions_exist_before_the_function(recording, settings):
    for kind in KINDS:
        function = function_of(recording, kind)
        runtime = sibling(recording, function, ROLE_POLICY, "-runtime")
        assert runtime.urn in function.options["dependsOn"]
        statements = {s["Sid"]: s for s in policy_statements(runtime.inputs["policy"])}
        assert statements["OwnLogGroup"]["Resource"].endswith(f":log-group:/aws/lambda/{function.inputs['name']}:*")
        assert "ec2:CreateNetworkInterface" in statements["NetworkInterfacesInThisAccount"]["Action"]
        assert "xray:PutTraceSegments" in statements["DescribeNetworkAndTrace"]["Action"]


def test_each_rotator_alarms_on_the_audit_topic_when_the_redeployment_fails(recording, stack):
    """Issue 11 item 8: a filter on each rotator's log group counts its redeploy-failed line (the pattern is run
    against the rotator's real line in tests/lambdas/test_kind_specifics.py), and an alarm on that metric
    notifies the audit topic; README's audit table says what to do first."""
    topic_arn = recording.one("aws:sns/topic:Topic", "audit-alarms").outputs["arn"]
    filters = {f.inputs["logGroupName"]: f for f in recording.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")}
    alarms = {(a.inputs["namespace"], a.inputs["metricName"]): a
              for a in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    audit_table = readme.split("## Audit", 1)[1].split("\n## ", 1)[0]
    for kind in KINDS:
        function = function_of(recording, kind)
        if kind not in REDEPLOYING_KINDS:
            assert function.inputs["loggingConfig"]["logGroup"] not in filters, kind  # it redeploys nothing
            continue
        metric_filter = filters[function.inputs["loggingConfig"]["logGroup"]]
        assert metric_filter.inputs["pattern"] == REDEPLOY_FAILURE_PATTERN == '{ $.outcome = "redeploy-failed" }'
        transformation = metric_filter.inputs["metricTransformation"]
        alarm = alarms[(transformation["namespace"], transformation["name"])].inputs
        assert transformation["value"] == "1" and alarm["alarmActions"] == [topic_arn] and alarm["actionsEnabled"]
        assert (alarm["statistic"], alarm["comparisonOperator"], alarm["threshold"], alarm["period"],
                alarm["evaluationPeriods"], alarm["treatMissingData"]) == (
            "Sum", "GreaterThanOrEqualToThreshold", 1, 300, 1, "notBreaching")
        assert alarm["name"] == metric_filter.inputs["name"] == f"{function.inputs['name']}-redeploy-failures"
        description = alarm["alarmDescription"]
        assert description.startswith(f"[securestack {stack}] ") and " First: " in description
        assert f"`{alarm['name'].removeprefix(f'securestack-{stack}-')}`" in audit_table
