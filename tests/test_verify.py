"""`python -m infra.verify` against a moto server on 127.0.0.1 seeded like the deployed stack.

The seed mirrors the recorded resources of the shipped stacks (`infra.preview.run_stack`): the same identifiers,
KMS keys, backup retention, listeners, TLS policy, web ACL, secrets, rotation schedules and functions, created
with the boto3 calls `pulumi up` would make. The compliant environment passes every check; each variant breaks
one thing the way it breaks in a real account, and exactly its check fails, naming the resource.

What moto cannot model, and how it is handled:
- RDS: moto always reports LatestRestorableTime = now. The stale-restore variant makes moto's model report a
  time two hours back (the request still goes over HTTP through boto3); the judgement itself is also tested on a
  plain DescribeDBInstances answer.
- Lambda: moto runs no function code without Docker (its "simple" Lambda backend answers every invoke), so the
  rotator's finishSecret step (move AWSCURRENT to the new version) is done by the seed, as the real rotator would;
  Lambda's own CloudWatch metrics (Invocations / Errors) are put the way Lambda publishes them.
- Secrets Manager: moto fails RotateSecret with a function on a secret that has no version yet; the
  "no AWSCURRENT" variant therefore configures the schedule without a function (the check reads the stages only).
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

import boto3
import pytest

from securestack.infra import verify
from securestack.infra.recording import Recording, RecordedResource
from securestack.infra.settings import StackSettings
from tests.support.stacks import STACK_FILES, absent_stack, settings_of
from tests.support.stacks import shipped_recording as recording_of

from tests.support.moto_server import moto_url, reset_account  # noqa: F401 (moto_url: a fixture)

# boto3 clients are slow to build and hold no account state (moto reads MOTO_ACCOUNT_ID per request): shared.
_CLIENTS: dict[tuple[str, str, str], Any] = {}
_AWS: dict[tuple[str, str], verify.Aws] = {}


def shared_client(service: str, region: str, endpoint_url: str) -> Any:
    key = (service, region, endpoint_url)
    if key not in _CLIENTS:
        _CLIENTS[key] = boto3.client(service, region_name=region, endpoint_url=endpoint_url)
    return _CLIENTS[key]


# ---------------------------------------------------------------------------------------------------------------
# The moto server and its account
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture
def account(moto_url, monkeypatch):
    """A fresh moto account per test; boto3's standard chain (environment variables) points at it."""
    reset_account(moto_url)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_CONFIG_FILE": os.devnull,
                        "AWS_SHARED_CREDENTIALS_FILE": os.devnull}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    def use_stack_account(stack: str) -> None:
        settings = settings_of(stack)
        monkeypatch.setenv("MOTO_ACCOUNT_ID", settings.allowed_account_ids[0])
        monkeypatch.setenv("AWS_REGION", settings.region)
        monkeypatch.setenv("AWS_DEFAULT_REGION", settings.region)
    return use_stack_account


# ---------------------------------------------------------------------------------------------------------------
# Seeding moto from a recording
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Variant:
    """How one environment differs from the compliant one; the seed consults it where a real account would."""

    stack: str = "dev"
    database_key: str = "data"  # which of the stack's keys encrypts the database
    finish_rotations: bool = True
    secret_without_value: bool = False
    function_errored_last: bool = False
    after_seed: Optional[Callable[["Seeded"], None]] = None


@dataclass
class Seeded:
    """What the seed created, by role, and the stack outputs `pulumi stack output --json` would print for it."""

    clients: Callable[[str], Any]
    outputs: dict[str, Any]
    database_identifier: str = ""
    load_balancer_arn: str = ""
    http_listener_arn: str = ""
    https_listener_arn: str = ""
    target_group_arn: str = ""
    secret_arns: list[str] = field(default_factory=list)
    function_names: list[str] = field(default_factory=list)


class Seeder:
    def __init__(self, recording: Recording, settings: StackSettings, endpoint_url: str, variant: Variant):
        self.recording, self.settings, self.variant = recording, settings, variant
        self._endpoint_url = endpoint_url
        self.moto_ids: dict[str, str] = {}  # recorded (mock) id or ARN -> the one moto gave the same resource
        self.now = datetime.now(timezone.utc)

    def client(self, service: str) -> Any:
        return shared_client(service, self.settings.region, self._endpoint_url)

    def seed(self) -> Seeded:
        seeded = Seeded(clients=self.client, outputs={})
        self._keys()
        self._network()
        seeded.database_identifier = self._database()
        self._load_balancer(seeded)
        self._rotation_functions(seeded)
        self._secrets(seeded)
        seeded.outputs = self._outputs(seeded)
        if self.variant.after_seed:
            self.variant.after_seed(seeded)
        return seeded

    # -- the stack's own resources, from their recorded inputs ----------------------------------------------------

    def _keys(self) -> None:
        for key in self.recording.of_type("aws:kms/key:Key"):
            created = self.client("kms").create_key(Description=key.inputs.get("description", key.name),
                                                    Tags=_kms_tags(key.inputs.get("tags")))["KeyMetadata"]
            self.moto_ids[key.outputs["arn"]] = created["Arn"]

    def _network(self) -> None:
        ec2 = self.client("ec2")
        vpc = self.recording.one("aws:ec2/vpc:Vpc")
        vpc_id = ec2.create_vpc(CidrBlock=vpc.inputs["cidrBlock"])["Vpc"]["VpcId"]
        self.moto_ids[vpc.id] = vpc_id
        for subnet in self.recording.of_type("aws:ec2/subnet:Subnet"):
            created = ec2.create_subnet(VpcId=vpc_id, CidrBlock=subnet.inputs["cidrBlock"],
                                        AvailabilityZone=subnet.inputs["availabilityZone"])["Subnet"]
            self.moto_ids[subnet.id] = created["SubnetId"]
        for group in self.recording.of_type("aws:ec2/securityGroup:SecurityGroup"):
            created = ec2.create_security_group(GroupName=group.outputs.get("name") or group.name,
                                                Description=group.inputs.get("description", group.name),
                                                VpcId=vpc_id)
            self.moto_ids[group.id] = created["GroupId"]

    def _database(self) -> str:
        recorded = self.recording.one("aws:rds/instance:Instance").inputs
        key_arn = self._stack_key(self.variant.database_key)
        self.client("rds").create_db_instance(
            DBInstanceIdentifier=recorded["identifier"], Engine=recorded["engine"],
            EngineVersion=recorded["engineVersion"], DBInstanceClass=recorded["instanceClass"],
            AllocatedStorage=recorded["allocatedStorage"], StorageType=recorded["storageType"],
            StorageEncrypted=recorded["storageEncrypted"], KmsKeyId=key_arn,
            MasterUsername=recorded["username"], ManageMasterUserPassword=recorded["manageMasterUserPassword"],
            MasterUserSecretKmsKeyId=self._moto(recorded["masterUserSecretKmsKeyId"]), DBName=recorded["dbName"],
            Port=recorded["port"], PubliclyAccessible=recorded["publiclyAccessible"], MultiAZ=recorded["multiAz"],
            BackupRetentionPeriod=recorded["backupRetentionPeriod"], PreferredBackupWindow=recorded["backupWindow"],
            PreferredMaintenanceWindow=recorded["maintenanceWindow"],
            DeletionProtection=recorded["deletionProtection"],
            EnableIAMDatabaseAuthentication=recorded["iamDatabaseAuthenticationEnabled"],
            CopyTagsToSnapshot=recorded["copyTagsToSnapshot"],
            VpcSecurityGroupIds=[self._moto(g) for g in recorded["vpcSecurityGroupIds"]],
            Tags=[{"Key": k, "Value": v} for k, v in recorded["tags"].items()])
        return recorded["identifier"]

    def _stack_key(self, purpose: str) -> str:
        recorded = self.recording.stack_outputs["keys"][f"{purpose}KeyArn"]
        return self._moto(recorded)

    def _load_balancer(self, seeded: Seeded) -> None:
        balancers = self.recording.of_type("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
        if not balancers:
            return
        elbv2, recorded = self.client("elbv2"), balancers[0]
        created = elbv2.create_load_balancer(
            Name=recorded.outputs["name"], Subnets=[self._moto(s) for s in recorded.inputs["subnets"]],
            SecurityGroups=[self._moto(g) for g in recorded.inputs.get("securityGroups", [])],
            Scheme="internal" if recorded.inputs.get("internal") else "internet-facing",
            Type=recorded.inputs.get("loadBalancerType", "application"))["LoadBalancers"][0]
        seeded.load_balancer_arn = self.moto_ids[recorded.outputs["arn"]] = created["LoadBalancerArn"]
        self._target_groups()
        self._certificates()
        for listener in self.recording.of_type("aws:lb/listener:Listener", "aws:alb/listener:Listener"):
            self._listener(listener, seeded)
        self._web_acls()

    def _target_groups(self) -> None:
        for group in self.recording.of_type("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"):
            created = self.client("elbv2").create_target_group(
                Name=group.outputs["name"], Protocol=group.inputs["protocol"], Port=group.inputs["port"],
                VpcId=self._moto(group.inputs["vpcId"]), TargetType=group.inputs.get("targetType", "ip"))
            self.moto_ids[group.outputs["arn"]] = created["TargetGroups"][0]["TargetGroupArn"]

    def _certificates(self) -> None:
        """The HTTPS listener's certificate: an existing one (dev: certificateArn) or the stack's own."""
        certificate_arn = self.recording.stack_outputs.get("loadBalancer", {}).get("certificateArn")
        domain = self.settings.load_balancer.domain_name or "api.example.com"
        if certificate_arn:
            created = self.client("acm").request_certificate(DomainName=domain)["CertificateArn"]
            self.moto_ids[certificate_arn] = created

    def _listener(self, listener: RecordedResource, seeded: Seeded) -> None:
        inputs = listener.inputs
        arguments: dict[str, Any] = {
            "LoadBalancerArn": self._moto(inputs["loadBalancerArn"]), "Protocol": inputs["protocol"],
            "Port": inputs["port"], "DefaultActions": [_action(a, self._moto) for a in inputs["defaultActions"]]}
        if inputs.get("sslPolicy"):
            arguments["SslPolicy"] = inputs["sslPolicy"]
        if inputs.get("certificateArn"):
            arguments["Certificates"] = [{"CertificateArn": self._moto(inputs["certificateArn"])}]
        arn = self.client("elbv2").create_listener(**arguments)["Listeners"][0]["ListenerArn"]
        self.moto_ids[listener.outputs["arn"]] = arn
        if inputs["protocol"] == "HTTPS":
            seeded.https_listener_arn = arn
        else:
            seeded.http_listener_arn = arn

    def _web_acls(self) -> None:
        wafv2 = self.client("wafv2")
        for acl in self.recording.of_type("aws:wafv2/webAcl:WebAcl"):
            visibility = acl.inputs["visibilityConfig"]
            # Its rules (managed groups, rate limit) are the stack's business, not the live check's: not seeded.
            created = wafv2.create_web_acl(
                Name=acl.inputs["name"], Scope=acl.inputs["scope"],
                DefaultAction={k.capitalize(): v for k, v in acl.inputs["defaultAction"].items()}, Rules=[],
                VisibilityConfig={"SampledRequestsEnabled": visibility["sampledRequestsEnabled"],
                                  "CloudWatchMetricsEnabled": visibility["cloudwatchMetricsEnabled"],
                                  "MetricName": visibility["metricName"]})["Summary"]
            self.moto_ids[acl.outputs["arn"]] = created["ARN"]
        for association in self.recording.of_type("aws:wafv2/webAclAssociation:WebAclAssociation"):
            wafv2.associate_web_acl(WebACLArn=self._moto(association.inputs["webAclArn"]),
                                    ResourceArn=self._moto(association.inputs["resourceArn"]))

    # -- rotation: functions, secrets and their schedules ---------------------------------------------------------

    def _rotation_functions(self, seeded: Seeded) -> None:
        role = self.client("iam").create_role(
            RoleName=f"securestack-{self.recording.stack}-rotation",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        )["Role"]["Arn"]
        for function in self.recording.of_type("aws:lambda/function:Function"):
            if "securestack:rotator" not in function.inputs.get("tags", {}):
                continue  # the secret age function: no rotation function (its alarms watch it)
            inputs, name = function.inputs, function.outputs["name"]
            created = self.client("lambda").create_function(
                FunctionName=name, Runtime=inputs["runtime"], Handler=inputs["handler"], Role=role,
                Architectures=inputs.get("architectures", ["x86_64"]), Timeout=inputs.get("timeout", 3),
                MemorySize=inputs.get("memorySize", 128), Code={"ZipFile": _handler_zip()},
                Tags=inputs.get("tags", {}))
            self.moto_ids[function.outputs["arn"]] = created["FunctionArn"]
            seeded.function_names.append(name)
            self._lambda_metrics(name, errored_last=self.variant.function_errored_last
                                 and name == seeded.function_names[0])

    def _lambda_metrics(self, function: str, errored_last: bool) -> None:
        """What Lambda publishes: an errored run two days ago (already fixed), then the last rotation's four steps."""
        dimensions = [{"Name": "FunctionName", "Value": function}]
        earlier, last = self.now - timedelta(days=2), self.now - timedelta(minutes=3)
        data = [("Invocations", earlier, 4), ("Errors", earlier, 1),
                ("Invocations", last, 4), ("Errors", last, 1 if errored_last else 0)]
        self.client("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=[
            {"MetricName": name, "Dimensions": dimensions, "Timestamp": when, "Value": value, "Unit": "Count"}
            for name, when, value in data])

    def _secret_specs(self) -> list[dict[str, Any]]:
        rotations = {r.inputs.get("secretId"): r for r in self.recording.of_type(
            "aws:secretsmanager/secretRotation:SecretRotation")}
        return [_recorded_secret_spec(secret, rotations[secret.id])
                for secret in self.recording.of_type("aws:secretsmanager/secret:Secret") if secret.id in rotations]

    def _secrets(self, seeded: Seeded) -> None:
        secrets = self.client("secretsmanager")
        for index, spec in enumerate(self._secret_specs()):
            arn = secrets.create_secret(Name=spec["name"], KmsKeyId=self._stack_key("secrets"),
                                        Description=spec["description"],
                                        Tags=[{"Key": k, "Value": v} for k, v in spec["tags"].items()])["ARN"]
            self.moto_ids[spec["recorded_arn"]] = arn
            seeded.secret_arns.append(arn)
            rules = {"ScheduleExpression": spec["schedule"]} if spec["schedule"] else \
                {"AutomaticallyAfterDays": spec["rotation_days"]}
            if index == 0 and self.variant.secret_without_value:
                secrets.rotate_secret(SecretId=arn, RotationRules=rules)  # see the module docstring
                continue
            # The rotator's first run gave the secret its value; rotating again leaves it as AWS would.
            secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"value": os.urandom(8).hex()}))
            secrets.rotate_secret(SecretId=arn, RotationLambdaARN=self._moto(spec["function"]),
                                  RotationRules=rules, RotateImmediately=True)
            if self.variant.finish_rotations or index > 0:
                _finish_rotation(secrets, arn)
        self._vendor_secrets(secrets, seeded)

    def _vendor_secrets(self, secrets: Any, seeded: Seeded) -> None:
        """Issue 15: a vendor-issued secret (no rotation) as an operator left it: its value staged and promoted."""
        for secret in self.recording.of_type("aws:secretsmanager/secret:Secret"):
            tags = secret.inputs.get("tags") or {}
            if tags.get("securestack:issuer") != "vendor":
                continue
            arn = secrets.create_secret(Name=secret.inputs["name"], KmsKeyId=self._stack_key("secrets"),
                                        Description=secret.inputs.get("description", ""),
                                        Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["ARN"]
            self.moto_ids[secret.outputs["arn"]] = arn
            seeded.secret_arns.append(arn)
            # The first version of a secret gets AWSCURRENT (PutSecretValue), as an operator's first stage does.
            secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"key": "sk_test_" + os.urandom(8).hex()}))

    # -- the outputs ----------------------------------------------------------------------------------------------

    def _outputs(self, seeded: Seeded) -> dict[str, Any]:
        return _translated(self.recording.stack_outputs, self.moto_ids)

    def _moto(self, recorded: Any) -> Any:
        return self.moto_ids.get(recorded, recorded) if isinstance(recorded, str) else recorded


def _recorded_secret_spec(secret: RecordedResource, rotation: RecordedResource) -> dict[str, Any]:
    rules = rotation.inputs.get("rotationRules") or {}
    return {"name": secret.inputs["name"], "tags": secret.inputs.get("tags") or {},
            "description": secret.inputs.get("description", ""),
            "rotation_days": rules.get("automaticallyAfterDays"), "schedule": rules.get("scheduleExpression"),
            "function": rotation.inputs["rotationLambdaArn"], "recorded_arn": secret.outputs["arn"]}


def _finish_rotation(secrets: Any, arn: str) -> None:
    """The rotator's finishSecret: AWSCURRENT moves to the new version; Secrets Manager drops AWSPENDING."""
    stages = secrets.describe_secret(SecretId=arn)["VersionIdsToStages"]
    current = next(v for v, labels in stages.items() if "AWSCURRENT" in labels)
    pending = next(v for v, labels in stages.items() if "AWSPENDING" in labels)
    secrets.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=pending,
                                        RemoveFromVersionId=current)
    secrets.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=pending)


def _action(action: dict[str, Any], moto: Callable[[Any], Any]) -> dict[str, Any]:
    if action["type"] == "redirect":
        redirect = action["redirect"]
        return {"Type": "redirect", "RedirectConfig": {"Protocol": redirect["protocol"], "Port": redirect["port"],
                                                       "StatusCode": redirect["statusCode"]}}
    if action["type"] == "forward":
        return {"Type": "forward", "TargetGroupArn": moto(action["targetGroupArn"])}
    raise AssertionError(f"the seed does not know listener action {action['type']}")


def _kms_tags(tags: Optional[dict[str, str]]) -> list[dict[str, str]]:
    return [{"TagKey": k, "TagValue": v} for k, v in (tags or {}).items()]


def _translated(value: Any, moto_ids: dict[str, str]) -> Any:
    """The recorded outputs with every recorded id/ARN swapped for moto's: what `pulumi stack output` prints."""
    if isinstance(value, dict):
        return {k: _translated(v, moto_ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_translated(v, moto_ids) for v in value]
    return moto_ids.get(value, value) if isinstance(value, str) else value


def _handler_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return None\n")
    return buffer.getvalue()


# The export each group of checks reads; a stack that does not export it yet gets a visible skip instead.
CHECK_EXPORTS = {"database": "database", "load-balancer": "loadBalancer", "secret": "secrets",
                 "rotation-function": "rotationFunctions"}


def export_of(check: str) -> str:
    return CHECK_EXPORTS[check.split(".")[0]]


def skip_unless_exported(stack: str, check: str) -> None:
    if export_of(check) not in recording_of(stack).stack_outputs:
        pytest.skip(f"the {stack} stack program does not export {export_of(check)} (yet): {check} reports a skip")


def seed(stack: str, endpoint_url: str, variant: Optional[Variant] = None) -> Seeded:
    variant = variant or Variant(stack=stack)
    return Seeder(recording_of(stack), settings_of(stack), endpoint_url, variant).seed()


def run_verify(stack: str, seeded: Seeded, endpoint_url: str) -> list[verify.CheckResult]:
    settings = settings_of(stack)
    aws = _AWS.setdefault((settings.region, endpoint_url), verify.Aws(settings.region, endpoint_url))
    return verify.verify(seeded.outputs, settings, aws)


def failures(results: list[verify.CheckResult]) -> list[tuple[str, str]]:
    return [(r.check, r.resource) for r in results if r.status == verify.FAIL]


# ---------------------------------------------------------------------------------------------------------------
# Compliant environments
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACK_FILES)
def test_compliant_environment_passes_every_check(stack, account, moto_url):
    account(stack)
    seeded = seed(stack, moto_url)
    results = run_verify(stack, seeded, moto_url)

    assert failures(results) == [], verify.render_text(stack, results)
    exported = recording_of(stack).stack_outputs
    for result in results:
        if result.status == verify.SKIP:  # only for what the stack does not export, and saying so
            assert export_of(result.check) not in exported and "not in stack outputs" in result.detail, result.line()
        else:
            assert result.status == verify.PASS and export_of(result.check) in exported
    assert {r.check for r in results} == ALL_CHECKS
    # one line per secret check per secret, one per rotation function
    assert sum(r.check == "secret.current-version" for r in results) == max(len(seeded.secret_arns), 1)
    assert sum(r.check == "rotation-function.last-invocation" for r in results) == max(len(seeded.function_names), 1)
    assert_seed_mirrors_the_recorded_instance(stack, seeded)


def assert_seed_mirrors_the_recorded_instance(stack: str, seeded: Seeded) -> None:
    """The seed is the recorded stack: identifier, key, retention and flags as `pulumi up` would set them."""
    recorded = recording_of(stack).one("aws:rds/instance:Instance").inputs
    instance = seeded.clients("rds").describe_db_instances(
        DBInstanceIdentifier=seeded.database_identifier)["DBInstances"][0]
    assert instance["DBInstanceIdentifier"] == recorded["identifier"] == seeded.outputs["database"]["identifier"]
    assert instance["BackupRetentionPeriod"] == recorded["backupRetentionPeriod"]
    assert instance["KmsKeyId"] == seeded.outputs["keys"]["dataKeyArn"]
    assert instance["DeletionProtection"] is recorded["deletionProtection"]


# ---------------------------------------------------------------------------------------------------------------
# One non-compliant variant per check: exactly that check fails, naming the resource
# ---------------------------------------------------------------------------------------------------------------

def _modify_database(**changes: Any) -> Callable[[Seeded], None]:
    def apply(seeded: Seeded) -> None:
        seeded.clients("rds").modify_db_instance(DBInstanceIdentifier=seeded.database_identifier,
                                                 ApplyImmediately=True, **changes)
    return apply


def _http_listener_forwards(seeded: Seeded) -> None:
    target_group = seeded.outputs["loadBalancer"]["targetGroupArn"]
    seeded.clients("elbv2").modify_listener(ListenerArn=seeded.http_listener_arn,
                                            DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}])


def _weak_tls_policy(seeded: Seeded) -> None:
    seeded.clients("elbv2").modify_listener(ListenerArn=seeded.https_listener_arn, SslPolicy="ELBSecurityPolicy-2016-08")


def _waf_detached(seeded: Seeded) -> None:
    seeded.clients("wafv2").disassociate_web_acl(ResourceArn=seeded.load_balancer_arn)


def _rotation_cancelled(seeded: Seeded) -> None:
    seeded.clients("secretsmanager").cancel_rotate_secret(SecretId=seeded.secret_arns[0])


VARIANTS = {
    # storage encrypted, but with the stack's logs key instead of its data key
    "database.encrypted": (Variant(database_key="logs"), lambda s: s.database_identifier),
    "database.backup-retention": (Variant(after_seed=_modify_database(BackupRetentionPeriod=1)),
                                  lambda s: s.database_identifier),
    "database.not-public": (Variant(after_seed=_modify_database(PubliclyAccessible=True)),
                            lambda s: s.database_identifier),
    # dev does not configure deletion protection: the variant is the prod stack with it switched off
    "database.deletion-protection": (Variant(stack="prod", after_seed=_modify_database(DeletionProtection=False)),
                                     lambda s: s.database_identifier),
    "load-balancer.http-redirect": (Variant(after_seed=_http_listener_forwards), lambda s: s.http_listener_arn),
    "load-balancer.tls-policy": (Variant(after_seed=_weak_tls_policy), lambda s: s.https_listener_arn),
    "load-balancer.waf-associated": (Variant(after_seed=_waf_detached), lambda s: s.load_balancer_arn),
    "secret.rotation-schedule": (Variant(after_seed=_rotation_cancelled), lambda s: s.secret_arns[0]),
    # the rotator failed after createSecret: the new version never became AWSCURRENT
    "secret.last-rotation": (Variant(finish_rotations=False), lambda s: s.secret_arns[0]),
    "secret.current-version": (Variant(secret_without_value=True), lambda s: s.secret_arns[0]),
    "rotation-function.last-invocation": (Variant(function_errored_last=True), lambda s: s.function_names[0]),
}


@pytest.mark.parametrize("check", sorted(VARIANTS))
def test_each_non_compliant_variant_fails_exactly_its_check(check, account, moto_url):
    variant, resource_of = VARIANTS[check]
    skip_unless_exported(variant.stack, check)
    account(variant.stack)
    seeded = seed(variant.stack, moto_url, variant)
    results = run_verify(variant.stack, seeded, moto_url)

    resource = resource_of(seeded)
    assert failures(results) == [(check, resource)], verify.render_text(variant.stack, results)
    line = next(r.line() for r in results if r.status == verify.FAIL)
    assert resource in line and line.startswith(f"FAIL {check} ")


def test_stale_restorable_time_fails_only_that_check(account, moto_url, monkeypatch):
    """moto always answers LatestRestorableTime = now; its model is made to answer two hours back."""
    from moto.rds.models import DBInstance

    account("dev")
    seeded = seed("dev", moto_url)
    stale = datetime.now(timezone.utc) - timedelta(hours=2)
    monkeypatch.setattr(DBInstance, "latest_restorable_time", property(lambda self: stale))
    results = run_verify("dev", seeded, moto_url)

    assert failures(results) == [("database.restorable-time", seeded.database_identifier)]
    line = next(r.line() for r in results if r.status == verify.FAIL)
    assert "120 min old" in line and seeded.database_identifier in line


ALL_CHECKS = {*verify.DATABASE_CHECKS, *verify.LOAD_BALANCER_CHECKS, *verify.SECRET_CHECKS,
              verify.FUNCTION_CHECK}


def test_every_check_has_a_variant():
    assert ALL_CHECKS == {*VARIANTS, "database.restorable-time"}


# ---------------------------------------------------------------------------------------------------------------
# The command line: outputs piped or from a file, text and JSON, exit codes
# ---------------------------------------------------------------------------------------------------------------

def test_cli_reads_piped_outputs_and_exits_zero_when_compliant(account, moto_url, monkeypatch, capsys):
    account("dev")
    seeded = seed("dev", moto_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(seeded.outputs)))
    code = verify.main(["dev", "--endpoint-url", moto_url])
    out = capsys.readouterr().out
    assert code == verify.EXIT_OK, out
    assert out.splitlines()[0].startswith("PASS database.encrypted [securestack-dev-postgres]: ")
    assert out.splitlines()[-1].startswith("stack 'dev': ") and ", 0 failed" in out.splitlines()[-1]


def test_cli_json_and_exit_one_on_a_failed_check(account, moto_url, tmp_path, capsys):
    account("dev")
    seeded = seed("dev", moto_url, Variant(after_seed=_waf_detached))
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps(seeded.outputs))
    # --settle-seconds 0: a detached WAF stays detached; tests/test_verify_settle.py covers the re-reads
    code = verify.main(["dev", "--outputs", str(outputs_file), "--json", "--settle-seconds", "0",
                        "--endpoint-url", moto_url])
    report = json.loads(capsys.readouterr().out)
    assert code == verify.EXIT_FAILED
    assert report["stack"] == "dev" and report["fail"] == 1
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert failed == [{"check": "load-balancer.waf-associated", "resource": seeded.load_balancer_arn,
                       "status": "fail", "detail": failed[0]["detail"]}]
    assert "no web ACL is associated" in failed[0]["detail"]


def _outputs_without(outputs: dict[str, Any], dotted: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(outputs))
    *parents, leaf = dotted.split(".")
    target = copy
    for part in parents:
        target = target[part]
    del target[leaf]
    return copy


MISSING_EXPORTS = {  # export removed -> the checks that read it
    "loadBalancer": set(verify.LOAD_BALANCER_CHECKS), "loadBalancer.webAclArn": {"load-balancer.waf-associated"},
    "loadBalancer.httpsListenerArn": {"load-balancer.tls-policy"}, "secrets": set(verify.SECRET_CHECKS),
    "rotationFunctions": {verify.FUNCTION_CHECK}}


def test_a_check_that_cannot_run_for_a_missing_export_fails_closed(account, moto_url):
    """The stack exports all of these: outputs without one are not the whole stack's, so the checks reading it
    fail (a skip would let `infra.verify` exit 0 on a part it never looked at) and nothing else changes."""
    account("dev")
    seeded = seed("dev", moto_url)
    assert set(MISSING_EXPORTS) <= {k for k in seeded.outputs} | {f"loadBalancer.{k}" for k in
                                                                  seeded.outputs["loadBalancer"]}
    for export, checks in MISSING_EXPORTS.items():
        results = run_verify("dev", replace(seeded, outputs=_outputs_without(seeded.outputs, export)), moto_url)
        failed = [r for r in results if r.status == verify.FAIL]
        assert {r.check for r in failed} == checks, export
        assert all(f"cannot check: {export} not in stack outputs" in r.detail for r in failed), export
        assert not [r for r in results if r.status == verify.SKIP and "not in stack outputs" in r.detail], export


def test_outputs_listing_no_secrets_while_the_settings_configure_some_fail(account, moto_url):
    account("dev")
    seeded = seed("dev", moto_url)
    assert verify.configured_secret_count(settings_of("dev")) > 0
    results = run_verify("dev", replace(seeded, outputs={**seeded.outputs, "secrets": {}}), moto_url)
    assert {r.check for r in results if r.status == verify.FAIL} == set(verify.SECRET_CHECKS)
    assert all("the outputs list no secrets but the settings configure" in r.detail
               for r in results if r.status == verify.FAIL)


def test_outputs_listing_no_rotation_functions_fail(account, moto_url):
    account("dev")
    seeded = seed("dev", moto_url)
    results = run_verify("dev", replace(seeded, outputs={**seeded.outputs, "rotationFunctions": {}}), moto_url)
    [result] = [r for r in results if r.check == verify.FUNCTION_CHECK]
    assert result.status == verify.FAIL and "the outputs list no rotation functions" in result.detail


def test_a_rotation_schedule_nothing_gives_days_for_fails_instead_of_skipping():
    secret = {"RotationEnabled": True, "RotationRules": {"AutomaticallyAfterDays": 30}}
    result = verify.judge_rotation_schedule(secret, "arn:aws:secretsmanager:us-east-1:111111111111:secret:x", None)
    assert result.status == verify.FAIL and "cannot check the schedule" in result.detail


DEV_OUTPUTS = {"environment": "dev", "region": "us-east-1",
               "keys": {"dataKeyArn": "arn:aws:kms:us-east-1:111111111111:key/k"},
               "database": {"identifier": "securestack-dev-postgres"}}


ABSENT_STACK = absent_stack()


@pytest.mark.parametrize("argv, stdin, message", [
    (["dev", "--outputs", "/nonexistent/outputs.json"], None, "cannot read outputs file /nonexistent/outputs.json"),
    (["dev"], "{not json", "outputs in standard input are not valid JSON (line 1, column 2)"),
    (["dev"], "[1, 2]", "must be a JSON object of stack outputs, got list"),
    (["dev"], json.dumps({"environment": "dev", "region": "us-east-1"}),
     "stack outputs lack required keys.dataKeyArn, database.identifier"),
    (["dev"], json.dumps({**DEV_OUTPUTS, "environment": "prod"}), "outputs are those of stack 'prod', not 'dev'"),
    ([ABSENT_STACK], json.dumps(DEV_OUTPUTS), f"unknown stack '{ABSENT_STACK}': no Pulumi.{ABSENT_STACK}.yaml"),
# Fixed ids: the absent stack's name is random, and pytest-xdist's workers must collect the same test ids.
], ids=["outputs-file-unreadable", "not-json", "not-an-object", "lacks-keys", "another-stacks-outputs", "absent-stack"])
def test_unusable_input_is_a_one_line_error_and_exit_two(argv, stdin, message, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin or ""))
    assert verify.main(argv) == verify.EXIT_UNUSABLE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: ") and message in captured.err


def test_no_credentials_is_a_one_line_error(monkeypatch, capsys, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(DEV_OUTPUTS)))
    assert verify.main(["dev", "--endpoint-url", "http://127.0.0.1:9"]) == verify.EXIT_UNUSABLE
    assert capsys.readouterr().err.startswith("error: no AWS credentials found")


def test_region_of_the_environment_must_be_the_stack_region(monkeypatch, capsys):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(DEV_OUTPUTS)))
    assert verify.main(["dev"]) == verify.EXIT_UNUSABLE
    assert "AWS region in the environment is eu-west-1 but the stack deploys to us-east-1" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# Judgements moto cannot produce states for (time passing): tested on the API's answer shapes
# ---------------------------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def test_restorable_time_within_ten_minutes_passes_and_older_fails():
    fresh = verify.judge_restorable_time({"LatestRestorableTime": NOW - timedelta(minutes=4)}, "db", NOW)
    stale = verify.judge_restorable_time({"LatestRestorableTime": NOW - timedelta(minutes=11)}, "db", NOW)
    absent = verify.judge_restorable_time({}, "db", NOW)
    assert (fresh.status, stale.status, absent.status) == (verify.PASS, verify.FAIL, verify.FAIL)
    assert "11 min old" in stale.detail and "not running" in absent.detail


def test_overdue_or_never_run_rotation_fails_and_not_yet_due_passes():
    current = {"VersionIdsToStages": {"v1": ["AWSCURRENT"]}}
    overdue = verify.judge_last_rotation({**current, "LastRotatedDate": NOW - timedelta(days=33)}, "s", 30, NOW)
    on_time = verify.judge_last_rotation({**current, "LastRotatedDate": NOW - timedelta(days=30)}, "s", 30, NOW)
    never_due = verify.judge_last_rotation({"CreatedDate": NOW - timedelta(days=5)}, "s", 30, NOW)
    never_overdue = verify.judge_last_rotation({"CreatedDate": NOW - timedelta(days=40)}, "s", 30, NOW)
    assert [overdue.status, on_time.status, never_due.status, never_overdue.status] == \
        [verify.FAIL, verify.PASS, verify.PASS, verify.FAIL]
    assert "rotation is not running" in overdue.detail and "never rotated" in never_overdue.detail


def test_awspending_left_on_awscurrent_is_a_finished_rotation_and_on_another_version_a_stranded_one():
    """The rotators end a rotation with AWSPENDING on the new AWSCURRENT, as AWS's template does (RotateSecret API
    reference: an end state it accepts); only AWSPENDING on another version is a rotation that did not finish."""
    rotated = NOW - timedelta(days=2)
    finished = verify.judge_last_rotation({"VersionIdsToStages": {"v2": ["AWSCURRENT", "AWSPENDING"],
                                                                  "v1": ["AWSPREVIOUS"]}, "LastRotatedDate": rotated},
                                          "s", 30, NOW)
    stranded = verify.judge_last_rotation({"VersionIdsToStages": {"v2": ["AWSCURRENT"], "v3": ["AWSPENDING"]},
                                           "LastRotatedDate": rotated}, "s", 30, NOW)
    assert (finished.status, stranded.status) == (verify.PASS, verify.FAIL)
    assert "version v3 is still AWSPENDING" in stranded.detail


def test_schedule_expression_counts_as_the_configured_days():
    secret = {"RotationEnabled": True, "RotationRules": {"ScheduleExpression": "rate(30 days)"}}
    assert verify.judge_rotation_schedule(secret, "s", 30).status == verify.PASS
    assert verify.judge_rotation_schedule(secret, "s", 90).status == verify.FAIL


def test_only_the_last_invocation_counts():
    old_error = verify.Datapoint(NOW - timedelta(days=2), invocations=4, errors=1)
    last_ok = verify.Datapoint(NOW - timedelta(minutes=3), invocations=4, errors=0)
    assert verify.judge_last_invocation("f", [old_error, last_ok], timedelta(days=31)).status == verify.PASS
    assert verify.judge_last_invocation("f", [last_ok, old_error][::-1][:1], timedelta(days=31)).status == verify.FAIL
    never = verify.judge_last_invocation("f", [], timedelta(days=31))
    assert never.status == verify.SKIP and "no invocation recorded in the last 31 days" in never.detail


VENDOR_TAGS = [{"Key": "securestack:issuer", "Value": "vendor"}, {"Key": "securestack:rotation-days", "Value": "90"}]


def test_a_vendor_secret_needs_no_rotation_but_its_tagged_age_limit():
    vendor = {"Tags": VENDOR_TAGS, "RotationEnabled": False}
    assert verify.judge_vendor_schedule(vendor, "s", 90).status == verify.PASS
    assert verify.judge_vendor_schedule(vendor, "s", 30).status == verify.FAIL  # the tag and the settings disagree
    rotated = verify.judge_vendor_schedule({**vendor, "RotationEnabled": True}, "s", 90)
    assert rotated.status == verify.FAIL and "cannot make a vendor's value" in rotated.detail


def test_a_vendor_value_older_than_its_days_or_compromised_fails():
    vendor = {"Tags": VENDOR_TAGS}
    young = verify.judge_vendor_value(vendor, "s", 90, NOW - timedelta(days=89), NOW)
    old = verify.judge_vendor_value(vendor, "s", 90, NOW - timedelta(days=91), NOW)
    compromised = verify.judge_vendor_value({"Tags": [*VENDOR_TAGS, {"Key": "securestack:compromised",
                                                                     "Value": "v1"}]}, "s", 90, NOW, NOW)
    assert [young.status, old.status, compromised.status] == [verify.PASS, verify.FAIL, verify.FAIL]
    assert "rotate it at the vendor" in old.detail and "marked compromised" in compromised.detail


def test_a_vendor_secret_without_a_value_names_the_commands():
    result = verify.judge_current_version({"Tags": VENDOR_TAGS, "VersionIdsToStages": {"v1": ["AWSPENDING"]}}, "s")
    assert result.status == verify.FAIL and "infra.secrets stage / promote" in result.detail


def test_vendor_checks_on_moto_read_the_current_versions_date(account, moto_url):
    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_url)
    arn = client.create_secret(Name="securestack/dev/api-keys/stackbe", Tags=VENDOR_TAGS)["ARN"]
    described = client.describe_secret(SecretId=arn)
    later = datetime.now(timezone.utc) + timedelta(days=91)
    assert [r.status for r in verify._vendor_results(client, described, arn, 90, later)] == \
        [verify.PASS, verify.PASS, verify.FAIL]  # no value yet: only current-version fails
    client.put_secret_value(SecretId=arn, SecretString='{"key": "sk_test_x"}', VersionStages=["AWSCURRENT"])
    described = client.describe_secret(SecretId=arn)
    assert [r.status for r in verify._vendor_results(client, described, arn, 90, later)] == \
        [verify.PASS, verify.FAIL, verify.PASS]  # 91 days later the value is overdue
    assert [r.status for r in verify._vendor_results(client, described, arn, 90, datetime.now(timezone.utc))] == \
        [verify.PASS, verify.PASS, verify.PASS]
