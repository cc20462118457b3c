"""KMS keys: rotated, never public, never locked out of their own policy."""
from __future__ import annotations

from typing import Any, Mapping

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .support import Report, SecurestackPolicy
from .support import (Controls, StackGraph, allows, describe_statement, get, is_public_principal, is_true, items,
                      label, number, peek, resource_policy, stack_policy, statements)
from .types import (BACKUP_VAULT, BUCKETS, ENCRYPTION_CONFIGS, FUNCTION, KMS_KEY, KMS_KEY_POLICY, KMS_REPLICA_KEY,
                    LOG_GROUP, RDS_INSTANCE, SECRET, SIGNING_JOB, TOPIC, TRAIL)

SYMMETRIC = "SYMMETRIC_DEFAULT"
MAX_ROTATION_PERIOD_DAYS = 365  # README: yearly rotation (KMS allows up to 2560)
PURPOSE_TAG = "securestack:key-purpose"
# Which key purpose may encrypt what (README "Architecture", keys: a CMK per purpose). Backup vaults take the data
# key, or in the copy region that region's own backup-copy key. Lambda environments take the secrets key (README
# "Architecture", rotation), and so does the bucket the functions' code comes from (the signed rotator archives:
# README "Rotator code signing"); every other bucket holds logs.
CODE_BUCKET_PURPOSES = {"secrets"}
KEY_USES = (
    (RDS_INSTANCE, "kmsKeyId", {"data"}), (RDS_INSTANCE, "performanceInsightsKmsKeyId", {"data"}),
    (RDS_INSTANCE, "masterUserSecretKmsKeyId", {"data"}), (BACKUP_VAULT, "kmsKeyArn", {"data", "backup-copy"}),
    (SECRET, "kmsKeyId", {"secrets"}), (FUNCTION, "kmsKeyArn", {"secrets"}),
    (LOG_GROUP, "kmsKeyId", {"logs"}), (TRAIL, "kmsKeyId", {"logs"}), (TOPIC, "kmsMasterKeyId", {"logs"}),
    *((config, "rules", {"logs"}) for config in ENCRYPTION_CONFIGS),
)


@resource_policy("kms-key-rotation", "Symmetric customer-managed KMS keys rotate their key material at least yearly",
                 Controls(fsbp=("KMS.4",), checkov=("CKV_AWS_7",)), [KMS_KEY], Severity.MEDIUM)
def kms_rotation(args: ResourceValidationArgs, report: Report) -> None:
    spec = get(args.props, "customerMasterKeySpec") or SYMMETRIC
    usage = get(args.props, "keyUsage") or "ENCRYPT_DECRYPT"
    if spec == SYMMETRIC and usage == "ENCRYPT_DECRYPT" and not is_true(get(args.props, "enableKeyRotation")):
        report("enableKeyRotation is not true")
    period = number(get(args.props, "rotationPeriodInDays"))
    if period is not None and period > MAX_ROTATION_PERIOD_DAYS:
        report(f"rotationPeriodInDays is {period:.0f}; keys rotate at least yearly ({MAX_ROTATION_PERIOD_DAYS})")


@resource_policy("kms-key-policy-no-public-principal", "KMS key policies grant nothing to `*` without a condition "
                 "(and every key has an explicit policy)", Controls(fsbp=("KMS.5",), checkov=("CKV_AWS_33",)),
                 [KMS_KEY, KMS_REPLICA_KEY, KMS_KEY_POLICY], Severity.CRITICAL)
def kms_no_public_principal(args: ResourceValidationArgs, report: Report) -> None:
    document = get(args.props, "policy")
    if not document and args.resource_type != KMS_KEY_POLICY:
        # The default key policy lets any IAM principal of the account with kms:* use the key.
        report("the key has no explicit key policy")
        return
    for index, statement in enumerate(statements(document)):
        if allows(statement) and is_public_principal(statement.get("Principal")) and not statement.get("Condition"):
            report(f"{describe_statement(statement, index)} allows Principal '*' without a condition")


def service_principals(statement: Mapping[str, Any]) -> list[Any]:
    principal: Any = statement.get("Principal")
    return items(principal.get("Service")) if hasattr(principal, "get") else []


@resource_policy("kms-key-policy-service-grants-bounded", "KMS key policies let an AWS service use a key only with a "
                 "condition that bounds it to this account's resources (encryption context, source account or ARN)",
                 Controls(sources=("components/keys.py: CloudWatch Logs may use the key only for log groups of this "
                                   "account and region", "design: policies name principals")),
                 [KMS_KEY, KMS_REPLICA_KEY, KMS_KEY_POLICY], Severity.HIGH)
def kms_service_grants_bounded(args: ResourceValidationArgs, report: Report) -> None:
    for index, statement in enumerate(statements(get(args.props, "policy"))):
        if allows(statement) and service_principals(statement) and not statement.get("Condition"):
            report(f"{describe_statement(statement, index)} lets {service_principals(statement)} use the key for "
                   "any account's resources (no condition)")


@resource_policy("kms-lockout-safety-check", "KMS key policy changes keep the lockout safety check",
                 Controls(sources=("design: lockout safety check on",)), [KMS_KEY, KMS_REPLICA_KEY, KMS_KEY_POLICY],
                 Severity.HIGH)
def kms_lockout_check(args: ResourceValidationArgs, report: Report) -> None:
    if is_true(get(args.props, "bypassPolicyLockoutSafetyCheck")):
        report("bypassPolicyLockoutSafetyCheck is true")


def purpose_of(key: PolicyResource) -> str | None:
    purpose = peek(key.props, "tags", PURPOSE_TAG)
    return purpose if isinstance(purpose, str) else None


@stack_policy("kms-keys-by-purpose", f"Each key purpose (data, secrets, logs) has its own CMK ({PURPOSE_TAG} tag) and "
              "each key encrypts only what its purpose covers (the database, the secrets, the logs)",
              Controls(sources=("README: Architecture (a CMK per purpose (data, secrets, logs))",
                                "guides: separate keys per purpose and environment")),
              [KMS_KEY, KMS_REPLICA_KEY, SIGNING_JOB, *BUCKETS, *(use[0] for use in KEY_USES)], Severity.HIGH)
def kms_keys_by_purpose(graph: StackGraph, report: Report) -> None:
    keys = graph.of_type(KMS_KEY, KMS_REPLICA_KEY)
    seen: dict[tuple[str, Any], PolicyResource] = {}  # (purpose, region) -> the first key found
    for key in keys:
        purpose = purpose_of(key)
        if purpose is None:
            report(f"{label(key)} has no {PURPOSE_TAG} tag", key.urn)
        elif (purpose, peek(key.props, "region")) in seen:
            report(f"{label(key)} and {label(seen[(purpose, peek(key.props, 'region'))])} share the purpose "
                   f"{purpose!r}", key.urn)
        else:
            seen[(purpose, peek(key.props, "region"))] = key
    # A signing job's buckets are the code bucket too: during a preview a function's s3Bucket (the signed object's)
    # is unknown and depends on the job, not on the bucket.
    code_buckets = [b for f in graph.of_type(FUNCTION) for b in graph.referenced(f, "s3Bucket", *BUCKETS)] + \
        [b for job in graph.of_type(SIGNING_JOB) for prop in ("source", "destination")
         for b in graph.referenced(job, prop, *BUCKETS)]
    for resource_type, prop, default_purposes in KEY_USES:
        for resource in graph.of_type(resource_type):
            holds_code = resource_type in ENCRYPTION_CONFIGS and any(
                graph.refers_to(resource, "bucket", bucket) for bucket in code_buckets)
            purposes = CODE_BUCKET_PURPOSES if holds_code else default_purposes
            for key in graph.referenced(resource, prop, KMS_KEY, KMS_REPLICA_KEY):
                if purpose_of(key) is not None and purpose_of(key) not in purposes:
                    report(f"{label(resource)}'s {prop} uses the {purpose_of(key)!r} key {label(key)}; it takes "
                           f"the {' or '.join(sorted(purposes))} key", resource.urn)


POLICIES: list[SecurestackPolicy] = [kms_rotation, kms_no_public_principal, kms_service_grants_bounded, kms_lockout_check,
            kms_keys_by_purpose]
