"""Audit trail: CloudTrail in every region, encrypted, validated, into CloudWatch Logs; an encrypted alarm topic."""
from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from .support import Controls, get, is_false, is_true, resource_policy
from .types import TOPIC, TRAIL

AWS_MANAGED_SNS_KEY = "alias/aws/sns"  # CloudWatch alarms cannot publish to a topic under it


@resource_policy("cloudtrail-multi-region", "CloudTrail trails record every region and global service events",
                 Controls(fsbp=("CloudTrail.1",), checkov=("CKV_AWS_67",)), [TRAIL], Severity.HIGH)
def trail_multi_region(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_true(get(args.props, "isMultiRegionTrail")):
        report("isMultiRegionTrail is not true")
    if is_false(get(args.props, "includeGlobalServiceEvents")):
        report("includeGlobalServiceEvents is false")
    if is_false(get(args.props, "enableLogging")):
        report("enableLogging is false")


@resource_policy("cloudtrail-encrypted-with-cmk", "CloudTrail log files are encrypted with a customer-managed KMS key",
                 Controls(fsbp=("CloudTrail.2",), checkov=("CKV_AWS_35",)), [TRAIL], Severity.MEDIUM)
def trail_cmk(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not get(args.props, "kmsKeyId"):
        report("kmsKeyId is absent")


@resource_policy("cloudtrail-log-file-validation", "CloudTrail log file integrity validation is on",
                 Controls(fsbp=("CloudTrail.4",), checkov=("CKV_AWS_36",)), [TRAIL], Severity.MEDIUM)
def trail_validation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_true(get(args.props, "enableLogFileValidation")):
        report("enableLogFileValidation is not true")


@resource_policy("cloudtrail-cloudwatch-logs", "CloudTrail delivers to CloudWatch Logs (where the alarms watch)",
                 Controls(fsbp=("CloudTrail.5",), checkov=("CKV2_AWS_10",),
                          sources=("guides: audit logs monitored",)), [TRAIL], Severity.MEDIUM)
def trail_cloudwatch(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not get(args.props, "cloudWatchLogsGroupArn") or not get(args.props, "cloudWatchLogsRoleArn"):
        report("cloudWatchLogsGroupArn or cloudWatchLogsRoleArn is absent")


@resource_policy("sns-topic-encrypted-with-cmk", "SNS topics are encrypted with a customer-managed KMS key",
                 Controls(fsbp=("SNS.1",), checkov=("CKV_AWS_26",)), [TOPIC], Severity.MEDIUM)
def topic_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    key = get(args.props, "kmsMasterKeyId")
    if not key or str(key).endswith(AWS_MANAGED_SNS_KEY):
        report("kmsMasterKeyId names no customer-managed key")


POLICIES = [trail_multi_region, trail_cmk, trail_validation, trail_cloudwatch, topic_encrypted]
