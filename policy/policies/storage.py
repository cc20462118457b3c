"""Where data and logs rest: CloudWatch log groups, S3 buckets and backup vaults, encrypted and kept as long as
an investigation needs them."""
from __future__ import annotations

import re

import pulumi
from typing import Any, Mapping

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .boundaries import ELB_LOG_DELIVERY_ACCOUNTS, allowed_accounts
from .support import Report, SecurestackPolicy
from .support import (Controls, StackGraph, actions_of, allows, get, is_public_principal, is_true, items, label,
                      number, peek, present, production_stack, resource_policy, resources_of, stack_policy,
                      statements)
from .types import (BACKUP_PLAN, BACKUP_SELECTION, BACKUP_VAULT, BUCKET_LOGGING_CONFIGS, BUCKET_POLICY, BUCKETS,
                    ENCRYPTION_CONFIGS, KMS_KEY, KMS_REPLICA_KEY, LIFECYCLE_CONFIGS, LOAD_BALANCERS, LOG_GROUP,
                    OWNERSHIP_CONTROLS, PUBLIC_ACCESS_BLOCK, RDS_INSTANCE, SECRET, TRAIL, VERSIONING_CONFIGS)

PRODUCTION_MIN_LOG_DAYS = 365  # a year of history for incident response (CIS, PCI DSS 10.5.1)
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
SSE_S3 = "AES256"  # the only encryption ALB access-log and S3 server access log delivery support
# Who delivers into a log bucket: ALB access logs (the regional service principal, or the regional ELB account in
# regions older than August 2022) and CloudTrail. Both write only under AWSLogs/<account>/.
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
CLOUDTRAIL_SERVICE = "cloudtrail.amazonaws.com"
LOG_DELIVERY_ACTIONS = frozenset({"s3:PutObject", "s3:GetBucketAcl"})
SOURCE_ARN_CONDITIONS = ("StringEquals", "ArnEquals", "ArnLike", "StringLike")
MIN_S3_TLS_VERSION = 1.2
# Resources whose loss loses data or keys: protected (and retained) in production.
STATEFUL_TYPES = (RDS_INSTANCE, KMS_KEY, KMS_REPLICA_KEY, SECRET, BACKUP_VAULT, *BUCKETS)
# cron(minutes hours day-of-month month day-of-week [year]) that runs every day.
DAILY_CRON = re.compile(r"^cron\(\S+ \S+ [*?] \* [*?]( \*)?\)$")
S3_LOG_DELIVERY_SERVICE = "logging.s3.amazonaws.com"
CONFUSED_DEPUTY_KEYS = ("aws:SourceAccount", "aws:SourceArn")


# -- CloudWatch Logs -------------------------------------------------------------------------------------------

@resource_policy("log-group-encrypted", "CloudWatch log groups are encrypted with a customer-managed KMS key",
                 Controls(checkov=("CKV_AWS_158",)), [LOG_GROUP], Severity.MEDIUM)
def log_group_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    if not get(args.props, "kmsKeyId"):
        report("kmsKeyId is absent")


@resource_policy("log-group-retention", f"CloudWatch log groups have a retention (at least {PRODUCTION_MIN_LOG_DAYS} "
                 "days in production)", Controls(checkov=("CKV_AWS_66", "CKV_AWS_338")), [LOG_GROUP], Severity.LOW)
def log_group_retention(args: ResourceValidationArgs, report: Report) -> None:
    days = number(get(args.props, "retentionInDays"))
    if not days:
        report("retentionInDays is absent (logs kept forever)")
    elif production_stack() and days < PRODUCTION_MIN_LOG_DAYS:
        report(f"retentionInDays is {days:.0f}; a production stack keeps logs at least {PRODUCTION_MIN_LOG_DAYS} days")


# -- S3 --------------------------------------------------------------------------------------------------------

def configs_of(graph: StackGraph, bucket: PolicyResource, *types: str) -> list[PolicyResource]:
    return graph.referrers(bucket, "bucket", *types)


def receives_alb_logs(graph: StackGraph, bucket: PolicyResource) -> bool:
    return bool(graph.referrers(bucket, "accessLogs", *LOAD_BALANCERS))


def receives_server_access_logs(graph: StackGraph, bucket: PolicyResource) -> bool:
    """A destination of S3 server access logging (some BucketLogging's targetBucket)."""
    return bool(graph.referrers(bucket, "targetBucket", *BUCKET_LOGGING_CONFIGS))


@stack_policy("s3-public-access-blocked", "Every S3 bucket blocks public access (all four settings)",
              Controls(fsbp=("S3.8",), checkov=("CKV2_AWS_6",)), [*BUCKETS, PUBLIC_ACCESS_BLOCK], Severity.CRITICAL)
def s3_public_access(graph: StackGraph, report: Report) -> None:
    for bucket in graph.of_type(*BUCKETS):
        blocks = configs_of(graph, bucket, PUBLIC_ACCESS_BLOCK)
        if not any(all(is_true(get(b.props, flag)) for flag in PUBLIC_ACCESS_FLAGS) for b in blocks):
            report(f"{label(bucket)} has no BucketPublicAccessBlock with {', '.join(PUBLIC_ACCESS_FLAGS)} all "
                   "true", bucket.urn)


def denies_plain_http(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    bool_condition = condition.get("Bool") or {}
    return (statement.get("Effect") == "Deny" and is_public_principal(statement.get("Principal"))
            and str(bool_condition.get("aws:SecureTransport")).lower() == "false"
            and any(r.endswith("/*") for r in resources_of(statement)))


@stack_policy("s3-tls-only", "Every S3 bucket policy denies requests without TLS (aws:SecureTransport false)",
              Controls(fsbp=("S3.5",), sources=("guides: HTTPS only",)), [*BUCKETS, BUCKET_POLICY], Severity.HIGH)
def s3_tls_only(graph: StackGraph, report: Report) -> None:
    for bucket in graph.of_type(*BUCKETS):
        policies = configs_of(graph, bucket, BUCKET_POLICY)
        if not any(denies_plain_http(s) for p in policies for s in statements(get(p.props, "policy"))):
            report(f"{label(bucket)} has no bucket policy denying aws:SecureTransport=false", bucket.urn)


def default_encryption(config: PolicyResource) -> list[dict[str, Any]]:
    """(algorithm, whether a KMS key is named) of each rule; the key's ARN itself may be unknown in a preview."""
    return [{"sseAlgorithm": get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"),
             "kmsMasterKeyId": present(get(rule, "applyServerSideEncryptionByDefault"), "kmsMasterKeyId")}
            for rule in items(get(config.props, "rules"))]


@stack_policy("s3-default-encryption", "Every S3 bucket encrypts by default with a customer-managed KMS key; the "
              "ALB access-log bucket and the S3 server access log bucket use SSE-S3, the only encryption their log "
              "delivery supports",
              Controls(fsbp=("S3.17",), checkov=("CKV_AWS_145",), sources=("guides: AES-256 at rest",)),
              [*BUCKETS, *ENCRYPTION_CONFIGS, *LOAD_BALANCERS, *BUCKET_LOGGING_CONFIGS], Severity.HIGH)
def s3_default_encryption(graph: StackGraph, report: Report) -> None:
    for bucket in graph.of_type(*BUCKETS):
        defaults = [d for c in configs_of(graph, bucket, *ENCRYPTION_CONFIGS) for d in default_encryption(c)]
        algorithms = {d.get("sseAlgorithm") for d in defaults}
        if receives_alb_logs(graph, bucket) or receives_server_access_logs(graph, bucket):
            if algorithms != {SSE_S3}:
                report(f"log destination {label(bucket)} encrypts with {sorted(map(str, algorithms))}; ALB and "
                       f"S3 server access log delivery need {SSE_S3}", bucket.urn)
        elif not defaults or not all(d.get("sseAlgorithm") in KMS_ALGORITHMS and d.get("kmsMasterKeyId")
                                     for d in defaults):
            report(f"{label(bucket)} has no default encryption with a customer-managed KMS key", bucket.urn)


@stack_policy("s3-versioning", "Every S3 bucket keeps object versions (recoverable overwrites and deletes)",
              Controls(fsbp=("S3.14",), checkov=("CKV_AWS_21",)), [*BUCKETS, *VERSIONING_CONFIGS], Severity.MEDIUM)
def s3_versioning(graph: StackGraph, report: Report) -> None:
    for bucket in graph.of_type(*BUCKETS):
        configs = configs_of(graph, bucket, *VERSIONING_CONFIGS)
        if not any(get(c.props, "versioningConfiguration", "status") == "Enabled" for c in configs):
            report(f"{label(bucket)} has no BucketVersioning with status Enabled", bucket.urn)


@stack_policy("s3-acls-disabled", "Every S3 bucket disables ACLs (object ownership BucketOwnerEnforced): access is "
              "decided by policies only", Controls(fsbp=("S3.12",), checkov=("CKV2_AWS_65",)),
              [*BUCKETS, OWNERSHIP_CONTROLS], Severity.MEDIUM)
def s3_acls_disabled(graph: StackGraph, report: Report) -> None:
    for bucket in graph.of_type(*BUCKETS):
        controls = configs_of(graph, bucket, OWNERSHIP_CONTROLS)
        if not any(get(c.props, "rule", "objectOwnership") == "BucketOwnerEnforced" for c in controls):
            report(f"{label(bucket)} has no BucketOwnershipControls with BucketOwnerEnforced (ACLs stay on)",
                   bucket.urn)


def receives_trail(graph: StackGraph, bucket: PolicyResource) -> bool:
    return bool(graph.referrers(bucket, "s3BucketName", TRAIL))


def log_buckets(graph: StackGraph) -> list[tuple[PolicyResource, str]]:
    """(bucket, what delivers into it) for the stack's ALB access-log and CloudTrail buckets."""
    found = []
    for bucket in graph.of_type(*BUCKETS):
        if receives_alb_logs(graph, bucket):
            found.append((bucket, "ALB access logs"))
        elif receives_trail(graph, bucket):
            found.append((bucket, "CloudTrail"))
    return found


def expiration_days(rule: Any) -> float | None:
    return number(get(rule, "expiration", "days")) if get(rule, "status") == "Enabled" else None


@stack_policy("s3-log-buckets-expire", f"ALB access-log, CloudTrail and S3 server access-log buckets expire their logs "
              f"(after at least {PRODUCTION_MIN_LOG_DAYS} days in production)", Controls(
                  checkov=("CKV2_AWS_61",), sources=("README: Edge, Audit, Architecture (lifecycle, prod >= 365 days; "
                                                     "access logs expiring)",)),
              [*BUCKETS, *LIFECYCLE_CONFIGS, *LOAD_BALANCERS, TRAIL, *BUCKET_LOGGING_CONFIGS], Severity.LOW)
def s3_log_buckets_expire(graph: StackGraph, report: Report) -> None:
    access_log_destinations = [(b, "S3 server access logs") for b in graph.of_type(*BUCKETS)
                               if receives_server_access_logs(graph, b)]
    for bucket, delivery in log_buckets(graph) + access_log_destinations:
        days = [d for c in configs_of(graph, bucket, *LIFECYCLE_CONFIGS) for rule in items(get(c.props, "rules"))
                if (d := expiration_days(rule)) is not None]
        if not days:
            report(f"{delivery} {label(bucket)} has no enabled lifecycle rule expiring its objects", bucket.urn)
        elif production_stack() and min(days) < PRODUCTION_MIN_LOG_DAYS:
            report(f"{delivery} {label(bucket)} expires logs after {min(days):.0f} days; a production stack keeps "
                   f"them at least {PRODUCTION_MIN_LOG_DAYS}", bucket.urn)


def service_principals(statement: Mapping[str, Any]) -> list[str]:
    principal: Any = statement.get("Principal")
    return [p for p in items(principal.get("Service"))] if hasattr(principal, "get") else []


def aws_principals(statement: Mapping[str, Any]) -> list[str]:
    principal: Any = statement.get("Principal")
    return [p for p in items(principal.get("AWS"))] if hasattr(principal, "get") else []


def elb_delivery_principal(statement: Mapping[str, Any]) -> bool:
    accounts = [arn.split(":")[4] for arn in aws_principals(statement) if arn.count(":") >= 5]
    services = service_principals(statement)
    return (services == [ELB_LOG_DELIVERY_SERVICE] and not aws_principals(statement)) or \
        (bool(accounts) and not services and all(a in ELB_LOG_DELIVERY_ACCOUNTS for a in accounts))


def source_arn_bound(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    return any("aws:SourceArn" in (condition.get(operator) or {}) for operator in SOURCE_ARN_CONDITIONS)


def delivery_problem(statement: Mapping[str, Any], delivery: str, accounts: set[str]) -> str | None:
    """Why an Allow statement of a log bucket's policy grants more than its log delivery needs (None if it does not)."""
    actions = set(actions_of(statement))
    if not actions or not actions <= LOG_DELIVERY_ACTIONS:
        return f"allows {sorted(actions)} (log delivery needs only {sorted(LOG_DELIVERY_ACTIONS)})"
    if delivery == "ALB access logs" and not elb_delivery_principal(statement):
        return f"allows {statement.get('Principal')!r}, not the ELB log delivery"
    if delivery == "CloudTrail" and (service_principals(statement) != [CLOUDTRAIL_SERVICE]
                                     or aws_principals(statement) or not source_arn_bound(statement)):
        return "is not limited to CloudTrail with an aws:SourceArn condition naming the trail"
    if "s3:PutObject" in actions:
        prefixes = {f"/AWSLogs/{account}/*" for account in accounts}
        if not all(any(r.endswith(p) for p in prefixes) for r in resources_of(statement)):
            return f"lets {resources_of(statement)} be written, not only AWSLogs/<account>/"
    return None


@stack_policy("s3-log-buckets-accept-only-their-delivery", "ALB access-log and CloudTrail buckets let only their log "
              "delivery write (the ELB log delivery, or CloudTrail for this trail), and only under "
              "AWSLogs/<account>/", Controls(sources=("README: Edge, Audit (only the log delivery writes)",)),
              [*BUCKETS, BUCKET_POLICY, *LOAD_BALANCERS, TRAIL], Severity.HIGH)
def s3_log_bucket_writers(graph: StackGraph, report: Report) -> None:
    accounts = allowed_accounts(graph)
    for bucket, delivery in log_buckets(graph):
        for policy in configs_of(graph, bucket, BUCKET_POLICY):
            for index, statement in enumerate(statements(get(policy.props, "policy"))):
                problem = delivery_problem(statement, delivery, accounts) if allows(statement) else None
                if problem:
                    report(f"{delivery} {label(bucket)}: statement {statement.get('Sid') or index} {problem}",
                           policy.urn)


def denies_old_tls(statement: Mapping[str, Any]) -> bool:
    condition = (statement.get("Condition") or {}).get("NumericLessThan") or {}
    version = number(condition.get("s3:TlsVersion"))
    return statement.get("Effect") == "Deny" and is_public_principal(statement.get("Principal")) \
        and version is not None and version >= MIN_S3_TLS_VERSION


@stack_policy("s3-alb-log-bucket-tls-1-2", "The ALB access-log bucket denies requests over TLS older than 1.2 "
              "(s3:TlsVersion)", Controls(sources=("README: Edge (denies any request without TLS 1.2+)",
                                                   "guides: TLS 1.2+")),
              [*BUCKETS, BUCKET_POLICY, *LOAD_BALANCERS], Severity.MEDIUM)
def s3_alb_logs_tls_12(graph: StackGraph, report: Report) -> None:
    for bucket in graph.of_type(*BUCKETS):
        if receives_alb_logs(graph, bucket) and not any(
                denies_old_tls(s) for p in configs_of(graph, bucket, BUCKET_POLICY)
                for s in statements(get(p.props, "policy"))):
            report(f"ALB log {label(bucket)} has no bucket policy denying s3:TlsVersion < {MIN_S3_TLS_VERSION}",
                   bucket.urn)


@resource_policy("stateful-resources-protected-in-production", "In production, databases, KMS keys, secrets, "
                 "backup vaults and buckets are `protect`ed (Pulumi refuses to delete them)",
                 Controls(sources=("README: Architecture (deletion protection + protect in prod; secrets protected "
                                   "in prod)",)), STATEFUL_TYPES, Severity.HIGH)
def stateful_protected(args: ResourceValidationArgs, report: Report) -> None:
    if production_stack() and not args.opts.protect:
        report("the resource is not protected in a production stack (a `pulumi destroy` or a rename deletes it)")


def stack_region() -> str | None:
    return pulumi.Config("aws").get("region")


def arn_region(arn: Any) -> str | None:
    return arn.split(":")[3] if isinstance(arn, str) and arn.count(":") >= 5 else None


def copy_problems(graph: StackGraph, plan: PolicyResource) -> list[str]:
    """What keeps a backup plan from being a daily backup copied to another region under that region's own key."""
    rules = items(get(plan.props, "rules"))
    if not any(DAILY_CRON.match(str(get(rule, "schedule") or "")) for rule in rules):
        return ["has no daily schedule"]
    vaults = graph.referenced(plan, "rules", BACKUP_VAULT)
    targets = {get(rule, "targetVaultName") for rule in rules}
    copies = [v for v in vaults if peek(v.props, "name") not in targets]
    region = stack_region()
    remote = [v for v in copies if (peek(v.props, "region") or region) != region]
    if not remote:
        return ["copies to no vault in another region"]
    problems = []
    for vault in remote:
        keys = graph.referenced(vault, "kmsKeyArn", KMS_KEY, KMS_REPLICA_KEY)
        key_regions = {peek(k.props, "region") or arn_region(peek(k.props, "arn")) for k in keys}
        if not keys or key_regions != {peek(vault.props, "region")}:
            problems.append(f"copies to {label(vault)}, which is not under a key of its own region")
    return problems


@stack_policy("backup-cross-region-copy-in-production", "In production, every RDS instance is in an AWS Backup plan "
              "that runs daily and copies to a vault in a second region under that region's own CMK",
              Controls(sources=("README: Architecture (backups)",)),
              [RDS_INSTANCE, BACKUP_SELECTION, BACKUP_PLAN, BACKUP_VAULT, KMS_KEY], Severity.HIGH)
def backup_cross_region(graph: StackGraph, report: Report) -> None:
    if not production_stack():
        return
    for instance in graph.of_type(RDS_INSTANCE):
        plans = [plan for selection in graph.referrers(instance, "resources", BACKUP_SELECTION)
                 for plan in graph.referenced(selection, "planId", BACKUP_PLAN)]
        if not plans:
            report(f"{label(instance)} is in no AWS Backup plan", instance.urn)
        elif all(copy_problems(graph, plan) for plan in plans):
            for plan in plans:
                report(f"{label(instance)}: backup {label(plan)} {'; '.join(copy_problems(graph, plan))}", plan.urn)


@stack_policy("s3-server-access-logging", "Every S3 bucket logs its requests (S3 server access logging) to another "
              "bucket; only the access-log destination itself does not log",
              Controls(fsbp=("S3.9", "CloudTrail.7"), checkov=("CKV_AWS_18",), sources=("CIS AWS 3.6",)),
              [*BUCKETS, *BUCKET_LOGGING_CONFIGS], Severity.MEDIUM)
def s3_server_access_logging(graph: StackGraph, report: Report) -> None:
    for bucket in graph.of_type(*BUCKETS):
        configs = configs_of(graph, bucket, *BUCKET_LOGGING_CONFIGS)
        if any(graph.refers_to(config, "targetBucket", bucket) for config in configs):
            report(f"{label(bucket)} delivers its server access logs to itself (every delivery logs another "
                   "request)", bucket.urn)
        elif not receives_server_access_logs(graph, bucket) and not any(
                present(config.props, "targetBucket") for config in configs):
            report(f"{label(bucket)} has no BucketLogging (S3 server access logging) to an access-log bucket",
                   bucket.urn)


def names_log_delivery(statement: Mapping[str, Any]) -> bool:
    principal: Any = statement.get("Principal")
    return hasattr(principal, "get") and S3_LOG_DELIVERY_SERVICE in items(principal.get("Service"))


def bounded_to_source(statement: Mapping[str, Any]) -> bool:
    """A condition on aws:SourceAccount or aws:SourceArn (any operator): the confused-deputy bound AWS documents."""
    condition = statement.get("Condition") or {}
    return any(key in (values or {}) for values in condition.values() for key in CONFUSED_DEPUTY_KEYS)


@stack_policy("s3-access-log-delivery-bounded", "The S3 server access log destination admits only "
              f"{S3_LOG_DELIVERY_SERVICE}, bounded to the source buckets' account (aws:SourceAccount / "
              "aws:SourceArn)", Controls(sources=("S3 user guide: permissions for log delivery",)),
              [*BUCKETS, *BUCKET_LOGGING_CONFIGS, BUCKET_POLICY], Severity.HIGH)
def s3_access_log_delivery_bounded(graph: StackGraph, report: Report) -> None:
    for bucket in graph.of_type(*BUCKETS):
        if not receives_server_access_logs(graph, bucket):
            continue
        grants = [s for p in configs_of(graph, bucket, BUCKET_POLICY) for s in statements(get(p.props, "policy"))
                  if allows(s) and names_log_delivery(s) and any(a in ("s3:PutObject", "s3:*")
                                                                 for a in actions_of(s))]
        if not grants:
            report(f"access-log destination {label(bucket)} has no bucket policy letting {S3_LOG_DELIVERY_SERVICE} "
                   "write (with ACLs disabled, the policy is the only grant)", bucket.urn)
        for grant in grants:
            if not bounded_to_source(grant):
                report(f"access-log destination {label(bucket)} lets {S3_LOG_DELIVERY_SERVICE} write for any "
                       "account (no aws:SourceAccount / aws:SourceArn condition)", bucket.urn)


@resource_policy("s3-no-force-destroy-in-production", "Production S3 buckets are never force_destroy (a destroy "
                 "or replacement must not delete their objects)", Controls(sources=("design: production keeps "
                                                                                    "everything",)),
                 list(BUCKETS), Severity.HIGH)
def s3_no_force_destroy(args: ResourceValidationArgs, report: Report) -> None:
    if production_stack() and is_true(get(args.props, "forceDestroy")):
        report("forceDestroy is true in a production stack")


# -- AWS Backup ------------------------------------------------------------------------------------------------

@resource_policy("backup-vault-encrypted-with-cmk", "AWS Backup vaults encrypt recovery points with a "
                 "customer-managed KMS key", Controls(fsbp=("Backup.1",), checkov=("CKV_AWS_166",)), [BACKUP_VAULT],
                 Severity.HIGH)
def backup_vault_cmk(args: ResourceValidationArgs, report: Report) -> None:
    if not get(args.props, "kmsKeyArn"):
        report("kmsKeyArn is absent (the AWS-managed backup key would be used)")


POLICIES: list[SecurestackPolicy] = [log_group_encrypted, log_group_retention, s3_public_access, s3_tls_only, s3_default_encryption,
            s3_versioning, s3_acls_disabled, s3_log_buckets_expire, s3_log_bucket_writers, s3_alb_logs_tls_12,
            s3_server_access_logging, s3_access_log_delivery_bounded, s3_no_force_destroy, stateful_protected,
            backup_vault_cmk, backup_cross_region]
