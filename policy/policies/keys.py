"""KMS keys: rotated, never public, never locked out of their own policy."""
from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from .support import (Controls, allows, describe_statement, get, is_public_principal, is_true, resource_policy,
                      statements)
from .types import KMS_KEY, KMS_KEY_POLICY, KMS_REPLICA_KEY

SYMMETRIC = "SYMMETRIC_DEFAULT"


@resource_policy("kms-key-rotation", "Symmetric customer-managed KMS keys rotate their key material",
                 Controls(fsbp=("KMS.4",), checkov=("CKV_AWS_7",)), [KMS_KEY], Severity.MEDIUM)
def kms_rotation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = get(args.props, "customerMasterKeySpec") or SYMMETRIC
    usage = get(args.props, "keyUsage") or "ENCRYPT_DECRYPT"
    if spec == SYMMETRIC and usage == "ENCRYPT_DECRYPT" and not is_true(get(args.props, "enableKeyRotation")):
        report("enableKeyRotation is not true")


@resource_policy("kms-key-policy-no-public-principal", "KMS key policies grant nothing to `*` without a condition "
                 "(and every key has an explicit policy)", Controls(fsbp=("KMS.5",), checkov=("CKV_AWS_33",)),
                 [KMS_KEY, KMS_REPLICA_KEY, KMS_KEY_POLICY], Severity.CRITICAL)
def kms_no_public_principal(args: ResourceValidationArgs, report: ReportViolation) -> None:
    document = get(args.props, "policy")
    if not document and args.resource_type != KMS_KEY_POLICY:
        # The default key policy lets any IAM principal of the account with kms:* use the key.
        report("the key has no explicit key policy")
        return
    for index, statement in enumerate(statements(document)):
        if allows(statement) and is_public_principal(statement.get("Principal")) and not statement.get("Condition"):
            report(f"{describe_statement(statement, index)} allows Principal '*' without a condition")


@resource_policy("kms-lockout-safety-check", "KMS key policy changes keep the lockout safety check",
                 Controls(sources=("design: lockout safety check on",)), [KMS_KEY, KMS_REPLICA_KEY, KMS_KEY_POLICY],
                 Severity.HIGH)
def kms_lockout_check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if is_true(get(args.props, "bypassPolicyLockoutSafetyCheck")):
        report("bypassPolicyLockoutSafetyCheck is true")


POLICIES = [kms_rotation, kms_no_public_principal, kms_lockout_check]
