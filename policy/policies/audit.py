"""Audit trail: CloudTrail in every region, encrypted, validated, into CloudWatch Logs; an encrypted alarm topic."""
from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from .support import (Controls, StackGraph, actions_of, get, is_false, is_public_principal, is_true, items, label,
                      resource_policy, resources_of, stack_policy, statements)
from .types import BUCKET_POLICY, BUCKETS, TOPIC, TOPIC_POLICY, TRAIL

AWS_MANAGED_SNS_KEY = "alias/aws/sns"  # CloudWatch alarms cannot publish to a topic under it
# Set only when a service principal calls directly (IAM "AWS global condition context keys"): a Deny unless one of
# them matches stops every IAM user and role, whatever its own policies allow.
SERVICE_CALLER_KEYS = ("aws:PrincipalServiceName", "aws:SourceArn")
NEGATED_OPERATORS = ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike")


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


@resource_policy("cloudtrail-sns-notifications", "CloudTrail trails notify an SNS topic of each log file delivery",
                 Controls(checkov=("CKV_AWS_252",)), [TRAIL], Severity.LOW)
def trail_sns(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not get(args.props, "snsTopicName"):
        report("snsTopicName is absent")


def denies_all_but_service_callers(statement, action: str, service: str) -> bool:
    """A Deny of `action` (or the service's `*`) to everyone unless the caller is a service principal (and, for
    aws:SourceArn, a given resource of it): IAM principals never carry those keys."""
    if statement.get("Effect") != "Deny" or not is_public_principal(statement.get("Principal")):
        return False
    if not any(a.lower() in (action.lower(), f"{service}:*", "*") for a in actions_of(statement)):
        return False
    condition = statement.get("Condition") or {}
    if set(condition) - set(NEGATED_OPERATORS):  # any other condition narrows the deny
        return False
    return any(key in (condition.get(operator) or {}) for operator in NEGATED_OPERATORS
               for key in SERVICE_CALLER_KEYS)


def grants_service(statement, action: str) -> bool:
    principal = statement.get("Principal")
    return statement.get("Effect") == "Allow" and hasattr(principal, "get") and bool(principal.get("Service")) \
        and any(a.lower() == action.lower() for a in actions_of(statement))


@resource_policy("sns-publish-only-by-granted-service", "A topic that lets an AWS service publish denies "
                 "sns:Publish to every other caller, same-account IAM principals included (aws:PrincipalServiceName"
                 " / aws:SourceArn)", Controls(sources=("design: only this account's alarms publish",)),
                 [TOPIC, TOPIC_POLICY], Severity.HIGH)
def sns_publish_only_by_service(args: ResourceValidationArgs, report: ReportViolation) -> None:
    document = statements(get(args.props, "policy"))
    if any(grants_service(s, "sns:Publish") for s in document) and not any(
            denies_all_but_service_callers(s, "sns:Publish", "sns") for s in document):
        report("lets a service publish but does not deny sns:Publish to other principals (a role with sns:Publish "
               "in its own policy could send fake alarms)")


@stack_policy("cloudtrail-bucket-written-only-by-trail", "The trail's bucket denies s3:PutObject to everyone but "
              "CloudTrail acting for this trail (aws:SourceArn / aws:PrincipalServiceName)",
              Controls(sources=("design: only this trail writes",)), [TRAIL, *BUCKETS, BUCKET_POLICY], Severity.HIGH)
def trail_bucket_written_only_by_trail(graph: StackGraph, report: ReportViolation) -> None:
    for trail in graph.of_type(TRAIL):
        for bucket in graph.referenced(trail, "s3BucketName", *BUCKETS):
            documents = [statements(get(p.props, "policy")) for p in graph.referrers(bucket, "bucket", BUCKET_POLICY)]
            if not any(denies_all_but_service_callers(s, "s3:PutObject", "s3")
                       and any(r.endswith("/*") for r in resources_of(s)) for d in documents for s in d):
                report(f"{label(bucket)} (written by {label(trail)}) has no policy denying s3:PutObject to "
                       "principals other than CloudTrail for this trail", bucket.urn)


POLICIES = [trail_multi_region, trail_cmk, trail_validation, trail_cloudwatch, trail_sns, topic_encrypted,
            sns_publish_only_by_service, trail_bucket_written_only_by_trail]
