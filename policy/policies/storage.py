"""Where data and logs rest: CloudWatch log groups, S3 buckets and backup vaults, encrypted and kept as long as
an investigation needs them."""
from __future__ import annotations

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, Severity

from .support import (Controls, StackGraph, get, is_public_principal, is_true, items, label, number, present,
                      production_stack, resource_policy, resources_of, stack_policy, statements)
from .types import (BACKUP_VAULT, BUCKETS, BUCKET_POLICY, ENCRYPTION_CONFIGS, LOAD_BALANCERS, LOG_GROUP,
                    PUBLIC_ACCESS_BLOCK, VERSIONING_CONFIGS)

PRODUCTION_MIN_LOG_DAYS = 365  # a year of history for incident response (CIS, PCI DSS 10.5.1)
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
SSE_S3 = "AES256"  # the only encryption ALB access-log delivery supports


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
              "ALB access-log bucket uses SSE-S3, the only encryption ALB log delivery supports",
              Controls(fsbp=("S3.17",), checkov=("CKV_AWS_145",), sources=("guides: AES-256 at rest",)),
              [*BUCKETS, *ENCRYPTION_CONFIGS, *LOAD_BALANCERS], Severity.HIGH)
def s3_default_encryption(graph: StackGraph, report: ReportViolation) -> None:
    for bucket in graph.of_type(*BUCKETS):
        defaults = [d for c in configs_of(graph, bucket, *ENCRYPTION_CONFIGS) for d in default_encryption(c)]
        algorithms = {d.get("sseAlgorithm") for d in defaults}
        if receives_alb_logs(graph, bucket):
            if algorithms != {SSE_S3}:
                report(f"ALB log {label(bucket)} encrypts with {sorted(map(str, algorithms))}; ALB log delivery "
                       f"needs {SSE_S3}", bucket.urn)
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


# -- AWS Backup ------------------------------------------------------------------------------------------------

@resource_policy("backup-vault-encrypted-with-cmk", "AWS Backup vaults encrypt recovery points with a "
                 "customer-managed KMS key", Controls(fsbp=("Backup.1",), checkov=("CKV_AWS_166",)), [BACKUP_VAULT],
                 Severity.HIGH)
def backup_vault_cmk(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not get(args.props, "kmsKeyArn"):
        report("kmsKeyArn is absent (the AWS-managed backup key would be used)")


POLICIES = [log_group_encrypted, log_group_retention, s3_public_access, s3_tls_only, s3_default_encryption,
            s3_versioning, backup_vault_cmk]
