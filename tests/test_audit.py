"""AuditTrail on the mock engine, every stack file: the trail, its bucket and log group, the CIS monitoring
filters and alarms (Security Hub CloudWatch.1-.14, exact patterns), the project's own alarms, the encrypted
alarm topic, the existing-organization-trail mode and the audit settings' errors.

The project's filter patterns are also *run*: a small evaluator of the documented JSON filter syntax
(`{ $.a.b = "x*" && ($.c != y || $.d IS FALSE) }`, `NOT EXISTS`) matches them against CloudTrail events
shaped like the real ones, so a pattern that parses but watches the wrong field fails here.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from securestack.components.audit import AuditTrail, AuditTrailArgs
from securestack.infra.recording import Recording, RecordedResource, Secret, record
from securestack.infra.settings import SettingsError, build_settings
from securestack.infra.settings.audit import AuditSettings
from tests.support.stacks import (SHIPPED_STACKS, STACK_FILES, account_of, edited, policy_statements, record_config,
                                  settings_of, shipped_config, shipped_recording)

AUDIT = "securestack:audit"
TRAIL, FILTER, ALARM = "aws:cloudtrail/trail:Trail", "aws:cloudwatch/logMetricFilter:LogMetricFilter", \
    "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC, SUBSCRIPTION = "aws:sns/topic:Topic", "aws:sns/topicSubscription:TopicSubscription"
ORG_LOG_GROUP = "aws-controltower/CloudTrailLogs"

# Security Hub's CloudWatch controls fail unless the metric filter is exactly the CIS one: the remediation
# patterns of the Security Hub user guide (awsdocs/aws-security-hub-user-guide, cloudwatch-controls.md).
CIS_CONTROLS = [
    ("CloudWatch.1",
     '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}'),
    ("CloudWatch.2", '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}'),
    ("CloudWatch.3",
     '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
     '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }'),
    ("CloudWatch.4",
     "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || "
     "($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || "
     "($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || "
     "($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || "
     "($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || "
     "($.eventName=DetachGroupPolicy)}"),
    ("CloudWatch.5",
     "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || "
     "($.eventName=StartLogging) || ($.eventName=StopLogging)}"),
    ("CloudWatch.6", '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}'),
    ("CloudWatch.7",
     "{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}"),
    ("CloudWatch.8",
     "{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || "
     "($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || "
     "($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || "
     "($.eventName=DeleteBucketReplication))}"),
    ("CloudWatch.9",
     "{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || "
     "($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || "
     "($.eventName=PutConfigurationRecorder))}"),
    ("CloudWatch.10",
     "{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || "
     "($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || "
     "($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}"),
    ("CloudWatch.11",
     "{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || "
     "($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || "
     "($.eventName=ReplaceNetworkAclAssociation)}"),
    ("CloudWatch.12",
     "{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || "
     "($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || "
     "($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}"),
    ("CloudWatch.13",
     "{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || "
     "($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || "
     "($.eventName=DisassociateRouteTable)}"),
    ("CloudWatch.14",
     "{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || "
     "($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || "
     "($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || "
     "($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || "
     "($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}"),
]
PROJECT_ALARMS = ("secrets-access-denied", "secrets-unexpected-principal", "secret-rotation-failures",
                  "rds-deletion-protection-off")


# --- a reading of the CloudWatch Logs JSON filter pattern syntax -------------------------------------------------

TOKEN = re.compile(r'\s*(?:(?P<op>&&|\|\||!=|=|[(){}])|(?P<text>"[^"]*")|(?P<word>[^\s(){}=!"&|]+))')
MISSING = object()


def _tokens(pattern: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(pattern.rstrip()):
        match = TOKEN.match(pattern, position)
        assert match and match.end() > position, f"cannot read the pattern at {pattern[position:]!r}"
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def compile_pattern(pattern: str) -> Callable[[dict], bool]:
    """`{ ... }` with && || ( ) and `$.path = value`, `!= value`, `IS TRUE|FALSE|NULL`, `NOT EXISTS`."""
    tokens = _tokens(pattern)
    assert tokens[0] == ("op", "{") and tokens[-1] == ("op", "}"), "a JSON pattern is wrapped in { }"
    body, at = tokens[1:-1], [0]

    def peek() -> tuple[str, str] | None:
        return body[at[0]] if at[0] < len(body) else None

    def take() -> tuple[str, str]:
        token = peek()
        assert token is not None, f"pattern ends early: {pattern}"
        at[0] += 1
        return token

    def joined(operator: str, operand: Callable[[], Callable[[dict], bool]], combine: Callable) -> Callable:
        parts = [operand()]
        while peek() == ("op", operator):
            take()
            parts.append(operand())
        return lambda event: combine(part(event) for part in parts)

    def either() -> Callable[[dict], bool]:  # || binds looser than &&
        return joined("||", both, any)

    def both() -> Callable[[dict], bool]:
        return joined("&&", single, all)

    def single() -> Callable[[dict], bool]:
        if peek() == ("op", "("):
            take()
            inner = either()
            assert take() == ("op", ")"), f"unbalanced parentheses in {pattern}"
            return inner
        kind, selector = take()
        assert kind == "word" and selector.startswith("$."), f"expected a $.selector, got {selector!r}"
        return comparison(selector.split(".")[1:])

    def comparison(path: list[str]) -> Callable[[dict], bool]:
        kind, operator = take()
        if (kind, operator) in (("op", "="), ("op", "!=")):
            kind, value = take()
            assert kind in ("text", "word"), f"expected a value after {operator}"
            matches = _wildcard(value.strip('"'))
            if operator == "=":
                return lambda event: _is_text(found := _lookup(event, path)) and matches(found)
            return lambda event: _is_text(found := _lookup(event, path)) and not matches(found)
        if operator == "IS":
            expected = {"TRUE": True, "FALSE": False, "NULL": None}[take()[1]]
            return lambda event: _lookup(event, path) is expected
        if operator == "NOT":
            assert take()[1] == "EXISTS"
            return lambda event: _lookup(event, path) is MISSING
        raise AssertionError(f"unknown comparison {operator!r} in {pattern}")

    predicate = either()
    assert at[0] == len(body), f"unread tokens in {pattern}: {body[at[0]:]}"
    return predicate


def _lookup(event: dict, path: list[str]) -> Any:
    value: Any = event
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _wildcard(expected: str) -> Callable[[str], bool]:
    regex = re.compile("^" + ".*".join(re.escape(part) for part in expected.split("*")) + "$")
    return lambda value: bool(regex.match(value))


# --- CloudTrail events as AWS writes them -------------------------------------------------------------------------

def role_session(account: str, role: str) -> dict:
    return {"type": "AssumedRole", "arn": f"arn:aws:sts::{account}:assumed-role/{role}/1700000000000",
            "accountId": account, "sessionContext": {"sessionIssuer": {
                "type": "Role", "arn": f"arn:aws:iam::{account}:role/{role}", "userName": role}}}


def iam_user(account: str, name: str = "alice") -> dict:
    return {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/{name}", "userName": name, "accountId": account}


def aws_service() -> dict:
    return {"type": "AWSService", "invokedBy": "secretsmanager.amazonaws.com"}


def secrets_call(event_name: str, secret_id: str, identity: dict, error: str | None = None) -> dict:
    event = {"eventVersion": "1.09", "eventSource": "secretsmanager.amazonaws.com", "eventName": event_name,
             "eventType": "AwsApiCall", "userIdentity": identity, "requestParameters": {"secretId": secret_id},
             "responseElements": None, "readOnly": event_name == "GetSecretValue"}
    if error:
        event.update(errorCode=error, errorMessage="User is not authorized to perform this operation")
    return event


def secret_arn(account: str, name: str) -> str:
    return f"arn:aws:secretsmanager:us-east-1:{account}:secret:{name}-Ab12Cd"


def rotation_event(event_name: str, secret_id: str) -> dict:
    return {"eventVersion": "1.09", "eventSource": "secretsmanager.amazonaws.com", "eventName": event_name,
            "eventType": "AwsServiceEvent", "userIdentity": {"accountId": "111111111111", "invokedBy":
                                                             "secretsmanager.amazonaws.com"},
            "additionalEventData": {"SecretId": secret_id}}


def modify_db(event_name: str, **request: Any) -> dict:
    return {"eventVersion": "1.09", "eventSource": "rds.amazonaws.com", "eventName": event_name,
            "eventType": "AwsApiCall", "userIdentity": iam_user("111111111111"),
            "requestParameters": {"dBInstanceIdentifier": "securestack-dev-postgres", **request}}


# --- reading the recording ------------------------------------------------------------------------------------

def audit_component(recording: Recording) -> RecordedResource:
    return recording.one("securestack:index:AuditTrail", "audit")


def audit_children(recording: Recording, type_: str | None = None) -> list[RecordedResource]:
    parent = audit_component(recording).urn
    return [r for r in recording.resources if r.parent == parent and (type_ is None or r.type == type_)]


def one_child(recording: Recording, type_: str) -> RecordedResource:
    found = audit_children(recording, type_)
    assert len(found) == 1, f"expected one {type_} in AuditTrail, found {[r.name for r in found]}"
    return found[0]


def named_child(recording: Recording, type_: str, name: str) -> RecordedResource:
    found = [r for r in audit_children(recording, type_) if r.name == name]
    assert len(found) == 1, f"expected one {type_} named {name} in AuditTrail"
    return found[0]


def alarm_topic(recording: Recording) -> RecordedResource:
    return named_child(recording, TOPIC, "audit-alarms")


def delivery_topic(recording: Recording) -> RecordedResource:
    return named_child(recording, TOPIC, "audit-deliveries")


def logs_key_arn(recording: Recording) -> str:
    return recording.one("aws:kms/key:Key", "keys-logs").outputs["arn"]


def filter_named(recording: Recording, stack: str, slug: str) -> RecordedResource:
    found = [r for r in audit_children(recording, FILTER) if r.inputs["name"] == f"securestack-{stack}-{slug}"]
    assert len(found) == 1, f"expected one metric filter {slug}, found {len(found)}"
    return found[0]


def cis_filter(recording: Recording, stack: str, control: str) -> RecordedResource:
    prefix = f"securestack-{stack}-cis-{control.lower().replace('.', '-')}-"
    found = [r for r in audit_children(recording, FILTER) if r.inputs["name"].startswith(prefix)]
    assert len(found) == 1, f"expected one metric filter for {control}, found {[r.inputs['name'] for r in found]}"
    return found[0]


def alarms_on(recording: Recording, namespace: str, metric_name: str) -> list[RecordedResource]:
    return [r for r in recording.of_type(ALARM)
            if r.inputs.get("namespace") == namespace and r.inputs.get("metricName") == metric_name]


def alarm_of(recording: Recording, metric_filter: RecordedResource) -> RecordedResource:
    transformation = metric_filter.inputs["metricTransformation"]
    found = alarms_on(recording, transformation["namespace"], transformation["name"])
    assert len(found) == 1, f"expected one alarm on {transformation}, found {[r.name for r in found]}"
    return found[0]


def project_pattern(recording: Recording, stack: str, slug: str) -> Callable[[dict], bool]:
    return compile_pattern(filter_named(recording, stack, slug).inputs["pattern"])


def revealed(value: Any) -> Any:
    return value.reveal() if isinstance(value, Secret) else value


@pytest.fixture(scope="module", params=STACK_FILES)
def shipped(request) -> tuple[str, Recording]:
    return request.param, shipped_recording(request.param)


# --- the trail --------------------------------------------------------------------------------------------------

def test_trail_is_multi_region_validated_encrypted_and_delivers_to_the_log_group(shipped):
    stack, recording = shipped
    trail = one_child(recording, TRAIL).inputs
    group = recording.one("aws:cloudwatch/logGroup:LogGroup", "audit-log-group")
    assert trail["name"] == f"securestack-{stack}"
    assert trail["isMultiRegionTrail"] is True
    assert trail["includeGlobalServiceEvents"] is True
    assert trail["enableLogFileValidation"] is True
    assert trail["enableLogging"] is True
    assert trail["kmsKeyId"] == logs_key_arn(recording)
    assert trail["cloudWatchLogsGroupArn"] == f"{group.outputs['arn']}:*"
    # every management event, read and write (GetSecretValue is a read management event), no source left out
    assert trail["eventSelectors"] == [{"includeManagementEvents": True, "readWriteType": "All"}]
    assert "advancedEventSelectors" not in trail


def test_trail_log_group_is_encrypted_kept_and_protected_in_prod(shipped):
    stack, recording = shipped
    group = recording.one("aws:cloudwatch/logGroup:LogGroup", "audit-log-group")
    assert group.inputs["name"] == f"/securestack/{stack}/cloudtrail"
    assert group.inputs["kmsKeyId"] == logs_key_arn(recording)
    assert group.inputs["retentionInDays"] == settings_of(stack).logs.retention_days
    assert group.options["protect"] is settings_of(stack).is_production
    assert one_child(recording, TRAIL).options["protect"] is settings_of(stack).is_production


def test_cloudtrail_writes_logs_through_its_own_role(shipped):
    stack, recording = shipped
    trail = one_child(recording, TRAIL)
    roles = {r.outputs["arn"]: r for r in audit_children(recording, "aws:iam/role:Role")}
    role = roles[trail.inputs["cloudWatchLogsRoleArn"]]
    (trust,) = policy_statements(role.inputs["assumeRolePolicy"])
    # CloudTrail's documented trust for this role has no aws:SourceAccount/aws:SourceArn condition, and trails
    # whose role trust carries one fail to deliver (issue 11, item 15): the trust names the service only.
    assert trust == {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                     "Action": "sts:AssumeRole"}
    write = one_child(recording, "aws:iam/rolePolicy:RolePolicy")
    (statement,) = policy_statements(write.inputs["policy"])
    group_arn = recording.one("aws:cloudwatch/logGroup:LogGroup", "audit-log-group").outputs["arn"]
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == f"{group_arn}:log-stream:*"
    # CloudTrail checks the bucket policy and the role when the trail is created
    assert set(trail.options["dependsOn"]) == {
        write.urn, one_child(recording, "aws:s3/bucketPolicy:BucketPolicy").urn,
        named_child(recording, "aws:sns/topicPolicy:TopicPolicy", "audit-deliveries-policy").urn}


def test_logs_key_lets_only_this_trail_and_this_accounts_alarms_use_it(shipped):
    stack, recording = shipped
    trail_arn = one_child(recording, TRAIL).outputs["arn"]
    key = recording.one("aws:kms/key:Key", "keys-logs")
    statements = {s.get("Sid"): s for s in policy_statements(key.inputs["policy"])}
    encrypt = statements["CloudTrailEncryptsThisTrailsLogs"]
    assert encrypt["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert encrypt["Action"] == "kms:GenerateDataKey*"
    # the ARN written into the key policy before the trail existed is the trail's real ARN
    assert encrypt["Condition"]["StringEquals"] == {"aws:SourceArn": trail_arn}
    assert encrypt["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account_of(stack)}:trail/*"}
    assert statements["CloudTrailDescribesKeyForThisTrail"]["Condition"] == {
        "StringEquals": {"aws:SourceArn": trail_arn}}
    notifications = statements["CloudTrailPublishesToEncryptedNotificationTopic"]
    assert notifications["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert sorted(notifications["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert notifications["Condition"] == {"StringEquals": {"aws:SourceAccount": account_of(stack)}}
    alarms = statements["CloudWatchAlarmsPublishToEncryptedTopic"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(alarms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": account_of(stack)}}


# --- the trail's bucket -----------------------------------------------------------------------------------------

def test_trail_bucket_is_private_versioned_kms_encrypted_and_expires_as_configured(shipped):
    stack, recording = shipped
    bucket = one_child(recording, "aws:s3/bucket:Bucket")
    assert one_child(recording, TRAIL).inputs["s3BucketName"] == bucket.outputs["bucket"]
    assert re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket.outputs["bucket"])
    # outside production a destroy empties the versioned bucket first (issue 11, item 5); production never
    assert bucket.inputs["forceDestroy"] is (not settings_of(stack).is_production)
    production = settings_of(stack).is_production
    assert (bucket.options["protect"], bucket.options["retainOnDelete"]) == (production, production)
    block = one_child(recording, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[flag] is True for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                                 "restrictPublicBuckets"))
    ownership = one_child(recording, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    versioning = one_child(recording, "aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    encryption = one_child(recording, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                      "BucketServerSideEncryptionConfiguration").inputs
    (rule,) = encryption["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms",
                                                          "kmsMasterKeyId": logs_key_arn(recording)}
    # no S3 Bucket Key: with one, creating the trail needs kms:Decrypt and S3's KMS calls carry the bucket's
    # encryption context instead of the trail's, which the logs key policy requires (issue 11, item 15)
    assert rule["bucketKeyEnabled"] is False
    lifecycle = settings_of(stack).audit.bucket_lifecycle
    rules = {r["id"]: r for r in one_child(
        recording, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]}
    retention = rules["cloudtrail-log-retention"]
    assert retention["status"] == "Enabled"
    assert retention["expiration"] == {"days": lifecycle.expiration_days}
    assert retention["transitions"] == [{"days": lifecycle.transition_to_glacier_days, "storageClass": "GLACIER"}]
    assert retention["noncurrentVersionExpiration"] == {"noncurrentDays": lifecycle.noncurrent_version_expiration_days}
    for child in audit_children(recording):
        if child.type.startswith("aws:s3/bucket") and child.type != "aws:s3/bucket:Bucket":
            assert child.inputs["bucket"] == bucket.outputs["bucket"], child.name


def test_bucket_policy_denies_plain_http_and_admits_only_this_trail(shipped):
    stack, recording = shipped
    bucket_arn = one_child(recording, "aws:s3/bucket:Bucket").outputs["arn"]
    trail_arn = one_child(recording, TRAIL).outputs["arn"]
    statements = {s["Sid"]: s for s in policy_statements(
        one_child(recording, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])}
    deny = statements["DenyInsecureTransport"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert sorted(deny["Resource"]) == [bucket_arn, f"{bucket_arn}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    acl = statements["CloudTrailChecksBucketAcl"]
    assert (acl["Principal"], acl["Action"], acl["Resource"]) == (
        {"Service": "cloudtrail.amazonaws.com"}, "s3:GetBucketAcl", bucket_arn)
    assert acl["Condition"] == {"StringEquals": {"aws:SourceArn": trail_arn}}
    write = statements["CloudTrailWritesThisAccountsLogs"]
    assert (write["Principal"], write["Action"], write["Resource"]) == (
        {"Service": "cloudtrail.amazonaws.com"}, "s3:PutObject", f"{bucket_arn}/AWSLogs/{account_of(stack)}/*")
    assert write["Condition"] == {"StringEquals": {"aws:SourceArn": trail_arn,
                                                   "s3:x-amz-acl": "bucket-owner-full-control"}}
    assert [s for s in statements.values() if s["Effect"] == "Allow" and s["Principal"] == "*"] == []


def test_only_cloudtrail_for_this_trail_may_write_even_principals_of_this_account(shipped):
    # an IAM role of the account with s3:PutObject in its own policy is not stopped by the allows: the denies do
    stack, recording = shipped
    bucket_arn = one_child(recording, "aws:s3/bucket:Bucket").outputs["arn"]
    trail_arn = one_child(recording, TRAIL).outputs["arn"]
    statements = {s["Sid"]: s for s in policy_statements(
        one_child(recording, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])}
    for sid, condition in (("DenyWritesNotFromThisTrail", {"StringNotEquals": {"aws:SourceArn": trail_arn}}),
                           ("DenyWritesNotByCloudTrail", {"StringNotEquals": {
                               "aws:PrincipalServiceName": "cloudtrail.amazonaws.com"}})):
        deny = statements[sid]
        assert (deny["Effect"], deny["Principal"], deny["Action"], deny["Resource"]) == (
            "Deny", "*", "s3:PutObject", f"{bucket_arn}/*")
        assert deny["Condition"] == condition
    # only the data action is denied: the account's roles keep managing the bucket
    assert {s["Action"] for s in statements.values() if s["Effect"] == "Deny" and "SecureTransport" not in
            json.dumps(s)} == {"s3:PutObject"}


def test_trail_bucket_logs_its_requests_to_the_stacks_access_log_bucket(shipped):
    stack, recording = shipped
    bucket = one_child(recording, "aws:s3/bucket:Bucket").outputs["bucket"]
    logging = one_child(recording, "aws:s3/bucketLogging:BucketLogging")
    access_logs = recording.one("aws:s3/bucket:Bucket", "access-logs-bucket")
    assert logging.inputs == {"bucket": bucket, "targetBucket": access_logs.outputs["bucket"],
                              "targetPrefix": "cloudtrail/"}
    # delivery is granted by the destination's policy: logging waits for it
    assert recording.one("aws:s3/bucketPolicy:BucketPolicy", "access-logs-bucket-policy").urn in \
        logging.options["dependsOn"]


def test_trail_notifies_its_own_encrypted_topic_that_only_this_trail_publishes_to(shipped):
    stack, recording = shipped
    trail = one_child(recording, TRAIL)
    topic = delivery_topic(recording)
    assert trail.inputs["snsTopicName"] == topic.outputs["name"] == f"securestack-{stack}-cloudtrail-deliveries"
    assert topic.inputs["kmsMasterKeyId"] == logs_key_arn(recording)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", topic.inputs["name"])
    assert not [s for s in audit_children(recording, SUBSCRIPTION) if s.inputs["topic"] == topic.outputs["arn"]]
    policy = named_child(recording, "aws:sns/topicPolicy:TopicPolicy", "audit-deliveries-policy")
    assert policy.inputs["arn"] == topic.outputs["arn"]
    statements = {s["Sid"]: s for s in policy_statements(policy.inputs["policy"])}
    source = {"aws:SourceArn": trail.outputs["arn"]}
    assert statements["ThisTrailPublishes"] == {
        "Sid": "ThisTrailPublishes", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "sns:Publish", "Resource": topic.outputs["arn"], "Condition": {"StringEquals": source}}
    deny = statements["DenyPublishNotFromThisTrail"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sns:Publish")
    assert deny["Condition"] == {"StringNotEquals": source}
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --- the CIS monitoring controls ----------------------------------------------------------------------------------

@pytest.mark.parametrize("control, pattern", CIS_CONTROLS, ids=[c for c, _ in CIS_CONTROLS])
def test_cis_control_has_its_benchmark_filter_and_one_alarm(shipped, control, pattern):
    stack, recording = shipped
    metric_filter = cis_filter(recording, stack, control)
    assert metric_filter.inputs["pattern"] == pattern
    assert metric_filter.inputs["logGroupName"] == f"/securestack/{stack}/cloudtrail"
    assert metric_filter.inputs["metricTransformation"]["value"] == "1"
    alarm = alarm_of(recording, metric_filter).inputs
    assert (alarm["statistic"], alarm["comparisonOperator"], alarm["threshold"]) == (
        "Sum", "GreaterThanOrEqualToThreshold", 1)
    assert alarm["name"] == metric_filter.inputs["name"]
    assert control in alarm["alarmDescription"]
    compile_pattern(pattern)  # the benchmark's pattern reads in the documented syntax


def test_exactly_the_cis_and_project_filters_exist(shipped):
    stack, recording = shipped
    names = sorted(r.inputs["name"] for r in audit_children(recording, FILTER))
    assert len(names) == len(CIS_CONTROLS) + len(PROJECT_ALARMS) == len(set(names))
    for slug in PROJECT_ALARMS:
        alarm_of(recording, filter_named(recording, stack, slug))


def test_root_usage_filter_matches_root_but_not_aws_acting_for_it(shipped):
    stack, recording = shipped
    root = compile_pattern(cis_filter(recording, stack, "CloudWatch.1").inputs["pattern"])
    identity = {"type": "Root", "arn": f"arn:aws:iam::{account_of(stack)}:root"}
    assert root({"userIdentity": identity, "eventType": "AwsConsoleSignIn", "eventName": "ConsoleLogin"})
    assert not root({"userIdentity": {**identity, "invokedBy": "support.amazonaws.com"}, "eventType": "AwsApiCall"})
    assert not root({"userIdentity": iam_user(account_of(stack)), "eventType": "AwsApiCall"})


# --- the project's alarms -----------------------------------------------------------------------------------------

def test_denied_secret_access_alarms_for_this_environments_secrets_only(shipped):
    stack, recording = shipped
    account, other = account_of(stack), next(s for s in STACK_FILES if s != stack)
    denied = project_pattern(recording, stack, "secrets-access-denied")
    ours = f"securestack/{stack}/api-keys/partner"
    master = recording.one("aws:rds/instance:Instance").outputs["masterUserSecrets"][0]
    user = iam_user(account)
    assert denied(secrets_call("GetSecretValue", ours, user, error="AccessDenied"))
    assert denied(secrets_call("PutSecretValue", secret_arn(account, ours), user, error="AccessDenied"))
    assert denied(secrets_call("GetSecretValue", master["secretArn"], user, error="AccessDenied"))
    assert not denied(secrets_call("GetSecretValue", ours, user))
    assert not denied(secrets_call("GetSecretValue", f"securestack/{other}/api-keys/partner", user,
                                   error="AccessDenied"))


def test_unexpected_principal_alarms_on_value_access_by_anyone_not_expected(shipped):
    stack, recording = shipped
    account = account_of(stack)
    unexpected = project_pattern(recording, stack, "secrets-unexpected-principal")
    ours = secret_arn(account, f"securestack/{stack}/webhooks/orders")
    assert unexpected(secrets_call("GetSecretValue", ours, iam_user(account)))
    assert unexpected(secrets_call("PutSecretValue", ours, role_session(account, "someone-elses-role")))
    assert unexpected(secrets_call("UpdateSecretVersionStage", ours, {"type": "Root",
                                                                       "arn": f"arn:aws:iam::{account}:root"}))
    assert not unexpected(secrets_call("DescribeSecret", ours, iam_user(account)))  # metadata, not the value
    assert not unexpected(secrets_call("GetSecretValue", ours, aws_service()))
    assert not unexpected(secrets_call("GetSecretValue", "some-other-teams-secret", iam_user(account)))
    for principal in settings_of(stack).audit.expected_secret_principals:  # prod: the break-glass role
        role = principal.rsplit("/", 1)[1]
        assert not unexpected(secrets_call("GetSecretValue", ours, role_session(account, role)))


def test_an_expected_role_name_in_another_account_still_alarms(shipped):
    """The expected roles are matched by name within the stack's account (the account written once, to keep room for
    the keys' callers in the pattern's 1024 characters): the same name in another account is unexpected."""
    stack, recording = shipped
    account = account_of(stack)
    unexpected = project_pattern(recording, stack, "secrets-unexpected-principal")
    ours = secret_arn(account, f"securestack/{stack}/api-key-verifiers/checkout")
    for role in (f"securestack-{stack}-app-task", f"securestack-{stack}-storefront"):
        assert not unexpected(secrets_call("GetSecretValue", ours, role_session(account, role)))
        assert unexpected(secrets_call("GetSecretValue", ours, role_session("999999999999", role)))
    assert unexpected(secrets_call("GetSecretValue", ours, role_session(account, f"securestack-{stack}-appx")))


def readers_and_writers(recording: Recording) -> list[tuple[str, str]]:
    """(secret ARN, principal ARN) for every principal a secret's resource policy exempts from its denies."""
    pairs = []
    for policy in recording.of_type("aws:secretsmanager/secretPolicy:SecretPolicy"):
        for statement in policy_statements(policy.inputs["policy"]):
            exempt = statement.get("Condition", {}).get("StringNotEquals", {}).get("aws:PrincipalArn", [])
            pairs += [(statement["Resource"], arn) for arn in ([exempt] if isinstance(exempt, str) else exempt)]
    return pairs


def test_every_secret_of_the_stack_is_watched_and_its_designated_principals_are_expected(shipped):
    stack, recording = shipped
    account = account_of(stack)
    unexpected = project_pattern(recording, stack, "secrets-unexpected-principal")
    master = recording.one("aws:rds/instance:Instance").outputs["masterUserSecrets"][0]["secretArn"]
    secrets = [r.outputs["arn"] for r in recording.of_type("aws:secretsmanager/secret:Secret")] + [master]
    for arn in secrets:
        assert unexpected(secrets_call("GetSecretValue", arn, iam_user(account))), arn
        name = arn.split(":secret:", 1)[1][:-7]  # callers may name the secret instead of giving its ARN
        assert unexpected(secrets_call("GetSecretValue", name, iam_user(account))), name
    pairs = readers_and_writers(recording)
    if not pairs:
        pytest.skip("this stack has no secret resource policies (ScopedApiKeys/WebhookSecrets not wired in)")
    for secret, principal in pairs:
        session = role_session(account, principal.rsplit("/", 1)[1])
        assert not unexpected(secrets_call("GetSecretValue", secret, session)), principal


def test_rotation_failures_and_deletion_protection_off_alarm(shipped):
    stack, recording = shipped
    rotation = project_pattern(recording, stack, "secret-rotation-failures")
    secret = secret_arn(account_of(stack), f"securestack/{stack}/database/app")
    assert rotation(rotation_event("RotationFailed", secret))
    assert rotation(rotation_event("RotationAbandoned", secret))
    assert not rotation(rotation_event("RotationSucceeded", secret))
    protection_off = project_pattern(recording, stack, "rds-deletion-protection-off")
    assert protection_off(modify_db("ModifyDBInstance", deletionProtection=False))
    assert protection_off(modify_db("ModifyDBCluster", deletionProtection=False))
    assert not protection_off(modify_db("ModifyDBInstance", deletionProtection=True))
    assert not protection_off(modify_db("ModifyDBInstance", allocatedStorage=200))


def test_waf_spike_alarm_exists_exactly_when_the_stack_has_a_web_acl(shipped):
    stack, recording = shipped
    alarms = alarms_on(recording, "AWS/WAFV2", "BlockedRequests")
    web_acls = recording.of_type("aws:wafv2/webAcl:WebAcl")
    assert len(alarms) == len(web_acls) <= 1
    for alarm, web_acl in zip(alarms, web_acls):
        assert alarm.inputs["dimensions"] == {"WebACL": web_acl.inputs["visibilityConfig"]["metricName"],
                                              "Region": "us-east-1", "Rule": "ALL"}
        assert alarm.inputs["threshold"] == settings_of(stack).audit.waf_blocked_requests_threshold


# --- where the alarms go ------------------------------------------------------------------------------------------

def test_alarm_topic_is_encrypted_and_only_this_accounts_alarms_publish_over_tls(shipped):
    stack, recording = shipped
    topic = alarm_topic(recording)
    assert topic.inputs["kmsMasterKeyId"] == logs_key_arn(recording)
    statements = policy_statements(named_child(recording, "aws:sns/topicPolicy:TopicPolicy", "audit-alarms-policy").inputs[
        "policy"])
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [{"Sid": "CloudWatchAlarmsOfThisAccountPublish", "Effect": "Allow",
                       "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
                       "Resource": topic.outputs["arn"],
                       "Condition": {"StringEquals": {"aws:SourceAccount": account_of(stack)}}}]
    denies = {s["Sid"]: s for s in statements if s["Effect"] == "Deny"}
    assert {(s["Principal"], s["Action"], s["Resource"]) for s in denies.values()} == {
        ("*", "sns:Publish", topic.outputs["arn"])}  # publishing only: the account still manages the topic
    assert denies["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # a role of this account with sns:Publish in its own policy cannot send a fake alarm (issue 11, item 14)
    assert denies["DenyPublishNotByCloudWatch"]["Condition"] == {
        "StringNotEquals": {"aws:PrincipalServiceName": "cloudwatch.amazonaws.com"}}
    assert denies["DenyPublishFromOtherAccounts"]["Condition"] == {
        "StringNotEquals": {"aws:SourceAccount": account_of(stack)}}


def test_subscriptions_are_the_configured_email_and_https_endpoints(shipped):
    stack, recording = shipped
    topic_arn = alarm_topic(recording).outputs["arn"]
    subscriptions = audit_children(recording, SUBSCRIPTION)
    configured = [(s.protocol, s.endpoint) for s in settings_of(stack).audit.subscriptions]
    assert configured or stack not in SHIPPED_STACKS, "both shipped stacks name alarm recipients"
    assert sorted((s.inputs["protocol"], revealed(s.inputs["endpoint"])) for s in subscriptions) == sorted(configured)
    for subscription in subscriptions:
        assert subscription.inputs["topic"] == topic_arn
        assert subscription.inputs["protocol"] in ("email", "https")
        if subscription.inputs["protocol"] == "https":
            assert isinstance(subscription.inputs["endpoint"], Secret)  # an integration key may be in the URL
            assert revealed(subscription.inputs["endpoint"]).startswith("https://")


def test_every_audit_alarm_notifies_the_topic_and_says_what_to_do(shipped):
    stack, recording = shipped
    topic_arn = alarm_topic(recording).outputs["arn"]
    alarms = audit_children(recording, ALARM)
    assert len(alarms) >= len(CIS_CONTROLS) + len(PROJECT_ALARMS)
    for alarm in alarms:
        inputs = alarm.inputs
        assert inputs["alarmActions"] == [topic_arn], alarm.name
        assert inputs["actionsEnabled"] is True
        assert inputs["treatMissingData"] == "notBreaching"
        assert inputs["evaluationPeriods"] == 1 and inputs["period"] == 300
        description = inputs["alarmDescription"]
        assert description.startswith(f"[securestack {stack}] ") and " First: " in description, alarm.name


def test_audit_exports_trail_topic_and_log_group(shipped):
    stack, recording = shipped
    assert recording.stack_outputs["audit"] == {
        "trailArn": one_child(recording, TRAIL).outputs["arn"],
        "alarmTopicArn": alarm_topic(recording).outputs["arn"],
        "logGroupName": f"/securestack/{stack}/cloudtrail"}


def test_readme_tells_what_every_alarm_means_and_what_to_do_first(shipped):
    stack, recording = shipped
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for alarm in audit_children(recording, ALARM):
        row = f"| `{alarm.inputs['name'].removeprefix(f'securestack-{stack}-')}` | "
        assert row in readme, f"README has no row for the alarm {alarm.inputs['name']}"


# --- what AWS accepts ---------------------------------------------------------------------------------------------

# Filter, alarm, topic and trail names, patterns, namespaces and tags are checked against the service models and
# AWS's documented rules on every resource of every stack by tests/test_aws_rules.py.


# --- an existing organization trail -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def organization_trail() -> Recording:
    config = edited(shipped_config("dev"), AUDIT, organizationTrailLogGroupName=ORG_LOG_GROUP)
    return record_config(config, "dev")


def test_existing_organization_trail_gets_only_filters_alarms_and_topic(organization_trail):
    recording = organization_trail
    kinds = {r.type for r in audit_children(recording)}
    assert kinds == {FILTER, ALARM, TOPIC, "aws:sns/topicPolicy:TopicPolicy", SUBSCRIPTION}
    assert recording.of_type(TRAIL) == []
    filters = audit_children(recording, FILTER)
    assert len(filters) == len(CIS_CONTROLS) + len(PROJECT_ALARMS)
    assert {f.inputs["logGroupName"] for f in filters} == {ORG_LOG_GROUP}
    sids = {s.get("Sid") for s in policy_statements(recording.one("aws:kms/key:Key", "keys-logs").inputs["policy"])}
    assert "CloudWatchAlarmsPublishToEncryptedTopic" in sids
    assert not any(sid and sid.startswith("CloudTrail") for sid in sids)
    assert recording.stack_outputs["audit"]["trailArn"] is None
    assert recording.stack_outputs["audit"]["logGroupName"] == ORG_LOG_GROUP


# --- the component with what the program passes in ----------------------------------------------------------------

def audit_alone(**args: Any) -> Recording:
    def program() -> None:
        AuditTrail("audit", AuditTrailArgs(
            environment="unit", production=False, log_retention_days=365,
            logs_key_arn="arn:aws:kms:us-east-1:111111111111:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", **args))
    return record(program, stack="unit", config={"aws:region": "us-east-1"})


def test_program_named_principals_are_expected_and_web_acl_is_watched():
    rotator = "arn:aws:iam::111111111111:role/service/unit-api-key-rotation-role"
    recording = audit_alone(
        waf_blocked_requests_threshold=250,
        secret_id_patterns=["*securestack/unit/*"], expected_secret_principals=[rotator],
        web_acl_metric_name="securestack-unit-edge")
    unexpected = project_pattern(recording, "unit", "secrets-unexpected-principal")
    secret = "securestack/unit/api-keys/partner"
    # CloudTrail names the caller by its session ARN, which drops the role's path
    assert not unexpected(secrets_call("PutSecretValue", secret, role_session("111111111111",
                                                                              "unit-api-key-rotation-role")))
    assert unexpected(secrets_call("PutSecretValue", secret, role_session("111111111111", "another-role")))
    (waf,) = alarms_on(recording, "AWS/WAFV2", "BlockedRequests")
    assert waf.inputs["dimensions"] == {"WebACL": "securestack-unit-edge", "Region": "us-east-1", "Rule": "ALL"}
    assert (waf.inputs["threshold"], waf.inputs["comparisonOperator"]) == (250, "GreaterThanThreshold")
    assert waf.inputs["alarmActions"] == [alarm_topic(recording).outputs["arn"]]


def test_a_pattern_aws_would_refuse_fails_the_program():
    quote_in_principal = 'arn:aws:iam::111111111111:role/bad"role'
    with pytest.raises(Exception, match="metric filter pattern"):
        audit_alone(expected_secret_principals=[quote_in_principal])
    too_many = [f"arn:aws:iam::111111111111:role/consumer-role-number-{i:03d}" for i in range(20)]
    with pytest.raises(Exception, match="max 1024"):
        audit_alone(secret_id_patterns=["*securestack/unit/*"], expected_secret_principals=too_many)


# --- settings ---------------------------------------------------------------------------------------------------

def problems(stack: str, **audit: Any) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        build_settings(edited(shipped_config(stack), AUDIT, **audit), stack)
    return raised.value.problems


def with_subscription(protocol: str, endpoint: str) -> list[dict]:
    return [{"protocol": "email", "endpoint": "security@example.com"}, {"protocol": protocol, "endpoint": endpoint}]


@pytest.mark.parametrize("protocol, endpoint, says", [
    ("https", "http://alerts.example.com/hook", "uses http://"),
    ("https", "ftp://alerts.example.com/hook", "must be an https:// URL"),
    ("https", "https://user:password@alerts.example.com/hook", "must not carry credentials"),
    ("https", "https:///no-host", "no valid host name"),
    ("https", "https://alerts.example.com:99999/hook", "is not a URL"),
    ("https", "security@example.com", "must be an https:// URL"),
    ("email", "not-an-address", "is not an email address"),
    ("email", "https://alerts.example.com/hook", "is not an email address"),
    ("email", "two@@example.com", "is not an email address"),
], ids=["http", "ftp", "credentials", "no-host", "bad-port", "email-as-url", "no-at", "url-as-email",
        "double-at"])
def test_bad_subscription_endpoint_is_a_settings_error_naming_its_index(protocol, endpoint, says):
    reported = problems("dev", subscriptions=with_subscription(protocol, endpoint))
    assert len(reported) == 1
    assert reported[0].startswith(f"{AUDIT}.subscriptions[1].endpoint: ") and says in reported[0]


def test_unknown_protocol_and_duplicates_are_settings_errors():
    (unknown,) = problems("dev", subscriptions=with_subscription("sms", "+15550100"))
    assert unknown.startswith(f"{AUDIT}.subscriptions[1].protocol: ")
    (twice,) = problems("dev", subscriptions=with_subscription("email", "Security@example.com"))
    assert twice.startswith(f"{AUDIT}.subscriptions: ") and "twice" in twice


def test_production_needs_a_recipient_and_a_year_of_trail_logs():
    reported = problems("prod", subscriptions=[], bucketLifecycle={"transitionToGlacierDays": 30,
                                                                   "expirationDays": 90})
    assert sorted(reported) == [f"{AUDIT}.bucketLifecycle.expirationDays: must be >= 365 in a production stack",
                                f"{AUDIT}.subscriptions: needs at least one recipient in a production stack "
                                "(an alarm nobody receives is not monitoring)"]


@pytest.mark.parametrize("audit, key, says", [
    ({"bucketLifecycle": {"transitionToGlacierDays": 400, "expirationDays": 365}},
     "bucketLifecycle.expirationDays", "greater than transitionToGlacierDays"),
    ({"organizationTrailLogGroupName": "not a log group"}, "organizationTrailLogGroupName", "log group name"),
    ({"expectedSecretPrincipals": ["arn:aws:iam::111111111111:role/ok", '*']}, "expectedSecretPrincipals[1]",
     "IAM role or user ARN"),
    ({"wafBlockedRequestsThreshold": 0}, "wafBlockedRequestsThreshold", ">= 1"),
    ({"subscription": []}, "subscription", "unknown key"),
], ids=["transition-after-expiry", "log-group-name", "principal", "threshold", "misspelt-key"])
def test_other_audit_settings_errors_name_their_key(audit, key, says):
    (reported,) = problems("dev", **audit)
    assert reported.startswith(f"{AUDIT}.{key}: ") and says in reported


def test_an_http_subscription_stops_the_program_before_any_resource():
    config = edited(shipped_config("dev"), AUDIT,
                    subscriptions=[{"protocol": "https", "endpoint": "http://alerts.example.com/hook"}])
    with pytest.raises(SettingsError, match=re.escape(f"{AUDIT}.subscriptions[0].endpoint")):
        record_config(config, "dev")


def test_shipped_configs_keep_the_safe_audit_defaults():
    for stack in SHIPPED_STACKS:
        audit = settings_of(stack).audit
        assert audit.creates_trail
        assert json.loads(shipped_config(stack)[AUDIT])["subscriptions"]


def test_a_user_whose_path_spells_an_expected_role_still_alarms(shipped):
    """Expected roles are matched as `*/<name>/*` once the caller is an AssumedRole (fewer characters than the
    session ARN): an IAM user whose path spells the role's name is no role session and stays unexpected; the
    operators' writes and the new batch read are covered."""
    stack, recording = shipped
    account = account_of(stack)
    unexpected = project_pattern(recording, stack, "secrets-unexpected-principal")
    ours = secret_arn(account, f"securestack/{stack}/api-keys/stackbe")
    role = f"securestack-{stack}-storefront"
    impostor = {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/{role}/mallory", "userName": "mallory",
                "accountId": account}
    assert not unexpected(secrets_call("GetSecretValue", ours, role_session(account, role)))
    assert unexpected(secrets_call("GetSecretValue", ours, impostor))
    operator = settings_of(stack).secrets.operators[0].rsplit("/", 1)[1]
    for event in ("PutSecretValue", "UpdateSecretVersionStage"):
        assert not unexpected(secrets_call(event, ours, role_session(account, operator)))
    assert unexpected(secrets_call("BatchGetSecretValue", ours, iam_user(account)))
