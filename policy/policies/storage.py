"""Where data and logs rest: CloudWatch log groups, S3 buckets and backup vaults, encrypted and kept as long as
an investigation needs them."""
from __future__ import annotations

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, Severity

from .support import (Controls, StackGraph, actions_of, allows, get, is_public_principal, is_true, items, label,
                      number, present, production_stack, resource_policy, resources_of, stack_policy, statements)
from .types import (BACKUP_VAULT, BUCKETS, BUCKET_LOGGING_CONFIGS, BUCKET_POLICY, ENCRYPTION_CONFIGS,
                    LOAD_BALANCERS, LOG_GROUP, PUBLIC_ACCESS_BLOCK, VERSIONING_CONFIGS)

PRODUCTION_MIN_LOG_DAYS = 365  # a year of history for incident response (CIS, PCI DSS 10.5.1)
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
SSE_S3 = "AES256"  # the only encryption ALB access-log and S3 server access log delivery support
S3_LOG_DELIVERY_SERVICE = "logging.s3.amazonaws.com"
CONFUSED_DEPUTY_KEYS = ("aws:SourceAccount", "aws:SourceArn")


# -- CloudWatch Logs -------------------------------------------------------------------------------------------

@resource_policy("log-group-encrypted", "CloudWatch log groups are encrypted with a customer-managed KMS key",
                 Controls(checkov=("CKV_AWS_158",)), [LOG_GROUP], Severity.MEDIUM)
def log_group_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not get(args.props, "kmsKeyId"):
        report("kmsKeyId is absent")


@resource_policy("log-group-retention", f"CloudWatch log groups have a retention (at least {PRODUCTION_MIN_LOG_DAYS} "
                 "days in production)", Controls(checkov=("CKV_AWS_66", "CKV_AWS_338")), [LOG_GROUP], Severity.LOW)
def log_group_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
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
def s3_public_access(graph: StackGraph, report: ReportViolation) -> None:
    for bucket in graph.of_type(*BUCKETS):
        blocks = configs_of(graph, bucket, PUBLIC_ACCESS_BLOCK)
        if not any(all(is_true(get(b.props, flag)) for flag in PUBLIC_ACCESS_FLAGS) for b in blocks):
            report(f"{label(bucket)} has no BucketPublicAccessBlock with {', '.join(PUBLIC_ACCESS_FLAGS)} all "
                   "true", bucket.urn)


def denies_plain_http(statement) -> bool:
    condition = statement.get("Condition") or {}
    bool_condition = condition.get("Bool") or {}
    return (statement.get("Effect") == "Deny" and is_public_principal(statement.get("Principal"))
            and str(bool_condition.get("aws:SecureTransport")).lower() == "false"
            and any(r.endswith("/*") for r in resources_of(statement)))


@stack_policy("s3-tls-only", "Every S3 bucket policy denies requests without TLS (aws:SecureTransport false)",
              Controls(fsbp=("S3.5",), sources=("guides: HTTPS only",)), [*BUCKETS, BUCKET_POLICY], Severity.HIGH)
def s3_tls_only(graph: StackGraph, report: ReportViolation) -> None:
    for bucket in graph.of_type(*BUCKETS):
        policies = configs_of(graph, bucket, BUCKET_POLICY)
        if not any(denies_plain_http(s) for p in policies for s in statements(get(p.props, "policy"))):
            report(f"{label(bucket)} has no bucket policy denying aws:SecureTransport=false", bucket.urn)


def default_encryption(config: PolicyResource) -> list[dict]:
    """(algorithm, whether a KMS key is named) of each rule; the key's ARN itself may be unknown in a preview."""
    return [{"sseAlgorithm": get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"),
             "kmsMasterKeyId": present(get(rule, "applyServerSideEncryptionByDefault"), "kmsMasterKeyId")}
            for rule in items(get(config.props, "rules"))]


@stack_policy("s3-default-encryption", "Every S3 bucket encrypts by default with a customer-managed KMS key; the "
              "ALB access-log bucket and the S3 server access log bucket use SSE-S3, the only encryption their log "
              "delivery supports",
              Controls(fsbp=("S3.17",), checkov=("CKV_AWS_145",), sources=("guides: AES-256 at rest",)),
              [*BUCKETS, *ENCRYPTION_CONFIGS, *LOAD_BALANCERS, *BUCKET_LOGGING_CONFIGS], Severity.HIGH)
def s3_default_encryption(graph: StackGraph, report: ReportViolation) -> None:
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
def s3_versioning(graph: StackGraph, report: ReportViolation) -> None:
    for bucket in graph.of_type(*BUCKETS):
        configs = configs_of(graph, bucket, *VERSIONING_CONFIGS)
        if not any(get(c.props, "versioningConfiguration", "status") == "Enabled" for c in configs):
            report(f"{label(bucket)} has no BucketVersioning with status Enabled", bucket.urn)


@stack_policy("s3-server-access-logging", "Every S3 bucket logs its requests (S3 server access logging) to another "
              "bucket; only the access-log destination itself does not log",
              Controls(fsbp=("S3.9", "CloudTrail.7"), checkov=("CKV_AWS_18",), sources=("CIS AWS 3.6",)),
              [*BUCKETS, *BUCKET_LOGGING_CONFIGS], Severity.MEDIUM)
def s3_server_access_logging(graph: StackGraph, report: ReportViolation) -> None:
    for bucket in graph.of_type(*BUCKETS):
        configs = configs_of(graph, bucket, *BUCKET_LOGGING_CONFIGS)
        if any(graph.refers_to(config, "targetBucket", bucket) for config in configs):
            report(f"{label(bucket)} delivers its server access logs to itself (every delivery logs another "
                   "request)", bucket.urn)
        elif not receives_server_access_logs(graph, bucket) and not any(
                present(config.props, "targetBucket") for config in configs):
            report(f"{label(bucket)} has no BucketLogging (S3 server access logging) to an access-log bucket",
                   bucket.urn)


def names_log_delivery(statement) -> bool:
    principal = statement.get("Principal")
    return hasattr(principal, "get") and S3_LOG_DELIVERY_SERVICE in items(principal.get("Service"))


def bounded_to_source(statement) -> bool:
    """A condition on aws:SourceAccount or aws:SourceArn (any operator): the confused-deputy bound AWS documents."""
    condition = statement.get("Condition") or {}
    return any(key in (values or {}) for values in condition.values() for key in CONFUSED_DEPUTY_KEYS)


@stack_policy("s3-access-log-delivery-bounded", "The S3 server access log destination admits only "
              f"{S3_LOG_DELIVERY_SERVICE}, bounded to the source buckets' account (aws:SourceAccount / "
              "aws:SourceArn)", Controls(sources=("S3 user guide: permissions for log delivery",)),
              [*BUCKETS, *BUCKET_LOGGING_CONFIGS, BUCKET_POLICY], Severity.HIGH)
def s3_access_log_delivery_bounded(graph: StackGraph, report: ReportViolation) -> None:
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
def s3_no_force_destroy(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if production_stack() and is_true(get(args.props, "forceDestroy")):
        report("forceDestroy is true in a production stack")


# -- AWS Backup ------------------------------------------------------------------------------------------------

@resource_policy("backup-vault-encrypted-with-cmk", "AWS Backup vaults encrypt recovery points with a "
                 "customer-managed KMS key", Controls(fsbp=("Backup.1",), checkov=("CKV_AWS_166",)), [BACKUP_VAULT],
                 Severity.HIGH)
def backup_vault_cmk(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not get(args.props, "kmsKeyArn"):
        report("kmsKeyArn is absent (the AWS-managed backup key would be used)")


POLICIES = [log_group_encrypted, log_group_retention, s3_public_access, s3_tls_only, s3_default_encryption,
            s3_versioning, s3_server_access_logging, s3_access_log_delivery_bounded, s3_no_force_destroy,
            backup_vault_cmk]
