"""Live verification: `python -m infra.verify <stack> [--outputs FILE|-] [--json] [--settle-seconds N] ...`.

After `pulumi up`, proves the deployed environment is what the stack says: reads the stack's outputs
(`pulumi stack output --json`, piped in or from a file), derives what to expect from the stack's validated
settings (`Pulumi.<stack>.yaml`), and checks the live account with boto3 (credentials and region from the
standard boto3 chain). Prints one line per check; exits 0 when nothing failed, 1 on any failed check, 2 when
it cannot run (unknown stack, unreadable, incomplete or malformed outputs, outputs or an AWS environment of another
region than the stack's, no credentials, unreachable endpoint), 130 when interrupted. It fails closed: a check that
cannot run because an export it reads is missing fails, it is never skipped.

Right after `pulumi up` some reads still answer the state before it (see EVENTUALLY_CONSISTENT): a failed check is
re-read with capped exponential backoff and jitter for up to `--settle-seconds` (default 300, 0: read once), then
reported failed with `(still failing after Ns)`.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ParamValidationError

from securestack.components import cli
from securestack.infra.settings import SettingsError, StackSettings, build_settings
from securestack.infra.stack_config import StackConfigError, read_stack_config

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2
PASS, FAIL, SKIP = "pass", "fail", "skip"

# A point-in-time restore must reach back to at most this long ago: RDS ships transaction logs every 5 min.
RESTORABLE_TIME_MAX_AGE = timedelta(minutes=10)
# Secrets Manager rotates inside a window after the due date; a day later the rotation is late, not pending.
ROTATION_GRACE = timedelta(days=1)
# Lambda metrics CloudWatch keeps per resolution: 1-minute for 15 days, 5-minute for 63, 1-hour for 455.
METRIC_RESOLUTIONS = ((timedelta(days=15), 60), (timedelta(days=63), 300), (timedelta(days=455), 3600))
DEFAULT_ROTATION_LOOKBACK_DAYS = 30

REQUIRED_OUTPUTS = ("environment", "region", "keys.dataKeyArn", "database.identifier")
FUNCTION_CHECK = "rotation-function.last-invocation"


class UnusableInput(Exception):
    """Verification cannot run at all; the message is one line and says what to fix."""


@dataclass(frozen=True)
class CheckResult:
    check: str
    resource: str
    status: str
    detail: str

    def line(self) -> str:
        return f"{self.status.upper():4} {self.check} [{self.resource}]: {self.detail}"


def passed(check: str, resource: str, detail: str) -> CheckResult:
    return CheckResult(check, resource, PASS, detail)


def failed(check: str, resource: str, detail: str) -> CheckResult:
    return CheckResult(check, resource, FAIL, detail)


def skipped(check: str, resource: str, detail: str) -> CheckResult:
    return CheckResult(check, resource, SKIP, detail)


def not_exported(check: str, resource: str, export: str) -> CheckResult:
    """The stack program exports everything a check reads: outputs without it are not the whole stack's, and a
    check that cannot run fails (a skip would let a deploy with a missing part pass)."""
    return failed(check, resource, f"cannot check: {export} not in stack outputs (the stack exports it)")


# ---------------------------------------------------------------------------------------------------------------
# Reading the stack outputs and the expectations
# ---------------------------------------------------------------------------------------------------------------

def read_outputs(source: str, stdin: Optional[TextIO] = None) -> dict[str, Any]:
    """Outputs as `pulumi stack output --json` prints them, from a file or `-` (stdin)."""
    stdin = stdin if stdin is not None else sys.stdin
    if source == "-":
        if stdin.isatty():
            raise UnusableInput("no stack outputs: pipe `pulumi stack output --json` in, or pass --outputs FILE")
        where = "standard input"
        try:
            text = stdin.read()
        except UnicodeDecodeError:
            raise UnusableInput(f"outputs in {where} are not UTF-8 text") from None
    else:
        where = source
        try:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise UnusableInput(f"cannot read outputs file {source}: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise UnusableInput(f"outputs in {where} are not UTF-8 text") from None
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnusableInput(f"outputs in {where} are not valid JSON (line {error.lineno}, column {error.colno}): "
                            f"{error.msg}") from None
    if not isinstance(outputs, dict):
        raise UnusableInput(f"outputs in {where} must be a JSON object of stack outputs, "
                            f"got {type(outputs).__name__}")
    return outputs


def output_at(outputs: Mapping[str, Any], dotted: str) -> Any:
    value: Any = outputs
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def check_required_outputs(outputs: Mapping[str, Any], stack: str) -> None:
    missing = [name for name in REQUIRED_OUTPUTS if output_at(outputs, name) in (None, "")]
    if missing:
        raise UnusableInput(f"stack outputs lack required {', '.join(missing)} "
                            f"(are these the outputs of `pulumi stack output --json --stack {stack}`?)")
    if outputs["environment"] != stack:
        raise UnusableInput(f"outputs are those of stack '{outputs['environment']}', not '{stack}'")


def malformed(key: str, expected: str, value: Any) -> UnusableInput:
    shown = json.dumps(value) if isinstance(value, (int, float, bool, str)) or value is None else type(value).__name__
    return UnusableInput(f"malformed stack outputs: {key} must be {expected}, got {shown[:80]}")


def _check_strings(entry: Mapping[str, Any], key: str, fields: Sequence[str]) -> None:
    for field in fields:
        value = entry.get(field)
        if value is not None and not isinstance(value, str):
            raise malformed(f"{key}.{field}", "a string", value)


def check_output_shapes(outputs: Mapping[str, Any]) -> None:
    """Every export a check reads has the shape the stack program exports, before any AWS call: a malformed export
    is the outputs' fault, named by its key, not an AWS error (or a traceback) further on."""
    for name in REQUIRED_OUTPUTS:
        value = output_at(outputs, name)
        if not isinstance(value, str):
            raise malformed(name, "a string", value)
    load_balancer = outputs.get("loadBalancer")
    if load_balancer is not None:
        if not isinstance(load_balancer, Mapping):
            raise malformed("loadBalancer", "an object", load_balancer)
        _check_strings(load_balancer, "loadBalancer", ("arn", "httpListenerArn", "httpsListenerArn", "webAclArn",
                                                       "tlsPolicy"))
    for export, fields in (("secrets", ("arn",)), ("rotationFunctions", ("arn", "name"))):
        exported = outputs.get(export)
        if exported is None:
            continue
        if not isinstance(exported, Mapping):
            raise malformed(export, "an object of name -> entry", exported)
        for name, entry in exported.items():
            if not isinstance(entry, (Mapping, str)):
                raise malformed(f"{export}.{name}", "an ARN or an object", entry)
            if isinstance(entry, Mapping):
                _check_strings(entry, f"{export}.{name}", fields)
                days = entry.get("rotationDays") if export == "secrets" else None
                if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
                    raise malformed(f"secrets.{name}.rotationDays", "a whole number of days >= 1", days)


def check_region(outputs: Mapping[str, Any], settings: StackSettings, stack: str) -> None:
    """Outputs of a deployment in another region than the stack file's say nothing about this stack: refused."""
    if outputs["region"] != settings.region:
        raise UnusableInput(f"the outputs are of a deployment in {outputs['region']} but Pulumi.{stack}.yaml deploys "
                            f"to {settings.region} (aws:region): pass the outputs of this stack's deployment")


def load_expectations(stack: str) -> StackSettings:
    try:
        stack_config = read_stack_config(stack)
        return build_settings(stack_config.config, stack_config.stack, stack_config.project)
    except StackConfigError as error:
        raise UnusableInput(str(error)) from None
    except SettingsError as error:
        raise UnusableInput(f"stack '{stack}': {'; '.join(error.problems)}") from None


# ---------------------------------------------------------------------------------------------------------------
# AWS access
# ---------------------------------------------------------------------------------------------------------------

class Aws:
    """boto3 clients on the standard credential chain, one per service, optionally on an endpoint override."""

    def __init__(self, region: str, endpoint_url: Optional[str] = None, session: Optional[boto3.Session] = None):
        self.region = region
        self.endpoint_url = endpoint_url
        self._session = session or boto3.Session()
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            # Any service by name: boto3-stubs types a client per literal service name, the checks read JSON.
            make_client: Callable[..., Any] = self._session.client
            # Throttling (429, ThrottlingException...) and 5xx are botocore's to retry, per call: standard mode
            # retries them with exponential backoff capped at 20 s (botocore/retries/standard.py; boto3 guide
            # "Retries"). What it returns is a real answer; settling (below) re-reads answers that are stale.
            self._clients[service] = make_client(
                service, region_name=self.region, endpoint_url=self.endpoint_url,
                config=Config(retries={"mode": "standard", "max_attempts": 5}))
        return self._clients[service]


def resolve_region(stack_region: str, session: Optional[boto3.Session] = None) -> str:
    """The stack's region. A different one in the environment is a mistake, refused rather than overridden: the
    boto3 chain's (AWS_DEFAULT_REGION or the profile's), or AWS_REGION, which the AWS CLI v2 and other SDKs read
    and this botocore does not, so an operator who set only it would otherwise believe another region is checked."""
    chain_region = (session or boto3.Session()).region_name
    for where, region in (("the AWS region in the environment", chain_region),
                          ("AWS_REGION", os.environ.get("AWS_REGION"))):
        if region and region != stack_region:
            raise UnusableInput(f"{where} is {region} but the stack deploys to {stack_region}: set "
                                f"AWS_REGION={stack_region} and AWS_DEFAULT_REGION={stack_region}, or unset them")
    return stack_region


def describe_failure(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', 'error')}: {details.get('Message', str(error))}"


# ---------------------------------------------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------------------------------------------

DATABASE_CHECKS = ("database.encrypted", "database.backup-retention", "database.restorable-time",
                   "database.not-public", "database.deletion-protection")


def expected_storage_key(data_key_arn: str, settings: StackSettings) -> tuple[str, str]:
    """(key ARN, what it is): a restored copy stays under its source's key (RestoreDBInstanceToPointInTime has no
    KmsKeyId), which its restore settings declare; any other database uses the stack's data key."""
    restore = settings.database.restore
    if restore is not None:
        return restore.source_kms_key_arn, f"the restore source's key (environment {restore.source_environment})"
    return data_key_arn, "the stack's data key"


def judge_database(instance: Mapping[str, Any], identifier: str, data_key_arn: str, settings: StackSettings,
                   now: datetime) -> list[CheckResult]:
    return [
        judge_encryption(instance, identifier, *expected_storage_key(data_key_arn, settings)),
        judge_backup_retention(instance, identifier, settings.database.backup_retention_days),
        judge_restorable_time(instance, identifier, now),
        judge_not_public(instance, identifier),
        judge_deletion_protection(instance, identifier, settings.database.deletion_protection),
    ]


def judge_encryption(instance: Mapping[str, Any], identifier: str, key_arn: str,
                     key_role: str = "the stack's data key") -> CheckResult:
    check = "database.encrypted"
    if not instance.get("StorageEncrypted"):
        return failed(check, identifier, "storage is not encrypted")
    key = instance.get("KmsKeyId")
    if key != key_arn:
        return failed(check, identifier, f"storage is encrypted with {key}, not {key_role} {key_arn}")
    return passed(check, identifier, f"storage encrypted with {key_role} {key}")


def judge_backup_retention(instance: Mapping[str, Any], identifier: str, expected_days: int) -> CheckResult:
    check = "database.backup-retention"
    actual = instance.get("BackupRetentionPeriod")
    if actual != expected_days:
        return failed(check, identifier, f"automated backups kept {actual} day(s), configured {expected_days}")
    return passed(check, identifier, f"automated backups kept {actual} days, as configured")


def judge_restorable_time(instance: Mapping[str, Any], identifier: str, now: datetime) -> CheckResult:
    check = "database.restorable-time"
    latest = instance.get("LatestRestorableTime")
    if latest is None:
        return failed(check, identifier, "no latest restorable time: point-in-time recovery is not running")
    age = max(now - latest, timedelta(0))  # the two clocks may disagree by a second
    if age > RESTORABLE_TIME_MAX_AGE:
        return failed(check, identifier, f"latest restorable time {latest.isoformat()} is {_minutes(age)} old "
                                         f"(limit {_minutes(RESTORABLE_TIME_MAX_AGE)}): transaction logs are not "
                                         "being backed up")
    return passed(check, identifier, f"restorable up to {latest.isoformat()} ({_minutes(age)} ago)")


def judge_not_public(instance: Mapping[str, Any], identifier: str) -> CheckResult:
    check = "database.not-public"
    if instance.get("PubliclyAccessible", True):
        return failed(check, identifier, "instance is publicly accessible")
    return passed(check, identifier, "not publicly accessible")


def judge_deletion_protection(instance: Mapping[str, Any], identifier: str, configured: bool) -> CheckResult:
    check = "database.deletion-protection"
    actual = bool(instance.get("DeletionProtection"))
    if configured and not actual:
        return failed(check, identifier, "deletion protection is off but the stack configures it on")
    if not configured:
        return passed(check, identifier, f"not configured for this stack (actual: {'on' if actual else 'off'})")
    return passed(check, identifier, "deletion protection on, as configured")


def _minutes(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() // 60)} min"


def verify_database(aws: Aws, outputs: Mapping[str, Any], settings: StackSettings, now: datetime) -> list[CheckResult]:
    identifier = output_at(outputs, "database.identifier")
    try:
        found = aws.client("rds").describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    except ClientError as error:
        return [failed(check, identifier, f"cannot describe the instance: {describe_failure(error)}")
                for check in DATABASE_CHECKS]
    return judge_database(found[0], identifier, output_at(outputs, "keys.dataKeyArn"), settings, now)


# ---------------------------------------------------------------------------------------------------------------
# Load balancer
# ---------------------------------------------------------------------------------------------------------------

LOAD_BALANCER_CHECKS = ("load-balancer.http-redirect", "load-balancer.tls-policy", "load-balancer.waf-associated")


def judge_http_listener(listener: Mapping[str, Any], rules: Sequence[Mapping[str, Any]]) -> CheckResult:
    """Port 80 may only answer with a permanent redirect to HTTPS: no rule of the listener may serve."""
    check, arn = "load-balancer.http-redirect", listener["ListenerArn"]
    if listener.get("Port") != 80:
        return failed(check, arn, f"listener is on port {listener.get('Port')}, expected the port-80 listener")
    actions = [*listener.get("DefaultActions", []), *(a for rule in rules for a in rule.get("Actions", []))]
    serving = [a for a in actions if not _redirects_to_https(a)]
    if serving:
        kinds = ", ".join(sorted({_describe_action(a) for a in serving}))
        return failed(check, arn, f"port 80 does more than redirect to HTTPS: {kinds}")
    return passed(check, arn, "port 80 only answers 301 redirects to HTTPS")


def _redirects_to_https(action: Mapping[str, Any]) -> bool:
    redirect = action.get("RedirectConfig") or {}
    return action.get("Type") == "redirect" and redirect.get("Protocol") == "HTTPS" \
        and redirect.get("StatusCode") == "HTTP_301"


def _describe_action(action: Mapping[str, Any]) -> str:
    if action.get("Type") == "redirect":
        redirect = action.get("RedirectConfig") or {}
        return f"redirect to {redirect.get('Protocol')} with {redirect.get('StatusCode')}"
    if action.get("Type") == "forward":
        return f"forward to {action.get('TargetGroupArn') or 'a target group'}"
    return str(action.get("Type"))


def judge_https_listener(listener: Mapping[str, Any], expected_policy: str) -> CheckResult:
    check, arn = "load-balancer.tls-policy", listener["ListenerArn"]
    if listener.get("Protocol") != "HTTPS":
        return failed(check, arn, f"listener protocol is {listener.get('Protocol')}, not HTTPS")
    actual = listener.get("SslPolicy")
    if actual != expected_policy:
        return failed(check, arn, f"TLS policy is {actual}, configured {expected_policy}")
    return passed(check, arn, f"HTTPS with TLS policy {actual}, as configured")


def judge_waf(associated: Optional[Mapping[str, Any]], load_balancer_arn: str, web_acl_arn: str) -> CheckResult:
    check = "load-balancer.waf-associated"
    if not associated:
        return failed(check, load_balancer_arn, f"no web ACL is associated (expected {web_acl_arn})")
    if associated.get("ARN") != web_acl_arn:
        return failed(check, load_balancer_arn, f"associated web ACL is {associated.get('ARN')}, "
                                                f"not the stack's {web_acl_arn}")
    return passed(check, load_balancer_arn, f"web ACL {associated.get('Name') or web_acl_arn} associated")


def expected_tls_policy(settings: StackSettings, outputs: Mapping[str, Any]) -> Optional[str]:
    """The configured TLS policy: from the load balancer settings when the stack has them, else as exported."""
    section = getattr(settings, "load_balancer", None)
    configured = getattr(section, "tls_policy", None) if section is not None else None
    exported = output_at(outputs, "loadBalancer.tlsPolicy")
    return configured or (exported if isinstance(exported, str) else None)


def verify_load_balancer(aws: Aws, outputs: Mapping[str, Any], settings: StackSettings) -> list[CheckResult]:
    load_balancer = outputs.get("loadBalancer")
    if not isinstance(load_balancer, Mapping):
        return [not_exported(check, "loadBalancer", "loadBalancer") for check in LOAD_BALANCER_CHECKS]
    elbv2 = aws.client("elbv2")
    return [
        _guarded("load-balancer.http-redirect", load_balancer.get("httpListenerArn"), "loadBalancer.httpListenerArn",
                 lambda arn: judge_http_listener(_listener(elbv2, arn),
                                                 elbv2.describe_rules(ListenerArn=arn)["Rules"])),
        _guarded("load-balancer.tls-policy", load_balancer.get("httpsListenerArn"), "loadBalancer.httpsListenerArn",
                 lambda arn: _tls_policy_result(elbv2, arn, expected_tls_policy(settings, outputs))),
        _guarded("load-balancer.waf-associated", load_balancer.get("arn"), "loadBalancer.arn",
                 lambda arn: _waf_result(aws, arn, load_balancer.get("webAclArn"))),
    ]


def _guarded(check: str, resource: Optional[str], export: str,
             run: Callable[[str], CheckResult]) -> CheckResult:
    """Runs one check; a missing export or an API refusal is a failure naming what is missing or refused."""
    if not resource:
        return not_exported(check, export, export)
    try:
        return run(resource)
    except ClientError as error:
        return failed(check, resource, f"cannot inspect: {describe_failure(error)}")


def _listener(elbv2: Any, arn: str) -> dict[str, Any]:
    listener: dict[str, Any] = elbv2.describe_listeners(ListenerArns=[arn])["Listeners"][0]
    return listener


def _tls_policy_result(elbv2: Any, arn: str, expected: Optional[str]) -> CheckResult:
    if not expected:
        return failed("load-balancer.tls-policy", arn, "cannot check: loadBalancer.tlsPolicy not in stack outputs "
                                                      "and no TLS policy in the settings")
    return judge_https_listener(_listener(elbv2, arn), expected)


def _waf_result(aws: Aws, load_balancer_arn: str, web_acl_arn: Optional[str]) -> CheckResult:
    if not web_acl_arn:
        return not_exported("load-balancer.waf-associated", load_balancer_arn, "loadBalancer.webAclArn")
    response = aws.client("wafv2").get_web_acl_for_resource(ResourceArn=load_balancer_arn)
    return judge_waf(response.get("WebACL"), load_balancer_arn, web_acl_arn)


# ---------------------------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------------------------

SECRET_CHECKS = ("secret.rotation-schedule", "secret.last-rotation", "secret.current-version")


@dataclass(frozen=True)
class ExpectedSecret:
    name: str
    arn: str
    exported_rotation_days: Optional[int]


def expected_secrets(outputs: Mapping[str, Any]) -> Optional[list[ExpectedSecret]]:
    """The exported secrets (`secrets`: name -> {arn, rotationDays}, or name -> arn); None when not exported."""
    exported = outputs.get("secrets")
    if not isinstance(exported, Mapping):
        return None
    secrets = []
    for name, entry in sorted(exported.items()):
        if isinstance(entry, Mapping):
            days = entry.get("rotationDays")
            secrets.append(ExpectedSecret(name, str(entry.get("arn") or ""), int(days) if days is not None else None))
        else:
            secrets.append(ExpectedSecret(name, str(entry), None))
    return secrets


# The rotators read `securestack:kind` / `securestack:name`; so does this: they say which setting rules a secret.
KIND_SETTINGS = {"api-key": "api_keys", "webhook-secret": "webhooks"}


def configured_rotation_days(settings: StackSettings, tags: Sequence[Mapping[str, str]]) -> Optional[int]:
    """Rotation days the stack's settings give the secret its tags name; None when no setting covers it."""
    tag = {t.get("Key"): t.get("Value") for t in tags or []}
    if tag.get("securestack:kind") == "postgres-user":
        return getattr(getattr(settings, "secrets", None), "database_user_rotation_days", None)
    section = getattr(settings, KIND_SETTINGS.get(tag.get("securestack:kind") or "", ""), None)
    for entry in getattr(section, "root", None) or []:
        if entry.name == tag.get("securestack:name"):
            days: Optional[int] = entry.rotation_days
            return days
    return None


def configured_secret_count(settings: StackSettings) -> int:
    """API keys and webhook secrets the settings declare (each is exported under `secrets`)."""
    return sum(len(getattr(getattr(settings, field, None), "root", None) or []) for field in KIND_SETTINGS.values())


def judge_rotation_schedule(secret: Mapping[str, Any], arn: str, expected_days: Optional[int]) -> CheckResult:
    check = "secret.rotation-schedule"
    if not secret.get("RotationEnabled"):
        return failed(check, arn, "rotation is not enabled")
    rules = secret.get("RotationRules") or {}
    actual_days, expression = rules.get("AutomaticallyAfterDays"), rules.get("ScheduleExpression")
    schedule = expression or f"every {actual_days} days"
    if expected_days is None:
        return failed(check, arn, f"rotation enabled ({schedule}); cannot check the schedule: neither the settings "
                                  "(by its securestack:kind/name tags) nor the outputs give its rotation days")
    if actual_days == expected_days or (expression or "").replace(" ", "") == f"rate({expected_days}days)":
        return passed(check, arn, f"rotation enabled, {schedule}, as configured")
    return failed(check, arn, f"rotation schedule is {schedule}, configured every {expected_days} days")


def judge_last_rotation(secret: Mapping[str, Any], arn: str, expected_days: Optional[int],
                        now: datetime) -> CheckResult:
    """A rotation that stopped half-way leaves an AWSPENDING version; one that never runs is overdue."""
    check = "secret.last-rotation"
    stages = secret.get("VersionIdsToStages") or {}
    stranded = sorted(v for v, labels in stages.items() if "AWSPENDING" in labels and "AWSCURRENT" not in labels)
    if stranded:
        return failed(check, arn, f"the last rotation did not finish: version {stranded[0]} is still AWSPENDING "
                                  "(see the rotation function's logs)")
    days = expected_days or (secret.get("RotationRules") or {}).get("AutomaticallyAfterDays")
    last = secret.get("LastRotatedDate")
    if last is None:
        created = secret.get("CreatedDate")
        if days and created is not None and now > created + timedelta(days=days) + ROTATION_GRACE:
            return failed(check, arn, f"never rotated since {created.isoformat()}; the first rotation was due "
                                      f"{(created + timedelta(days=days)).date()}")
        return passed(check, arn, "not rotated yet and not yet due")
    if days and now > last + timedelta(days=days) + ROTATION_GRACE:
        return failed(check, arn, f"last rotated {last.isoformat()}, overdue since "
                                  f"{(last + timedelta(days=days)).date()}: rotation is not running")
    return passed(check, arn, f"last rotation {last.isoformat()} succeeded")


def judge_current_version(secret: Mapping[str, Any], arn: str) -> CheckResult:
    check = "secret.current-version"
    stages = secret.get("VersionIdsToStages") or {}
    current = [version for version, labels in stages.items() if "AWSCURRENT" in labels]
    if not current and is_vendor_issued(secret):
        return failed(check, arn, "no AWSCURRENT version: stage and promote the vendor's value "
                                  f"(python -m infra.secrets stage / promote; {VENDOR_RUNBOOK})")
    if not current:
        return failed(check, arn, "no AWSCURRENT version: the secret has no usable value")
    return passed(check, arn, f"AWSCURRENT is version {current[0]}")


ISSUER_TAG, COMPROMISED_TAG, ROTATION_DAYS_TAG = "securestack:issuer", "securestack:compromised", \
    "securestack:rotation-days"
VENDOR_RUNBOOK = "README, \"Vendor-issued keys and webhook secrets: runbooks\""


def is_vendor_issued(secret: Mapping[str, Any]) -> bool:
    return any(t.get("Key") == ISSUER_TAG and t.get("Value") == "vendor" for t in secret.get("Tags") or [])


def _tag(secret: Mapping[str, Any], key: str) -> Optional[str]:
    return next((t.get("Value") for t in secret.get("Tags") or [] if t.get("Key") == key), None)


def judge_vendor_schedule(secret: Mapping[str, Any], arn: str, expected_days: Optional[int]) -> CheckResult:
    """A vendor-issued value has no rotation function (no rotator can make it): its schedule is the age limit
    tagged on it, which the age alarm and `secret.last-rotation` hold it to."""
    check = "secret.rotation-schedule"
    if secret.get("RotationEnabled"):
        return failed(check, arn, "vendor-issued, yet rotation is enabled: a rotation function cannot make a "
                                  "vendor's value (cancel it: aws secretsmanager cancel-rotate-secret)")
    tagged = _tag(secret, ROTATION_DAYS_TAG)
    if expected_days is None or tagged != str(expected_days):
        return failed(check, arn, f"vendor-issued; tag {ROTATION_DAYS_TAG} is {tagged!r}, configured "
                                  f"{expected_days!r} days")
    return passed(check, arn, f"vendor-issued: staged by an operator at least every {expected_days} days")


def judge_vendor_value(secret: Mapping[str, Any], arn: str, expected_days: Optional[int], current_created: Optional[
        datetime], now: datetime) -> CheckResult:
    """The current value is younger than its rotation days and not marked compromised. A staged value
    (AWSPENDING on another version) is the runbook's normal state between `stage` and `promote`."""
    check = "secret.last-rotation"
    if _tag(secret, COMPROMISED_TAG):
        return failed(check, arn, f"the current value is marked compromised ({COMPROMISED_TAG}): stage and promote "
                                  f"the vendor's replacement ({VENDOR_RUNBOOK})")
    if current_created is None:
        return passed(check, arn, "no current value yet: nothing to age (secret.current-version judges it)")
    age = now - current_created
    if expected_days and age > timedelta(days=expected_days):
        return failed(check, arn, f"the current value was staged {current_created.isoformat()}, {age.days} days "
                                  f"ago, over its {expected_days}: rotate it at the vendor ({VENDOR_RUNBOOK})")
    return passed(check, arn, f"current value staged {current_created.isoformat()}, {age.days} day(s) ago")


def current_version_created(client: Any, arn: str) -> Optional[datetime]:
    """CreatedDate of the AWSCURRENT version (DescribeSecret has the stages, not the versions' dates)."""
    token: Optional[str] = None
    while True:
        page = client.list_secret_version_ids(SecretId=arn, **({"NextToken": token} if token else {}))
        for version in page.get("Versions") or []:
            if "AWSCURRENT" in (version.get("VersionStages") or []):
                created: Optional[datetime] = version.get("CreatedDate")
                return created
        token = page.get("NextToken")
        if not token:
            return None


def _vendor_results(client: Any, described: Mapping[str, Any], resource: str, days: Optional[int],
                    now: datetime) -> list[CheckResult]:
    try:
        created = current_version_created(client, resource)
    except ClientError as error:
        return [judge_vendor_schedule(described, resource, days),
                failed("secret.last-rotation", resource, f"cannot list its versions: {describe_failure(error)}"),
                judge_current_version(described, resource)]
    return [judge_vendor_schedule(described, resource, days),
            judge_vendor_value(described, resource, days, created, now),
            judge_current_version(described, resource)]


def verify_secrets(aws: Aws, outputs: Mapping[str, Any], settings: StackSettings,
                   now: datetime) -> list[CheckResult]:
    secrets = expected_secrets(outputs)
    if secrets is None:
        return [not_exported(check, "secrets", "secrets") for check in SECRET_CHECKS]
    configured = configured_secret_count(settings)
    if not secrets and configured:
        return [failed(check, "secrets", f"cannot check: the outputs list no secrets but the settings configure "
                                         f"{configured}") for check in SECRET_CHECKS]
    if not secrets:
        return [skipped(check, "secrets", "skipped: the stack exports no secrets") for check in SECRET_CHECKS]
    client = aws.client("secretsmanager")
    results: list[CheckResult] = []
    for secret in secrets:
        resource = secret.arn or secret.name
        try:
            described = client.describe_secret(SecretId=resource)
        except ClientError as error:
            results.extend(failed(check, resource, f"cannot describe the secret: {describe_failure(error)}")
                           for check in SECRET_CHECKS)
            continue
        days = configured_rotation_days(settings, described.get("Tags", [])) or secret.exported_rotation_days
        if is_vendor_issued(described):
            results.extend(_vendor_results(client, described, resource, days, now))
            continue
        results.extend([
            judge_rotation_schedule(described, resource, days),
            judge_last_rotation(described, resource, days, now),
            judge_current_version(described, resource),
        ])
    return results


# ---------------------------------------------------------------------------------------------------------------
# Rotation functions
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Datapoint:
    start: datetime
    invocations: float
    errors: float


def judge_last_invocation(function: str, datapoints: Sequence[Datapoint], lookback: timedelta) -> CheckResult:
    check = FUNCTION_CHECK
    invoked = [p for p in datapoints if p.invocations > 0]
    if not invoked:
        return skipped(check, function, f"skipped: no invocation recorded in the last {lookback.days} days "
                                        "(nothing to judge yet)")
    last = max(invoked, key=lambda p: p.start)
    if last.errors > 0:
        return failed(check, function, f"last invocation (period starting {last.start.isoformat()}) errored: "
                                       f"{int(last.errors)} of {int(last.invocations)} invocation(s) failed")
    return passed(check, function, f"last invocation (period starting {last.start.isoformat()}) did not error")


def _resolution(age: timedelta) -> int:
    for limit, period in METRIC_RESOLUTIONS:
        if age <= limit:
            return period
    return METRIC_RESOLUTIONS[-1][1]


def lambda_datapoints(cloudwatch: Any, function: str, start: datetime, end: datetime, period: int) -> list[Datapoint]:
    """Invocations and Errors of a function (AWS/Lambda metrics) per `period` seconds in [start, end)."""
    sums: dict[str, dict[datetime, float]] = {}
    for metric in ("Invocations", "Errors"):
        response = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Dimensions=[{"Name": "FunctionName", "Value": function}],
            StartTime=start, EndTime=end, Period=period, Statistics=["Sum"])
        sums[metric] = {p["Timestamp"]: p["Sum"] for p in response.get("Datapoints", [])}
    starts = set(sums["Invocations"]) | set(sums["Errors"])
    return [Datapoint(s, sums["Invocations"].get(s, 0.0), sums["Errors"].get(s, 0.0)) for s in sorted(starts)]


def last_invocation_datapoints(cloudwatch: Any, function: str, now: datetime,
                               lookback: timedelta) -> list[Datapoint]:
    """Finds the latest day with invocations, then looks at that day at the finest resolution still kept."""
    daily = lambda_datapoints(cloudwatch, function, now - lookback, now, 86400)
    invoked = [p for p in daily if p.invocations > 0]
    if not invoked:
        return []
    day = max(p.start for p in invoked)
    return lambda_datapoints(cloudwatch, function, day, min(day + timedelta(days=1), now), _resolution(now - day))


def expected_functions(outputs: Mapping[str, Any]) -> Optional[dict[str, str]]:
    """kind -> function name, from `rotationFunctions` (kind -> {arn, name}); None when not exported."""
    exported = outputs.get("rotationFunctions")
    if not isinstance(exported, Mapping):
        return None
    functions = {}
    for kind, entry in sorted(exported.items()):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        arn = entry.get("arn") if isinstance(entry, Mapping) else entry
        functions[kind] = name or str(arn).rsplit(":", 1)[-1]
    return functions


def rotation_lookback(outputs: Mapping[str, Any], settings: StackSettings) -> timedelta:
    """Long enough to see the last rotation of the least often rotated secret."""
    days = [s.exported_rotation_days for s in expected_secrets(outputs) or [] if s.exported_rotation_days]
    days += [entry.rotation_days for field in KIND_SETTINGS.values()
             for entry in getattr(getattr(settings, field, None), "root", None) or []]
    days.append(getattr(getattr(settings, "secrets", None), "database_user_rotation_days", 0))
    return timedelta(days=min(max(days, default=DEFAULT_ROTATION_LOOKBACK_DAYS) + 1, 455))


def verify_rotation_functions(aws: Aws, outputs: Mapping[str, Any], settings: StackSettings,
                              now: datetime) -> list[CheckResult]:
    check = FUNCTION_CHECK
    functions = expected_functions(outputs)
    if functions is None:
        return [not_exported(check, "rotationFunctions", "rotationFunctions")]
    if not functions:
        # Every stack has at least the database user's rotator: an empty export hides the ones it has.
        return [failed(check, "rotationFunctions", "cannot check: the outputs list no rotation functions (every "
                                                   "stack has the database user's rotator)")]
    lookback, cloudwatch = rotation_lookback(outputs, settings), aws.client("cloudwatch")
    results = []
    for name in functions.values():
        try:
            datapoints = last_invocation_datapoints(cloudwatch, name, now, lookback)
        except ClientError as error:
            results.append(failed(check, name, f"cannot read its metrics: {describe_failure(error)}"))
            continue
        results.append(judge_last_invocation(name, datapoints, lookback))
    return results


# ---------------------------------------------------------------------------------------------------------------
# Running it
# ---------------------------------------------------------------------------------------------------------------

CheckGroup = Callable[[datetime], list[CheckResult]]


def check_groups(aws: Aws, outputs: Mapping[str, Any], settings: StackSettings) -> list[CheckGroup]:
    """The checks in the groups that read together (one describe answers a group), each run at a given time."""
    return [lambda now: verify_database(aws, outputs, settings, now),
            lambda now: verify_load_balancer(aws, outputs, settings),
            lambda now: verify_secrets(aws, outputs, settings, now),
            lambda now: verify_rotation_functions(aws, outputs, settings, now)]


def verify(outputs: Mapping[str, Any], settings: StackSettings, aws: Aws,
           now: Optional[datetime] = None) -> list[CheckResult]:
    """Every check read once."""
    now = now or datetime.now(timezone.utc)
    return [result for group in check_groups(aws, outputs, settings) for result in group(now)]


# ---------------------------------------------------------------------------------------------------------------
# Settling: re-reading what lags a deployment
# ---------------------------------------------------------------------------------------------------------------

DEFAULT_SETTLE_SECONDS, MAX_SETTLE_SECONDS = 300, 3600
FIRST_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS = 2.0, 30.0

# Why each check can fail right after `pulumi up` and pass later with nothing changed. Every failure that read AWS
# is re-read (a configuration error fails again at the same cheap cost, and the wait is bounded), only a failure the
# outputs or settings cause (`cannot check: ...`, no AWS read involved) is final at once.
EVENTUALLY_CONSISTENT = {
    "database.encrypted": "DescribeDBInstances right after a modify can answer the instance as it was",
    "database.backup-retention": "a retention change shows once RDS applies the modification (PendingModifiedValues "
                                 "until then)",
    "database.restorable-time": "a new instance has no LatestRestorableTime until its first automated backup",
    "database.not-public": "a modify applies after the call returns (the instance is `modifying` meanwhile)",
    "database.deletion-protection": "a modify applies after the call returns (the instance is `modifying` meanwhile)",
    "load-balancer.http-redirect": "listener and rule changes reach DescribeListeners/DescribeRules after the call",
    "load-balancer.tls-policy": "a listener's new TLS policy reaches DescribeListeners after the call",
    "load-balancer.waf-associated": "WAF changes propagate in seconds to minutes (AssociateWebACL, \"Temporary "
                                    "inconsistencies during updates\"): GetWebACLForResource may answer none",
    "secret.rotation-schedule": "RotateSecret starts the first rotation asynchronously; its rules and function "
                                "are described once it is under way",
    "secret.last-rotation": "the first rotation runs asynchronously after RotateSecret: AWSPENDING stays on the new "
                            "version until its finishSecret step",
    "secret.current-version": "a secret whose first value its first rotation makes has no AWSCURRENT until then",
    FUNCTION_CHECK: "Lambda sends its metrics to CloudWatch in 1-minute intervals: the first rotation's invocation "
                    "shows minutes later",
}


def may_settle(result: CheckResult) -> bool:
    """A failure a later read can turn into a pass: anything AWS answered; not a missing or unusable export."""
    return result.status == FAIL and not result.detail.startswith("cannot check:")


@dataclass
class Settling:
    """How long and how failed checks are re-read; clock, sleep and jitter are injectable so tests do not wait."""

    seconds: int = DEFAULT_SETTLE_SECONDS
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random  # in [0, 1)
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    on_wait: Callable[[str], None] = field(default=lambda message: None)

    def backoff(self, attempt: int) -> float:
        """Capped exponential backoff with "equal jitter": half the step fixed, half random, so many verifications
        started by one deploy do not re-read in step, and no wait shrinks to nothing."""
        step = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2.0 ** min(attempt, 16))  # 2**16 s: past the cap
        return step / 2 + self.jitter() * step / 2


def verify_settled(outputs: Mapping[str, Any], settings: StackSettings, aws: Aws,
                   settling: Settling) -> list[CheckResult]:
    """Every check read once, then the groups with a failure that may settle re-read until they pass or
    `settling.seconds` have passed; no read starts after that deadline. A check failing at the end that was
    re-read says for how long."""
    groups = check_groups(aws, outputs, settings)
    started = settling.clock()
    deadline = started + settling.seconds
    results = [group(settling.wall_clock()) for group in groups]
    reread: set[int] = set()
    attempt = 0
    while True:
        waiting = [index for index, group_results in enumerate(results) if any(map(may_settle, group_results))]
        remaining = deadline - settling.clock()
        if not waiting or remaining <= 0:
            break
        pause = min(settling.backoff(attempt), remaining)
        failing = [r.check for index in waiting for r in results[index] if may_settle(r)]
        settling.on_wait(f"{len(failing)} check(s) failing ({', '.join(sorted(set(failing)))}): reading again in "
                         f"{pause:.0f}s, for up to {remaining:.0f}s more")
        settling.sleep(pause)
        attempt += 1
        for index in waiting:
            results[index] = groups[index](settling.wall_clock())
            reread.add(index)
    elapsed = round(settling.clock() - started)
    return [still_failing(result, elapsed) if index in reread and may_settle(result) else result
            for index, group_results in enumerate(results) for result in group_results]


def still_failing(result: CheckResult, elapsed_seconds: int) -> CheckResult:
    return CheckResult(result.check, result.resource, result.status,
                       f"{result.detail} (still failing after {elapsed_seconds}s)")


def settle_seconds(value: str) -> int:
    """An argparse `type`: whole seconds in [0, MAX_SETTLE_SECONDS], so a deploy's wait is bounded."""
    try:
        seconds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of seconds") from None
    if not 0 <= seconds <= MAX_SETTLE_SECONDS:
        raise argparse.ArgumentTypeError(f"{seconds} is outside 0..{MAX_SETTLE_SECONDS} seconds")
    return seconds


def summary(results: Iterable[CheckResult]) -> dict[str, int]:
    results = list(results)
    return {status: sum(1 for r in results if r.status == status) for status in (PASS, FAIL, SKIP)}


def render_text(stack: str, results: Sequence[CheckResult]) -> str:
    counts = summary(results)
    lines = [r.line() for r in results]
    lines.append(f"stack '{stack}': {counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped")
    return "\n".join(lines)


def render_json(stack: str, results: Sequence[CheckResult]) -> str:
    return json.dumps({"stack": stack, **summary(results), "checks": [asdict(r) for r in results]}, indent=2)


def run(stack: str, outputs_source: str, endpoint_url: Optional[str], stdin: Optional[TextIO] = None,
        settling: Optional[Settling] = None) -> list[CheckResult]:
    settings = load_expectations(stack)
    outputs = read_outputs(outputs_source, stdin)
    check_required_outputs(outputs, stack)
    check_output_shapes(outputs)
    check_region(outputs, settings, stack)
    try:
        return verify_settled(outputs, settings, Aws(resolve_region(settings.region), endpoint_url),
                              settling or Settling())
    except NoCredentialsError:
        raise UnusableInput("no AWS credentials found (the standard boto3 chain: environment, profile, "
                            "web identity, instance role)") from None
    except ParamValidationError as error:  # a value of the outputs AWS's API cannot take
        raise UnusableInput(f"malformed stack outputs: {cli.one_line(error)}") from None
    except (NoRegionError, BotoCoreError) as error:
        raise UnusableInput(f"cannot reach AWS: {cli.one_line(error)}") from None


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = cli.ArgumentParser(prog="python -m infra.verify", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name (Pulumi.<stack>.yaml)")
    parser.add_argument("--outputs", default="-", metavar="FILE|-",
                        help="`pulumi stack output --json` of the stack: a file, or - for standard input (default)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--settle-seconds", type=settle_seconds, default=DEFAULT_SETTLE_SECONDS, metavar="N",
                        help="re-read failed checks for up to N seconds, for reads that lag a deployment (default "
                             f"{DEFAULT_SETTLE_SECONDS}, at most {MAX_SETTLE_SECONDS}; 0: read once)")
    parser.add_argument("--endpoint-url", type=cli.http_url, help="send every AWS call to this endpoint (tests)")
    args = parser.parse_args(argv)
    settling = Settling(args.settle_seconds, on_wait=lambda message: print(f"settling: {message}", file=sys.stderr))
    try:
        results = run(args.stack, args.outputs, args.endpoint_url, settling=settling)
    except UnusableInput as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    print(render_json(args.stack, results) if args.json else render_text(args.stack, results))
    return EXIT_FAILED if any(r.status == FAIL for r in results) else EXIT_OK


if __name__ == "__main__":
    cli.run(main)
