"""AuditTrail: CloudTrail into a locked-down bucket and an encrypted log group, watched by alarms.

The alarms are the CIS AWS Foundations Benchmark monitoring controls (Security Hub CloudWatch.1 to .14,
with the filter patterns Security Hub checks for, to the letter) plus this project's own: denied or
unexpected access to this environment's secrets, failed rotations, RDS deletion protection turned off
and spikes of requests blocked by the WAF. Every alarm notifies one KMS-encrypted SNS topic.

Secrets Manager has no CloudTrail data events: GetSecretValue, PutSecretValue and the rest are
management events (GetSecretValue a read-only one), which is also why they show in Event history.
The trail therefore logs all management events, read and write, and excludes no event source.
"""
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import pulumi
import pulumi_aws as aws

from .args import ArgsError, as_args
from .common import (ServerAccessLogTarget, aws_identity, concatenated, encrypted_log_group, formatted, policy_json,
                     private_bucket, renamed_from, service_assume_role_policy)

ALARM_PERIOD_SECONDS = 300
FILTER_PATTERN_MAX = 1024  # CloudWatch Logs refuses longer metric filter patterns
# Calls that read or change a secret's value. BatchGetSecretValue is not listed: it names no secretId, and
# Secrets Manager logs a GetSecretValue event for every secret it returns.
SECRET_VALUE_OPERATIONS = ("GetSecretValue", "PutSecretValue", "UpdateSecret", "UpdateSecretVersionStage")
# The same events as filter values: `UpdateSecret*` covers both UpdateSecret events (a trailing wildcard, as the
# CloudWatch Logs filter pattern syntax documents for JSON string values), leaving room in the pattern's 1024
# characters for the stack's expected principals.
# `*SecretValue`: GetSecretValue, PutSecretValue (and BatchGetSecretValue) in one clause; the pattern's 1024
# characters are scarce (a leading wildcard is documented: "Using wildcards", filter and pattern syntax).
SECRET_VALUE_EVENT_PATTERNS = ("*SecretValue", "UpdateSecret*")
CLOUDTRAIL_SERVICE, CLOUDWATCH_SERVICE = "cloudtrail.amazonaws.com", "cloudwatch.amazonaws.com"
TRAIL_ACCESS_LOG_PREFIX = "cloudtrail/"  # where the trail bucket's own requests land in the access-log bucket
LOG_GROUP_NAME = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
ALARM_PROTOCOLS = ("email", "https")
# CloudWatch Logs' accepted retentions (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)


@dataclass(frozen=True)
class LogAlarm:
    """One metric filter on the trail's log group and one alarm on the metric it counts."""

    key: str  # the Security Hub control id, or the project alarm's own name
    slug: str  # names the filter, the alarm and (CamelCase) the metric
    metric_name: str
    pattern: pulumi.Input[str]
    happened: str
    first_step: str


# Security Hub CloudWatch.1-.14 remediation patterns (the control fails unless the pattern is exactly this).
CIS_ALARMS: tuple[LogAlarm, ...] = (
    LogAlarm(
        "CloudWatch.1", "root-user-usage", "RootUserUsage",
        '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}',
        "The account's root user signed in or made an API call.",
        "Ask the account owner whether it was planned; if not, treat the root credentials as compromised: reset "
        "the root password, delete any root access keys, check the MFA device, then review that session's events."),
    LogAlarm(
        "CloudWatch.2", "unauthorized-api-calls", "UnauthorizedApiCalls",
        '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}',
        "An API call was refused (UnauthorizedOperation or AccessDenied).",
        "Group the refused calls in the trail's log group by userIdentity.arn: one known role after a deploy is a "
        "policy bug; an unknown principal probing many services means stolen credentials - disable them."),
    LogAlarm(
        "CloudWatch.3", "console-signin-without-mfa", "ConsoleSigninWithoutMfa",
        '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
        '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',
        "An IAM user signed in to the console without MFA.",
        "Ask that user (userIdentity.userName) whether it was them; if not, disable the password and access keys. "
        "Either way, require an MFA device for the user."),
    LogAlarm(
        "CloudWatch.4", "iam-policy-changes", "IamPolicyChanges",
        "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || "
        "($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || "
        "($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || "
        "($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || "
        "($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || "
        "($.eventName=DetachGroupPolicy)}",
        "An IAM policy was created, changed, deleted, attached or detached.",
        "Match the event to a deploy (pulumi stack history); if none, read the new policy, revert it with pulumi up "
        "and find who changed it. (Auto Scaling's DeletePolicy matches too.)"),
    LogAlarm(
        "CloudWatch.5", "cloudtrail-changes", "CloudTrailChanges",
        "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || "
        "($.eventName=StartLogging) || ($.eventName=StopLogging)}",
        "A CloudTrail trail was created, updated or deleted, or its logging stopped or started.",
        "Check the trail still logs (aws cloudtrail get-trail-status); if it was changed outside a deploy, restore "
        "it with pulumi up and investigate the principal - attackers stop trails to hide."),
    LogAlarm(
        "CloudWatch.6", "console-auth-failures", "ConsoleAuthenticationFailures",
        '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}',
        "A console sign-in failed authentication.",
        "Look at the user name and sourceIPAddress of the failed ConsoleLogin events; repeated failures from "
        "unknown addresses are password guessing: check that user's MFA and reset the password."),
    LogAlarm(
        "CloudWatch.7", "kms-key-disabled-or-deleted", "DisableOrDeleteCmk",
        "{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}",
        "A customer managed KMS key was disabled or scheduled for deletion.",
        "If not planned, run aws kms cancel-key-deletion / enable-key on the key in the event at once: data "
        "encrypted with a deleted key is lost for good."),
    LogAlarm(
        "CloudWatch.8", "s3-bucket-policy-changes", "S3BucketPolicyChanges",
        "{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || "
        "($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || "
        "($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || "
        "($.eventName=DeleteBucketReplication))}",
        "An S3 bucket's policy, ACL, CORS, lifecycle or replication changed.",
        "Check which bucket; a change outside a deploy (especially to the trail or access-log bucket) must be "
        "reviewed for public or cross-account access and reverted with pulumi up."),
    LogAlarm(
        "CloudWatch.9", "aws-config-changes", "AwsConfigChanges",
        "{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || "
        "($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || "
        "($.eventName=PutConfigurationRecorder))}",
        "AWS Config recording or delivery was stopped or changed.",
        "Check the recorder still records (aws configservice describe-configuration-recorder-status), restart it "
        "and find who stopped it."),
    LogAlarm(
        "CloudWatch.10", "security-group-changes", "SecurityGroupChanges",
        "{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || "
        "($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || "
        "($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}",
        "A security group or one of its rules was created, changed or deleted.",
        "Match it to a deploy; an unplanned rule (0.0.0.0/0 ingress, 5432 opened) is reverted by pulumi up - run "
        "it, then investigate the principal."),
    LogAlarm(
        "CloudWatch.11", "network-acl-changes", "NetworkAclChanges",
        "{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || "
        "($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || "
        "($.eventName=ReplaceNetworkAclAssociation)}",
        "A network ACL or one of its entries was created, changed or deleted.",
        "Match it to a deploy; an unplanned entry that opens a subnet must be removed and its author found."),
    LogAlarm(
        "CloudWatch.12", "network-gateway-changes", "NetworkGatewayChanges",
        "{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || "
        "($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || "
        "($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}",
        "A customer or internet gateway was created, attached, detached or deleted.",
        "Check which VPC: an internet gateway nobody deployed is a way out of the network - detach it and "
        "investigate."),
    LogAlarm(
        "CloudWatch.13", "route-table-changes", "RouteTableChanges",
        "{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || "
        "($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || "
        "($.eventName=DisassociateRouteTable)}",
        "A route or route table was created, changed or deleted.",
        "Look for a new default route in the private route table (private subnets reach AWS only through "
        "endpoints); revert with pulumi up and investigate."),
    LogAlarm(
        "CloudWatch.14", "vpc-changes", "VpcChanges",
        "{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || "
        "($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || "
        "($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || "
        "($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || "
        "($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}",
        "A VPC, its attributes or a peering connection was created, changed or deleted.",
        "Look for an unexpected peering connection (it opens the VPC to another network): reject or delete it and "
        "investigate."),
)

ROTATION_FAILURE_PATTERN = ('{ ($.eventSource = "secretsmanager.amazonaws.com") && '
                            '(($.eventName = "RotationFailed") || ($.eventName = "RotationAbandoned")) }')
RDS_DELETION_PROTECTION_OFF_PATTERN = (
    '{ ($.eventSource = "rds.amazonaws.com") && (($.eventName = "ModifyDBInstance") || '
    '($.eventName = "ModifyDBCluster")) && ($.requestParameters.deletionProtection IS FALSE) }')


# --- names shared with the key policy, which must name the trail before it exists ----------------------------

def trail_name(environment: str) -> str:
    return f"securestack-{environment}"


def trail_arn(environment: str, account: pulumi.Input[str], partition: pulumi.Input[str],
              region: pulumi.Input[str]) -> pulumi.Output[str]:
    """The ARN the trail will have (a multi-region trail's ARN names its home region)."""
    return formatted("arn:{0}:cloudtrail:{1}:{2}:trail/{3}", partition, region, account,
                                trail_name(environment))


def cloudtrail_key_statements(environment: str, account: pulumi.Input[str], partition: pulumi.Input[str],
                              region: pulumi.Input[str]) -> list[dict[str, Any]]:
    """Logs-key access for this environment's trail only (aws:SourceArn), for its own account's log files."""
    source = {"aws:SourceArn": trail_arn(environment, account, partition, region)}
    return [
        {"Sid": "CloudTrailEncryptsThisTrailsLogs", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*", "Resource": "*",
         "Condition": {"StringEquals": source, "StringLike": {
             "kms:EncryptionContext:aws:cloudtrail:arn": formatted(
                 "arn:{0}:cloudtrail:*:{1}:trail/*", partition, account)}}},
        {"Sid": "CloudTrailDescribesKeyForThisTrail", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:DescribeKey", "Resource": "*",
         "Condition": {"StringEquals": source}},
    ]


def notification_topic_key_statement(account: pulumi.Input[str]) -> dict[str, Any]:
    """CloudTrail publishes log-file delivery notifications to a KMS-encrypted topic: it needs the key's
    GenerateDataKey* and Decrypt ("Amazon SNS topic policy for CloudTrail", CloudTrail user guide). The CloudTrail
    KMS page supports aws:SourceAccount on CloudTrail's key use; aws:SourceArn is not documented for the KMS calls
    made on a publish, so the statement is bound to the account, like the alarms' one."""
    return {"Sid": "CloudTrailPublishesToEncryptedNotificationTopic", "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*", "Condition": {"StringEquals": {"aws:SourceAccount": account}}}


def alarm_topic_key_statement(account: pulumi.Input[str]) -> dict[str, Any]:
    """CloudWatch alarms of this account publish to the KMS-encrypted alarm topic."""
    return {"Sid": "CloudWatchAlarmsPublishToEncryptedTopic", "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}}}


def logs_key_statements(environment: str, creates_trail: bool, account: pulumi.Input[str],
                        partition: pulumi.Input[str], region: pulumi.Input[str]) -> list[dict[str, Any]]:
    """What EnvironmentKeys must add to the logs key's policy for AuditTrail (extra_statements["logs"]);
    `creates_trail`: the AuditTrail has no `organization_trail_log_group_name`."""
    statements = [alarm_topic_key_statement(account)]
    if creates_trail:
        statements.extend(cloudtrail_key_statements(environment, account, partition, region))
        statements.append(notification_topic_key_statement(account))
    return statements


# --- filter patterns of the project's alarms --------------------------------------------------------------------

def secret_name_pattern(name_prefix: str) -> str:
    """Matches a secret id given as a name or as an ARN (`...:secret:<name>-AbCdEf`)."""
    return f"*{name_prefix}*"


def secret_arn_pattern(arn: Optional[str]) -> Optional[str]:
    """The secret's name out of its ARN (without the random 6-character suffix), as a secret id pattern."""
    if not arn or ":secret:" not in arn:
        return None
    return secret_name_pattern(arn.split(":secret:", 1)[1][:-7])


def assumed_role_pattern(principal_arn: str) -> str:
    """CloudTrail names a role's caller by its session ARN; an IAM user by its own ARN."""
    prefix, _, resource = principal_arn.partition(":iam::")
    account, _, path = resource.partition(":")
    if not path.startswith("role/"):
        return principal_arn
    role_name = path.rsplit("/", 1)[1]  # session ARNs drop the role's path
    return f"{prefix}:sts::{account}:assumed-role/{role_name}/*"


def _quoted(value: str) -> str:
    if '"' in value or "\\" in value:
        raise ValueError(f"{value!r} cannot be matched in a metric filter pattern (quote or backslash)")
    return f'"{value}"'


def _any_of(selector: str, values: Sequence[str]) -> str:
    return "(" + " || ".join(f"({selector} = {_quoted(v)})" for v in values) + ")"


def _all_of(*clauses: str) -> str:
    pattern = "{ " + " && ".join(clause for clause in clauses if clause) + " }"
    if len(pattern) > FILTER_PATTERN_MAX:
        raise ValueError(f"metric filter pattern is {len(pattern)} characters (max {FILTER_PATTERN_MAX}); "
                         "name fewer secret patterns or expected principals")
    return pattern


def _secret_scope(secret_id_patterns: Sequence[str]) -> str:
    return _any_of("$.requestParameters.secretId", secret_id_patterns) if secret_id_patterns else ""


def secrets_denied_pattern(secret_id_patterns: Sequence[str]) -> str:
    return _all_of('($.eventSource = "secretsmanager.amazonaws.com")', _secret_scope(secret_id_patterns),
                   '($.errorCode = "AccessDenied*")')


def secrets_unexpected_principal_pattern(secret_id_patterns: Sequence[str],
                                         expected_principals: Sequence[str]) -> str:
    """Value reads/writes of these secrets by anyone but the expected principals (AWS services excluded)."""
    return _all_of(
        '($.eventSource = "secretsmanager.amazonaws.com")', _any_of("$.eventName", SECRET_VALUE_EVENT_PATTERNS),
        _secret_scope(secret_id_patterns), '($.userIdentity.type != "AWSService")',
        _unexpected_callers(expected_principals))


def _unexpected_callers(expected_principals: Sequence[str]) -> str:
    """The caller is none of the expected principals. Roles of one account are matched as `<that account>, an
    AssumedRole and */<name>/*`, the account written once: a full session ARN per role leaves the 1024 characters
    room for few roles (issue 12 added the keys' callers and the app's task role)."""
    roles = [arn for arn in expected_principals if ":role/" in arn]
    accounts = {arn.split(":")[4] for arn in roles}
    if len(accounts) != 1:
        callers = [assumed_role_pattern(arn) for arn in expected_principals]
        return " && ".join(f"($.userIdentity.arn != {_quoted(caller)})" for caller in callers)
    others = [f"($.userIdentity.arn != {_quoted(arn)})" for arn in expected_principals if arn not in roles]
    # A role session's ARN is `arn:<p>:sts::<account>:assumed-role/<name>/<session>` (no '/' in a session name):
    # once the type says AssumedRole, `*/<name>/*` matches that role's sessions and no other's, in fewer characters.
    names = [f"($.userIdentity.arn != {_quoted('*/' + arn.rsplit('/', 1)[1] + '/*')})" for arn in roles]
    in_account = (f"(($.userIdentity.accountId != {_quoted(accounts.pop())}) || "
                  f"($.userIdentity.type != \"AssumedRole\") || ({' && '.join(names)}))")
    return " && ".join([*others, in_account])


def _resolved(values: Sequence[pulumi.Input[Optional[str]]]) -> pulumi.Output[list[str]]:
    return pulumi.Output.all(*values).apply(lambda items: [item for item in items if item])


# --- the component -------------------------------------------------------------------------------------------

@dataclass
class TrailBucketLifecycle:
    """How long the trail's S3 copy of the logs is kept (the log group's copy follows `log_retention_days`)."""

    transition_to_glacier_days: Optional[int] = 90
    """Days after which log files move to S3 Glacier; none: never. Default 90."""
    expiration_days: int = 2557
    """Days after which log files are deleted, more than `transition_to_glacier_days`. Default 2557 (7 years)."""
    noncurrent_version_expiration_days: int = 30
    """Days a replaced or deleted log file version stays recoverable. Default 30."""

    def __post_init__(self) -> None:
        for name in ("transition_to_glacier_days", "expiration_days", "noncurrent_version_expiration_days"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ArgsError(f"TrailBucketLifecycle.{name}: must be >= 1 (days)")
        transition = self.transition_to_glacier_days
        if transition is not None and transition >= self.expiration_days:
            raise ArgsError(f"TrailBucketLifecycle.expiration_days: must be greater than transition_to_glacier_days "
                            f"({transition})")


@dataclass
class AlarmSubscription:
    """A recipient of the security alarms: an email address or an HTTPS endpoint (never plain HTTP)."""

    protocol: str
    """`email` or `https`. Required."""
    endpoint: str
    """The email address, or the https:// URL (kept secret in state: it may carry an integration key). Required."""

    def __post_init__(self) -> None:
        if self.protocol not in ALARM_PROTOCOLS:
            raise ArgsError(f"AlarmSubscription.protocol: {self.protocol!r} is not one of email, https")
        if self.protocol == "https" and not self.endpoint.startswith("https://"):
            raise ArgsError("AlarmSubscription.endpoint: alarms may only be delivered to an https:// URL")
        if self.protocol == "email" and "@" not in self.endpoint:
            raise ArgsError(f"AlarmSubscription.endpoint: {self.endpoint!r} is not an email address")


@dataclass
class AuditTrailArgs:
    """Inputs of AuditTrail. Every default is the production-grade one."""

    environment: str
    """Environment name; names the trail, topics, alarms and metrics (`securestack-<environment>...`). Required."""
    logs_key_arn: pulumi.Input[str]
    """KMS key ARN that encrypts the trail's logs, its bucket, log group and topics; its policy needs
    `logs_key_statements(...)`. Required."""
    production: bool = True
    """Production: the trail, log group and bucket are protected and the bucket retained. Default true."""
    log_retention_days: int = 365
    """Retention of the trail's log group in days (a CloudWatch Logs retention value). Default 365."""
    organization_trail_log_group_name: Optional[str] = None
    """Log group of an existing organization trail to monitor instead of creating a trail (only the metric
    filters, alarms and the alarm topic are made). Default: none, a new multi-region trail."""
    bucket_lifecycle: TrailBucketLifecycle = field(default_factory=TrailBucketLifecycle)
    """Retention of the trail bucket's log files. Default: Glacier after 90 days, deleted after 7 years."""
    subscriptions: list[AlarmSubscription] = field(default_factory=list)
    """Recipients of the security alarms. Default none (an alarm nobody receives is not monitoring: set one)."""
    waf_blocked_requests_threshold: int = 500
    """Requests blocked by the web ACL in 5 minutes above which the WAF alarm fires, >= 1. Default 500."""
    secret_id_patterns: list[pulumi.Input[str]] = field(default_factory=list)
    """CloudTrail `requestParameters.secretId` patterns (wildcards allowed) of the secrets the secret alarms watch;
    an empty value is skipped. Default none (every secret)."""
    expected_secret_principals: list[pulumi.Input[str]] = field(default_factory=list)
    """IAM role/user ARNs (wildcards allowed) that read or write the secrets by design (app and rotator roles, a
    break-glass role); anyone else raises the unexpected-principal alarm. Default none."""
    web_acl_metric_name: Optional[pulumi.Input[str]] = None
    """The web ACL's CloudWatch metric name (TlsLoadBalancer.web_acl_name); no WAF alarm without one. Default
    none."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource. Default none."""
    server_access_logs: Optional[ServerAccessLogTarget] = None
    """Where the trail bucket's S3 server access logs go (Security Hub CloudTrail.7), under `cloudtrail/`.
    Default: not logged."""

    def __post_init__(self) -> None:
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ArgsError(f"AuditTrailArgs.log_retention_days: must be a CloudWatch Logs retention: "
                            f"{', '.join(map(str, LOG_RETENTION_DAYS))}")
        name = self.organization_trail_log_group_name
        if name is not None and not LOG_GROUP_NAME.match(name):
            raise ArgsError(f"AuditTrailArgs.organization_trail_log_group_name: {name!r} is not a CloudWatch Logs "
                            "log group name")
        if self.waf_blocked_requests_threshold < 1:
            raise ArgsError("AuditTrailArgs.waf_blocked_requests_threshold: must be >= 1")
        seen = [(s.protocol, s.endpoint.lower()) for s in self.subscriptions]
        if len(seen) != len(set(seen)):
            raise ArgsError("AuditTrailArgs.subscriptions: the same endpoint is subscribed twice")

    @property
    def creates_trail(self) -> bool:
        return self.organization_trail_log_group_name is None


class AuditTrail(pulumi.ComponentResource):
    """A multi-region CloudTrail trail (or an existing organization trail's log group) watched by the CIS /
    Security Hub CloudWatch.1-14 alarms and the project's own, every alarm to one KMS-encrypted topic."""

    trail_arn: pulumi.Output[Optional[str]]
    """ARN of the trail; none when an organization trail is monitored."""
    alarm_topic_arn: pulumi.Output[str]
    """ARN of the SNS topic every alarm notifies."""
    log_group_name: pulumi.Output[str]
    """Name of the log group the metric filters watch."""

    def __init__(self, name: str, args: AuditTrailArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(AuditTrailArgs, args)
        super().__init__("securestack:index:AuditTrail", name, None, renamed_from("securestack:audit:AuditTrail", opts))
        self._name, self._args, self._tags = name, args, dict(args.tags)
        self._prefix = f"securestack-{args.environment}"
        self.account_id, self.partition, self.region = aws_identity(self)
        if args.creates_trail:
            group = encrypted_log_group(
                f"{name}-log-group", log_group_name=f"/securestack/{args.environment}/cloudtrail",
                kms_key_arn=args.logs_key_arn, retention_days=args.log_retention_days, tags=self._tags,
                parent=self, protect=args.production)
            trail = self._trail(group, self._bucket(), self._notification_topic())
            self.trail_arn = trail.arn
            self.log_group_name = group.name
        else:
            self.trail_arn = pulumi.Output.from_input(None)
            organization_group = args.organization_trail_log_group_name
            assert organization_group is not None  # creates_trail is False exactly when it is set
            self.log_group_name = pulumi.Output.from_input(organization_group)
        topic = self._alarm_topic()
        self.alarm_topic_arn = topic.arn
        for alarm in (*CIS_ALARMS, *self._project_alarms()):
            self._log_alarm(alarm)
        if args.web_acl_metric_name is not None:
            self._waf_blocked_requests_alarm(args.web_acl_metric_name)
        self.register_outputs({"trail_arn": self.trail_arn, "alarm_topic_arn": self.alarm_topic_arn,
                               "log_group_name": self.log_group_name})

    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    # --- where the trail writes -------------------------------------------------------------------------------

    def _bucket(self) -> aws.s3.Bucket:
        name, args = self._name, self._args
        bucket, self._bucket_ready = private_bucket(  # the policy, which CloudTrail checks when the trail is created
            f"{name}-bucket", bucket_name=formatted("{0}-cloudtrail-{1}", self._prefix, self.account_id),
            # No S3 Bucket Key: with one, S3 derives object keys from a bucket-level key whose KMS calls carry the
            # bucket's ARN as encryption context instead of the trail's, and AWS requires kms:Decrypt to create or
            # update a trail on such a bucket ("Configure AWS KMS key policies for CloudTrail"); the logs key
            # grants CloudTrail only GenerateDataKey* for this trail's encryption context. A trail writes a few
            # objects per 5 minutes: per-object KMS calls cost nothing worth that.
            encryption_rule={"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                                         "kms_master_key_id": args.logs_key_arn},
                             "bucket_key_enabled": False},
            lifecycle_rules=_lifecycle_rules(args.bucket_lifecycle), policy=self._bucket_policy_document, tags=self._tags,
            parent=self, production=args.production,
            access_logs=None if args.server_access_logs is None else ServerAccessLogTarget(
                args.server_access_logs.bucket, TRAIL_ACCESS_LOG_PREFIX, args.server_access_logs.ready))
        return bucket

    def _bucket_policy_document(self, bucket: aws.s3.Bucket) -> pulumi.Output[str]:
        source = {"aws:SourceArn": trail_arn(self._args.environment, self.account_id, self.partition, self.region)}
        return policy_json([
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [bucket.arn, concatenated(bucket.arn, "/*")],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "CloudTrailChecksBucketAcl", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:GetBucketAcl", "Resource": bucket.arn, "Condition": {"StringEquals": source}},
            {"Sid": "CloudTrailWritesThisAccountsLogs", "Effect": "Allow",
             "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": formatted("{0}/AWSLogs/{1}/*", bucket.arn, self.account_id),
             "Condition": {"StringEquals": {**source, "s3:x-amz-acl": "bucket-owner-full-control"}}},
            # The allow above does not stop a principal of this account whose own IAM policy grants s3:PutObject:
            # these denies do. aws:SourceArn and aws:PrincipalServiceName are set only when a service principal
            # calls directly (IAM "AWS global condition context keys"), so an IAM user or role never matches them.
            # Only the write is denied: managing the bucket (policy, lifecycle) stays with the account's roles.
            {"Sid": "DenyWritesNotFromThisTrail", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": concatenated(bucket.arn, "/*"), "Condition": {"StringNotEquals": source}},
            {"Sid": "DenyWritesNotByCloudTrail", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": concatenated(bucket.arn, "/*"),
             "Condition": {"StringNotEquals": {"aws:PrincipalServiceName": CLOUDTRAIL_SERVICE}}},
        ])

    def _notification_topic(self) -> aws.sns.Topic:
        """Log-file delivery notifications (Security Hub / Checkov CKV_AWS_252): a topic of its own, since one
        message per delivered file would drown the alarm recipients; consumers (e.g. an SQS queue) subscribe."""
        name = self._name
        trail = trail_arn(self._args.environment, self.account_id, self.partition, self.region)
        topic = aws.sns.Topic(f"{name}-deliveries", name=f"{self._prefix}-cloudtrail-deliveries",
                              display_name=f"securestack {self._args.environment} CloudTrail log deliveries",
                              kms_master_key_id=self._args.logs_key_arn, tags=self._tags, opts=self._child())
        statements = [
            # aws:SourceArn of the trail, as "Amazon SNS topic policy for CloudTrail" recommends.
            {"Sid": "ThisTrailPublishes", "Effect": "Allow", "Principal": {"Service": CLOUDTRAIL_SERVICE},
             "Action": "sns:Publish", "Resource": topic.arn, "Condition": {"StringEquals": {"aws:SourceArn": trail}}},
            {"Sid": "DenyPublishNotFromThisTrail", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
             "Resource": topic.arn, "Condition": {"StringNotEquals": {"aws:SourceArn": trail}}},
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
             "Resource": topic.arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ]
        self._notification_topic_policy = aws.sns.TopicPolicy(
            f"{name}-deliveries-policy", arn=topic.arn, policy=policy_json(statements), opts=self._child())
        return topic

    def _trail(self, group: aws.cloudwatch.LogGroup, bucket: aws.s3.Bucket,
               notifications: aws.sns.Topic) -> aws.cloudtrail.Trail:
        name, env = self._name, self._args.environment
        role = aws.iam.Role(f"{name}-to-logs-role",
                            # No aws:SourceAccount/aws:SourceArn condition: CloudTrail's documented trust for this
                            # role has none ("Sending events to CloudWatch Logs", "Role policy document for
                            # CloudTrail to use CloudWatch Logs"), its confused-deputy guidance covers resource
                            # policies only, and trails whose role trust carries them fail to deliver (reported in
                            # prowler-cloud/prowler#4714). Only this account's trails can be given the role
                            # (iam:PassRole does not cross accounts).
                            assume_role_policy=service_assume_role_policy(CLOUDTRAIL_SERVICE),
                            description=f"CloudTrail {trail_name(env)} delivers to CloudWatch Logs",
                            tags=self._tags, opts=self._child())
        role_policy = aws.iam.RolePolicy(f"{name}-to-logs-write", role=role.id, policy=policy_json([{
            "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": concatenated(group.arn, ":log-stream:*")}]), opts=self._child())
        return aws.cloudtrail.Trail(
            f"{name}-trail", name=trail_name(env), s3_bucket_name=bucket.bucket, kms_key_id=self._args.logs_key_arn,
            is_multi_region_trail=True, include_global_service_events=True, enable_log_file_validation=True,
            enable_logging=True, cloud_watch_logs_group_arn=concatenated(group.arn, ":*"),
            cloud_watch_logs_role_arn=role.arn, sns_topic_name=notifications.name,
            # Every management event, read and write: secret reads (GetSecretValue) are read management events.
            event_selectors=[{"read_write_type": "All", "include_management_events": True}],
            tags=self._tags,
            # CloudTrail checks the bucket policy, the role and the topic policy when the trail is created.
            opts=self._child(protect=self._args.production,
                             depends_on=[self._bucket_ready, role_policy, self._notification_topic_policy]))

    # --- where the alarms go ----------------------------------------------------------------------------------

    def _alarm_topic(self) -> aws.sns.Topic:
        name = self._name
        topic = aws.sns.Topic(f"{name}-alarms", name=f"{self._prefix}-security-alarms",
                              display_name=f"securestack {self._args.environment} security alarms",
                              kms_master_key_id=self._args.logs_key_arn, tags=self._tags, opts=self._child())
        aws.sns.TopicPolicy(f"{name}-alarms-policy", arn=topic.arn, policy=policy_json([
            {"Sid": "CloudWatchAlarmsOfThisAccountPublish", "Effect": "Allow",
             "Principal": {"Service": CLOUDWATCH_SERVICE}, "Action": "sns:Publish", "Resource": topic.arn,
             "Condition": {"StringEquals": {"aws:SourceAccount": self.account_id}}},
            # A principal of this account with sns:Publish in its own IAM policy is not stopped by the allow above;
            # these denies stop it (aws:PrincipalServiceName and aws:SourceAccount exist only on direct calls by a
            # service principal). Publish only: the account's roles still manage the topic and its subscriptions.
            {"Sid": "DenyPublishNotByCloudWatch", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
             "Resource": topic.arn,
             "Condition": {"StringNotEquals": {"aws:PrincipalServiceName": CLOUDWATCH_SERVICE}}},
            {"Sid": "DenyPublishFromOtherAccounts", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
             "Resource": topic.arn, "Condition": {"StringNotEquals": {"aws:SourceAccount": self.account_id}}},
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sns:Publish",
             "Resource": topic.arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ]), opts=self._child())
        for index, subscription in enumerate(self._args.subscriptions):
            # An HTTPS endpoint may carry an integration key in its path: keep it out of plain-text state.
            endpoint = subscription.endpoint if subscription.protocol == "email" else \
                pulumi.Output.secret(subscription.endpoint)
            aws.sns.TopicSubscription(f"{name}-alarms-{subscription.protocol}-{index}", topic=topic.arn,
                                      protocol=subscription.protocol, endpoint=endpoint, opts=self._child())
        return topic

    # --- the alarms -------------------------------------------------------------------------------------------

    def _project_alarms(self) -> list[LogAlarm]:
        args = self._args
        secrets = _resolved(list(args.secret_id_patterns))
        principals = _resolved(list(args.expected_secret_principals))
        return [
            LogAlarm("secrets-access-denied", "secrets-access-denied", "SecretsAccessDenied",
                     secrets.apply(secrets_denied_pattern),
                     "A call on one of this environment's secrets was denied (AccessDenied).",
                     "Read userIdentity.arn and eventName of the event in the trail's log group: an app or rotator "
                     "role means a broken policy after a deploy (check the secret's resource policy); any other "
                     "principal is probing secrets - disable its credentials."),
            LogAlarm("secrets-unexpected-principal", "secrets-unexpected-principal", "SecretsUnexpectedPrincipal",
                     pulumi.Output.all(secrets, principals).apply(
                         lambda both: secrets_unexpected_principal_pattern(both[0], both[1])),
                     "A principal other than the app and rotator roles read or wrote the value of one of this "
                     "environment's secrets.",
                     "Identify userIdentity.arn; unless it was a sanctioned break-glass access, rotate the secret now "
                     "(aws secretsmanager rotate-secret) and revoke that principal's credentials."),
            LogAlarm("secret-rotation-failures", "secret-rotation-failures", "SecretRotationFailures",
                     ROTATION_FAILURE_PATTERN,
                     "A Secrets Manager rotation failed (RotationFailed) or was abandoned (RotationAbandoned).",
                     "Open the log group of the secret's rotation function, fix the cause and retry with aws "
                     "secretsmanager rotate-secret; the current version keeps working meanwhile."),
            LogAlarm("rds-deletion-protection-off", "rds-deletion-protection-off", "RdsDeletionProtectionDisabled",
                     RDS_DELETION_PROTECTION_OFF_PATTERN,
                     "Deletion protection was turned off on an RDS database or cluster.",
                     "Unless a deletion is planned, turn it back on now (pulumi up restores it in production) and "
                     "find who turned it off; check whether a DeleteDBInstance followed."),
        ]

    def _log_alarm(self, alarm: LogAlarm) -> aws.cloudwatch.MetricAlarm:
        slug = _alarm_slug(alarm)
        aws.cloudwatch.LogMetricFilter(
            f"{self._name}-{slug}-filter", name=f"{self._prefix}-{slug}", log_group_name=self.log_group_name,
            pattern=alarm.pattern, metric_transformation={
                "name": alarm.metric_name, "namespace": self.metric_namespace, "value": "1"}, opts=self._child())
        return self._metric_alarm(slug, alarm.key, alarm.happened, alarm.first_step, metric_name=alarm.metric_name,
                                  namespace=self.metric_namespace, threshold=1,
                                  comparison_operator="GreaterThanOrEqualToThreshold")

    def _waf_blocked_requests_alarm(self, web_acl_metric_name: pulumi.Input[str]) -> aws.cloudwatch.MetricAlarm:
        threshold = self._args.waf_blocked_requests_threshold
        return self._metric_alarm(
            "waf-blocked-requests-spike", "waf-blocked-requests-spike",
            f"The web ACL blocked more than {threshold} requests in 5 minutes.",
            "Open the WAF logs or sampled requests: which rule blocks and which clients. An attack means the rules "
            "work (watch the app's error rate); a false positive after a release means tuning that rule.",
            metric_name="BlockedRequests", namespace="AWS/WAFV2", threshold=threshold,
            comparison_operator="GreaterThanThreshold",
            dimensions={"WebACL": web_acl_metric_name, "Region": self.region, "Rule": "ALL"})

    def _metric_alarm(self, slug: str, key: str, happened: str, first_step: str, **metric: Any
                      ) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{slug}-alarm", name=f"{self._prefix}-{slug}",
            alarm_description=f"[securestack {self._args.environment}] {key}: {happened} First: {first_step}",
            statistic="Sum", period=ALARM_PERIOD_SECONDS, evaluation_periods=1, treat_missing_data="notBreaching",
            actions_enabled=True, alarm_actions=[self.alarm_topic_arn], tags=self._tags, opts=self._child(),
            **metric)

    @property
    def metric_namespace(self) -> str:
        return f"securestack/{self._args.environment}/audit"


def _alarm_slug(alarm: LogAlarm) -> str:
    """CIS alarms carry their control id (cis-cloudwatch-1-root-user-usage), so Security Hub findings match up."""
    if alarm.key.startswith("CloudWatch."):
        return f"cis-{alarm.key.lower().replace('.', '-')}-{alarm.slug}"
    return alarm.slug


def _lifecycle_rules(lifecycle: TrailBucketLifecycle) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    retention: aws.s3.BucketLifecycleConfigurationRuleArgsDict = {
        "id": "cloudtrail-log-retention", "status": "Enabled", "filter": {"prefix": ""},
        "expiration": {"days": lifecycle.expiration_days},
        "noncurrent_version_expiration": {"noncurrent_days": lifecycle.noncurrent_version_expiration_days},
        "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}
    if lifecycle.transition_to_glacier_days is not None:
        retention["transitions"] = [{"days": lifecycle.transition_to_glacier_days, "storage_class": "GLACIER"}]
    # Expiry in a versioned bucket leaves delete markers; drop them once no version is behind them.
    delete_markers: aws.s3.BucketLifecycleConfigurationRuleArgsDict = {"id": "remove-expired-delete-markers", "status": "Enabled", "filter": {"prefix": ""},
                      "expiration": {"expired_object_delete_marker": True}}
    return [retention, delete_markers]
