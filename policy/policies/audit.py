"""Audit trail: CloudTrail in every region, encrypted, validated, into CloudWatch Logs; an encrypted alarm topic."""
from __future__ import annotations

from typing import Any, Mapping

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .boundaries import allowed_accounts
from .support import Report, SecurestackPolicy
from .support import (Controls, StackGraph, actions_of, allows, get, is_false, is_public_principal, is_true, items,
                      label, peek, plain, present, resource_policy, resources_of, stack_policy, statements)
from .types import BUCKET_POLICY, BUCKETS, LOG_METRIC_FILTER, METRIC_ALARM, TOPIC, TOPIC_POLICY, TRAIL, WEB_ACL

AWS_MANAGED_SNS_KEY = "alias/aws/sns"  # CloudWatch alarms cannot publish to a topic under it
MANAGEMENT = "Management"
# What each watched event class's metric filter must match: for CIS CloudWatch.1-14 a term of the pattern Security
# Hub checks for, for the project's own alarms a term of theirs (README "Audit"). A filter counts when its pattern
# has every term of a row and an alarm watches its metric.
WATCHED_EVENTS = {
    "CloudWatch.1 (root user usage)": ('"Root"', "invokedBy NOT EXISTS"),
    "CloudWatch.2 (unauthorized API calls)": ("*UnauthorizedOperation", "AccessDenied*"),
    "CloudWatch.3 (console sign-in without MFA)": ("ConsoleLogin", "MFAUsed"),
    "CloudWatch.4 (IAM policy changes)": ("DeleteGroupPolicy", "AttachRolePolicy", "CreatePolicyVersion"),
    "CloudWatch.5 (CloudTrail changes)": ("StopLogging", "DeleteTrail", "UpdateTrail"),
    "CloudWatch.6 (console authentication failures)": ("ConsoleLogin", "Failed authentication"),
    "CloudWatch.7 (CMK disabled or scheduled for deletion)": ("DisableKey", "ScheduleKeyDeletion"),
    "CloudWatch.8 (S3 bucket policy changes)": ("PutBucketPolicy", "PutBucketAcl"),
    "CloudWatch.9 (AWS Config changes)": ("StopConfigurationRecorder", "DeleteDeliveryChannel"),
    "CloudWatch.10 (security group changes)": ("AuthorizeSecurityGroupIngress", "DeleteSecurityGroup"),
    "CloudWatch.11 (network ACL changes)": ("CreateNetworkAclEntry", "ReplaceNetworkAclAssociation"),
    "CloudWatch.12 (network gateway changes)": ("AttachInternetGateway", "CreateCustomerGateway"),
    "CloudWatch.13 (route table changes)": ("CreateRoute", "ReplaceRouteTableAssociation"),
    "CloudWatch.14 (VPC changes)": ("ModifyVpcAttribute", "CreateVpcPeeringConnection"),
    "secrets-access-denied": ("secretsmanager.amazonaws.com", "AccessDenied"),
    "secrets-unexpected-principal": ("secretsmanager.amazonaws.com", "SecretValue", "$.userIdentity.arn !="),
    "secret-rotation-failures": ("RotationFailed", "RotationAbandoned"),
    "rds-deletion-protection-off": ("rds.amazonaws.com", "deletionProtection IS FALSE"),
}
WAF_NAMESPACE, WAF_BLOCKED_METRIC = "AWS/WAFV2", "BlockedRequests"
# Set only when a service principal calls directly (IAM "AWS global condition context keys"): a Deny unless one of
# them matches stops every IAM user and role, whatever its own policies allow.
SERVICE_CALLER_KEYS = ("aws:PrincipalServiceName", "aws:SourceArn")
NEGATED_OPERATORS = ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike")


@resource_policy("cloudtrail-multi-region", "CloudTrail trails record every region and global service events",
                 Controls(fsbp=("CloudTrail.1",), checkov=("CKV_AWS_67",)), [TRAIL], Severity.HIGH)
def trail_multi_region(args: ResourceValidationArgs, report: Report) -> None:
    if not is_true(get(args.props, "isMultiRegionTrail")):
        report("isMultiRegionTrail is not true")
    if is_false(get(args.props, "includeGlobalServiceEvents")):
        report("includeGlobalServiceEvents is false")
    if is_false(get(args.props, "enableLogging")):
        report("enableLogging is false")


@resource_policy("cloudtrail-encrypted-with-cmk", "CloudTrail log files are encrypted with a customer-managed KMS key",
                 Controls(fsbp=("CloudTrail.2",), checkov=("CKV_AWS_35",)), [TRAIL], Severity.MEDIUM)
def trail_cmk(args: ResourceValidationArgs, report: Report) -> None:
    if not get(args.props, "kmsKeyId"):
        report("kmsKeyId is absent")


@resource_policy("cloudtrail-log-file-validation", "CloudTrail log file integrity validation is on",
                 Controls(fsbp=("CloudTrail.4",), checkov=("CKV_AWS_36",)), [TRAIL], Severity.MEDIUM)
def trail_validation(args: ResourceValidationArgs, report: Report) -> None:
    if not is_true(get(args.props, "enableLogFileValidation")):
        report("enableLogFileValidation is not true")


@resource_policy("cloudtrail-cloudwatch-logs", "CloudTrail delivers to CloudWatch Logs (where the alarms watch)",
                 Controls(fsbp=("CloudTrail.5",), checkov=("CKV2_AWS_10",),
                          sources=("guides: audit logs monitored",)), [TRAIL], Severity.MEDIUM)
def trail_cloudwatch(args: ResourceValidationArgs, report: Report) -> None:
    if not get(args.props, "cloudWatchLogsGroupArn") or not get(args.props, "cloudWatchLogsRoleArn"):
        report("cloudWatchLogsGroupArn or cloudWatchLogsRoleArn is absent")


@resource_policy("cloudtrail-all-management-events", "CloudTrail trails record every management event, read and write "
                 "(secret reads are read management events)", Controls(
                     fsbp=("CloudTrail.1",), sources=("README: Audit (every management event, read and write)",)),
                 [TRAIL], Severity.HIGH)
def trail_management_events(args: ResourceValidationArgs, report: Report) -> None:
    selectors = items(get(args.props, "eventSelectors"))
    advanced = items(get(args.props, "advancedEventSelectors"))
    if advanced:
        if not any(all(get(f, "field") == "eventCategory" and items(get(f, "equals")) == [MANAGEMENT]
                       for f in items(get(selector, "fieldSelectors"))) for selector in advanced):
            report("no advanced event selector records every management event (only eventCategory = Management)")
        return
    if not selectors:
        # CloudTrail API reference, EventSelector: "trails created without specific event selectors will be
        # configured to log all read and write management events".
        return
    if not any((get(s, "readWriteType") or "All") == "All" and not is_false(get(s, "includeManagementEvents"))
               and not items(get(s, "excludeManagementEventSources")) for s in selectors):
        report("no event selector records every management event (readWriteType All, management events on, no "
               "excluded event source)")


def watching_alarms(graph: StackGraph, metric_filter: PolicyResource) -> list[PolicyResource]:
    transformations = items(peek(metric_filter.props, "metricTransformation"))
    metrics = {(peek(t, "name"), peek(t, "namespace")) for t in transformations}
    return [alarm for alarm in graph.of_type(METRIC_ALARM)
            if (peek(alarm.props, "metricName"), peek(alarm.props, "namespace")) in metrics]


@stack_policy("audit-security-alarms", "The trail's log group is watched by the 14 CIS CloudWatch.1-14 metric filters "
              "and the project's own (secret access, rotation failures, RDS deletion protection), each with an "
              "alarm; a web ACL's blocked requests have an alarm", Controls(
                  fsbp=tuple(f"CloudWatch.{n}" for n in range(1, 15)),
                  sources=("README: Audit (what is watched)",)),
              [LOG_METRIC_FILTER, METRIC_ALARM, WEB_ACL], Severity.HIGH)
def audit_security_alarms(graph: StackGraph, report: Report) -> None:
    # `get`: a pattern computed from ARNs is unknown during a preview, and the verdict waits for `pulumi up`.
    patterns = [str(get(f.props, "pattern") or "") for f in graph.of_type(LOG_METRIC_FILTER)
                if watching_alarms(graph, f)]
    for event, terms in WATCHED_EVENTS.items():
        if not any(all(term in pattern for term in terms) for pattern in patterns):
            report(f"no metric filter with an alarm watches {event} (its pattern needs {', '.join(terms)})")
    if graph.of_type(WEB_ACL) and not any(peek(a.props, "namespace") == WAF_NAMESPACE
                                          and peek(a.props, "metricName") == WAF_BLOCKED_METRIC
                                          for a in graph.of_type(METRIC_ALARM)):
        report(f"no alarm watches the web ACL's {WAF_NAMESPACE} {WAF_BLOCKED_METRIC}")


def encrypted_topic(topic: PolicyResource) -> bool:
    key = peek(topic.props, "kmsMasterKeyId")
    return present(topic.props, "kmsMasterKeyId") and not str(key).endswith(AWS_MANAGED_SNS_KEY)


@stack_policy("audit-alarms-to-encrypted-topic", "Every CloudWatch alarm notifies, with actions enabled, one SNS topic "
              "of the stack, encrypted with a customer-managed key", Controls(
                  sources=("README: Architecture (every alarm to one KMS-encrypted SNS topic)",)),
              [METRIC_ALARM, TOPIC], Severity.HIGH)
def alarms_to_encrypted_topic(graph: StackGraph, report: Report) -> None:
    topics = set()
    for alarm in graph.of_type(METRIC_ALARM):
        targets = graph.referenced(alarm, "alarmActions", TOPIC)
        if is_false(peek(alarm.props, "actionsEnabled")) or not targets:
            report(f"{label(alarm)} notifies no SNS topic of the stack (actions disabled or none)", alarm.urn)
        for topic in targets:
            topics.add(topic.urn)
            if not encrypted_topic(topic):
                report(f"{label(alarm)} notifies {label(topic)}, which no customer-managed key encrypts", alarm.urn)
    if len(topics) > 1:
        report(f"alarms notify {len(topics)} different topics; every alarm goes to the one security-alarm topic")


def publish_problems(document: Any, accounts: set[str]) -> list[str]:
    problems = []
    parsed = statements(document)
    for index, statement in enumerate(parsed):
        if not allows(statement):
            continue
        principal: Any = statement.get("Principal")
        services = items(principal.get("Service")) if hasattr(principal, "get") else []
        condition = plain(statement.get("Condition") or {})
        bound = {str(v) for operator in condition.values() if hasattr(operator, "get")
                 for key in ("aws:SourceAccount", "aws:SourceOwner") for v in items(operator.get(key))}
        if is_public_principal(principal) or services != ["cloudwatch.amazonaws.com"]:
            problems.append(f"statement {statement.get('Sid') or index} allows {principal!r}, not CloudWatch alarms")
        elif not bound or not bound <= accounts:
            problems.append(f"statement {statement.get('Sid') or index} does not bind CloudWatch to this account "
                            "(aws:SourceAccount)")
    if not any(s.get("Effect") == "Deny" and is_public_principal(s.get("Principal"))
               and str(((s.get("Condition") or {}).get("Bool") or {}).get("aws:SecureTransport")).lower() == "false"
               for s in parsed):
        problems.append("no statement denies publishing without TLS (aws:SecureTransport false)")
    return problems


@stack_policy("sns-alarm-topic-publish-scoped", "Only this account's CloudWatch alarms may publish to the alarm topic, "
              "and only over TLS", Controls(sources=(
                  "README: Audit (only this account's CloudWatch alarms may publish, only over TLS)",)),
              [METRIC_ALARM, TOPIC, TOPIC_POLICY], Severity.HIGH)
def alarm_topic_publish_scoped(graph: StackGraph, report: Report) -> None:
    accounts = allowed_accounts(graph)
    topics = {t.urn: t for alarm in graph.of_type(METRIC_ALARM) for t in graph.referenced(alarm, "alarmActions",
                                                                                            TOPIC)}
    for topic in topics.values():
        policies = graph.referrers(topic, "arn", TOPIC_POLICY)
        documents = [get(p.props, "policy") for p in policies] or ([get(topic.props, "policy")]
                                                                    if get(topic.props, "policy") else [])
        if not documents:
            report(f"alarm {label(topic)} has no topic policy (the default lets every principal of the account "
                   "publish)", topic.urn)
        for document in documents:
            for problem in publish_problems(document, accounts):
                report(f"alarm {label(topic)}: {problem}", topic.urn)


@resource_policy("sns-topic-encrypted-with-cmk", "SNS topics are encrypted with a customer-managed KMS key",
                 Controls(fsbp=("SNS.1",), checkov=("CKV_AWS_26",)), [TOPIC], Severity.MEDIUM)
def topic_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    key = get(args.props, "kmsMasterKeyId")
    if not key or str(key).endswith(AWS_MANAGED_SNS_KEY):
        report("kmsMasterKeyId names no customer-managed key")


@resource_policy("cloudtrail-sns-notifications", "CloudTrail trails notify an SNS topic of each log file delivery",
                 Controls(checkov=("CKV_AWS_252",)), [TRAIL], Severity.LOW)
def trail_sns(args: ResourceValidationArgs, report: Report) -> None:
    if not get(args.props, "snsTopicName"):
        report("snsTopicName is absent")


def denies_all_but_service_callers(statement: Mapping[str, Any], action: str, service: str) -> bool:
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


def grants_service(statement: Mapping[str, Any], action: str) -> bool:
    principal: Any = statement.get("Principal")
    return statement.get("Effect") == "Allow" and hasattr(principal, "get") and bool(principal.get("Service")) \
        and any(a.lower() == action.lower() for a in actions_of(statement))


@resource_policy("sns-publish-only-by-granted-service", "A topic that lets an AWS service publish denies "
                 "sns:Publish to every other caller, same-account IAM principals included (aws:PrincipalServiceName"
                 " / aws:SourceArn)", Controls(sources=("design: only this account's alarms publish",)),
                 [TOPIC, TOPIC_POLICY], Severity.HIGH)
def sns_publish_only_by_service(args: ResourceValidationArgs, report: Report) -> None:
    document = statements(get(args.props, "policy"))
    if any(grants_service(s, "sns:Publish") for s in document) and not any(
            denies_all_but_service_callers(s, "sns:Publish", "sns") for s in document):
        report("lets a service publish but does not deny sns:Publish to other principals (a role with sns:Publish "
               "in its own policy could send fake alarms)")


@stack_policy("cloudtrail-bucket-written-only-by-trail", "The trail's bucket denies s3:PutObject to everyone but "
              "CloudTrail acting for this trail (aws:SourceArn / aws:PrincipalServiceName)",
              Controls(sources=("design: only this trail writes",)), [TRAIL, *BUCKETS, BUCKET_POLICY], Severity.HIGH)
def trail_bucket_written_only_by_trail(graph: StackGraph, report: Report) -> None:
    for trail in graph.of_type(TRAIL):
        for bucket in graph.referenced(trail, "s3BucketName", *BUCKETS):
            documents = [statements(get(p.props, "policy")) for p in graph.referrers(bucket, "bucket", BUCKET_POLICY)]
            if not any(denies_all_but_service_callers(s, "s3:PutObject", "s3")
                       and any(r.endswith("/*") for r in resources_of(s)) for d in documents for s in d):
                report(f"{label(bucket)} (written by {label(trail)}) has no policy denying s3:PutObject to "
                       "principals other than CloudTrail for this trail", bucket.urn)


POLICIES: list[SecurestackPolicy] = [trail_multi_region, trail_cmk, trail_validation, trail_cloudwatch, trail_management_events, trail_sns,
            topic_encrypted, audit_security_alarms, alarms_to_encrypted_topic, alarm_topic_publish_scoped,
            sns_publish_only_by_service, trail_bucket_written_only_by_trail]
