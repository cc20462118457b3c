"""SecretAgeAlarms: a daily function that measures every secret of the environment, and the alarms on its metrics.

The function (`lambdas/secret_age/`, packaged and signed like the rotators) runs once a day on an EventBridge
schedule and publishes, in the namespace `Securestack/Secrets`, each secret's age and whether it has a current
value, and per environment the number of overdue, valueless and compromised secrets. Three alarms watch those
counts (any above 0) and notify the audit topic, and treat missing data as breaching: a function that stopped
running raises them too. A fourth alarm watches the function's own errors. It reads names, tags, dates and stages
only: its role cannot call GetSecretValue.

What CloudWatch does with a daily metric when a day's datapoint is missing (CloudWatch user guide, "Configuring
how CloudWatch alarms treat missing data"): an alarm evaluates more periods than its evaluation periods and fills
only missing ones with the chosen treatment, so a day whose datapoint has not arrived yet does not flip the
alarm while an earlier one exists; after a few days without any, the alarm goes to ALARM.
"""
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from .args import as_args, check_all, check_environment, check_log_retention, check_tags
from .code_signing import CodeSigningTarget, SignedCode, signed_code
from .common import aws_identity, encrypted_log_group, formatted, policy_json, service_assume_role_policy
from .rotation import (ARCHITECTURE, HANDLER, HTTPS_PORT, MEMORY_MB, RUNTIME, TRACING_MODE, build_archive,
                       function_name, role_name, vpc_function_runtime_statements)

FUNCTION_KIND = "secret_age"  # its directory of lambdas/
NAMESPACE = "Securestack/Secrets"
SCHEDULE = "rate(1 day)"
DAY_SECONDS = 86400
# ListSecrets pages through the environment and two calls per secret follow, each within seconds: two minutes
# leave room for an environment with hundreds of secrets and the clients' bounded retries.
TIMEOUT_SECONDS = 120
ENVIRONMENT_VARIABLE = "SECURESTACK_ENVIRONMENT"


@dataclass(frozen=True)
class CountAlarm:
    """An alarm on one per-environment count the function publishes."""

    slug: str  # the alarm is `securestack-<env>-<slug>`
    metric: str
    happened: str
    first_step: str


COUNT_ALARMS = (
    CountAlarm("secrets-overdue", "OverdueSecrets",
               "a secret is older than its rotation days (self-issued: one more day), or a vendor secret has none",
               "python -m infra.secrets status <stack> names it. A vendor key: create a new key with the same scopes "
               "at the vendor, then stage and promote it. A self-issued one: its rotation stopped; read its "
               "rotator's log and run aws secretsmanager rotate-secret."),
    CountAlarm("secrets-without-current-value", "SecretsWithoutCurrentValue",
               "a secret has no AWSCURRENT value (or could not be described), or the age function did not report",
               "python -m infra.secrets status <stack>. A new vendor secret: stage and promote its first value. "
               "No datapoints at all: check the secret-age function's schedule and log."),
    CountAlarm("secrets-compromised", "CompromisedSecrets",
               "a secret is marked compromised (securestack:compromised, set by revoke)",
               "Create a new value at the vendor, stage and promote it (promote clears the mark), then delete the "
               "compromised key at the vendor and retire it."),
)


@dataclass
class SecretAgeAlarmsArgs:
    """Inputs of SecretAgeAlarms."""

    environment: str
    """Environment name: the function checks the secrets `securestack/<environment>/{api-keys,webhooks,database}/`
    and is named `securestack-<environment>-secret-age`. Required."""
    secrets_key_arn: pulumi.Input[str]
    """KMS key ARN that encrypts the function's environment variables (the environment's secrets key). Required."""
    logs_key_arn: pulumi.Input[str]
    """KMS key ARN of the function's log group. Required."""
    vpc_id: pulumi.Input[str]
    """VPC the function runs in. Required."""
    vpc_cidr: pulumi.Input[str]
    """CIDR of that VPC: the function's only egress is 443 to it (the interface endpoints, `monitoring` included).
    Required."""
    private_subnet_ids: pulumi.Input[list[pulumi.Input[str]]]
    """Private subnets of the function's network interfaces. Required."""
    code_signing: CodeSigningTarget
    """Where the archive is signed, as for the rotators (RotatorCodeSigning.target()). Required."""
    alarm_topic_arn: pulumi.Input[str]
    """SNS topic every alarm notifies when it fires and when it clears (AuditTrail.alarm_topic_arn). Required."""
    log_retention_days: int = 365
    """Retention of its log group in days (a CloudWatch Logs retention value). Default 365."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource. Default none."""

    def __post_init__(self) -> None:
        check_environment(self)
        check_log_retention(self, "log_retention_days")
        check_tags(self)
        check_all(self, [("code_signing", isinstance(self.code_signing, CodeSigningTarget),
                          "must be a CodeSigningTarget (RotatorCodeSigning.target())")])


class SecretAgeAlarms(pulumi.ComponentResource):
    """The daily secret age function (signed code, private subnets, a role that never reads a value), its
    schedule, and alarms on the audit topic when a secret is overdue, has no current value or is compromised."""

    function_arn: pulumi.Output[str]
    """ARN of the age function."""
    function_name: pulumi.Output[str]
    """Name of the age function."""
    role_arn: pulumi.Output[str]
    """ARN of the function's role."""
    schedule_rule_arn: pulumi.Output[str]
    """ARN of the EventBridge rule that invokes it daily."""
    security_group_id: pulumi.Output[str]
    """Security group of the function (egress 443 to the VPC only)."""

    def __init__(self, name: str, args: SecretAgeAlarmsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(SecretAgeAlarmsArgs, args)
        super().__init__("securestack:index:SecretAgeAlarms", name, None, opts)
        self._name, self._args, self._tags = name, args, dict(args.tags)
        self.account_id, self.partition, self.region = aws_identity(self)
        self._function_name = function_name(args.environment, FUNCTION_KIND)
        self.archive = build_archive(FUNCTION_KIND)
        self.signed_code: SignedCode = signed_code(
            f"{name}-code", args.code_signing, kind=FUNCTION_KIND, archive_path=str(self.archive.path),
            sha256_hex=self.archive.sha256, parent=self, tags=self._tags)
        self.log_group = encrypted_log_group(
            f"{name}-logs", log_group_name=f"/aws/lambda/{self._function_name}", kms_key_arn=args.logs_key_arn,
            retention_days=args.log_retention_days, tags=self._tags, parent=self)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", vpc_id=args.vpc_id, description=f"secret age function {self._function_name}: egress only",
            egress=[{"protocol": "tcp", "from_port": HTTPS_PORT, "to_port": HTTPS_PORT, "cidr_blocks": [args.vpc_cidr],
                     "description": "AWS APIs through the VPC interface endpoints"}],
            tags={**self._tags, "Name": self._function_name}, opts=self._child())
        self.role = aws.iam.Role(
            f"{name}-role", name=role_name(self._function_name),
            description=f"secret age function {self._function_name}",
            assume_role_policy=service_assume_role_policy("lambda.amazonaws.com", self.account_id),
            tags=self._tags, opts=self._child())
        runtime_policy = aws.iam.RolePolicy(
            f"{name}-runtime", role=self.role.id,
            policy=policy_json(vpc_function_runtime_statements(self.log_group.arn, self._arn, self.region)),
            opts=self._child())
        self.check_policy = aws.iam.RolePolicy(f"{name}-check", role=self.role.id, policy=self._check_policy(),
                                               opts=self._child())
        self.function = self._function(runtime_policy)
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-schedule", name=self._function_name, schedule_expression=SCHEDULE,
            description=f"daily age check of the securestack {args.environment} secrets", tags=self._tags,
            opts=self._child())
        self.permission = aws.lambda_.Permission(
            f"{name}-invoke", function=self.function.name, action="lambda:InvokeFunction",
            principal="events.amazonaws.com", source_arn=self.rule.arn, opts=self._child())
        self.target = aws.cloudwatch.EventTarget(
            f"{name}-target", rule=self.rule.name, arn=self.function.arn,
            opts=self._child(depends_on=[self.permission]))
        self.alarms = [self._count_alarm(alarm) for alarm in COUNT_ALARMS] + [self._errors_alarm()]
        self.function_arn = self.function.arn
        self.function_name = self.function.name
        self.role_arn = self.role.arn
        self.schedule_rule_arn = self.rule.arn
        self.security_group_id = self.security_group.id
        self.register_outputs({"function_arn": self.function_arn, "function_name": self.function_name,
                               "role_arn": self.role_arn, "schedule_rule_arn": self.schedule_rule_arn,
                               "security_group_id": self.security_group_id})

    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    def _arn(self, service: str, resource: str) -> pulumi.Output[str]:
        return formatted("arn:{0}:{1}:{2}:{3}:{4}", self.partition, service, self.region,
                                    self.account_id, resource)

    def _check_policy(self) -> pulumi.Output[str]:
        """Names, tags, dates and stages of this environment's secrets, and its own metrics; never a value."""
        in_this_region = {"StringEquals": {"aws:RequestedRegion": self.region}}
        return policy_json([
            # ListSecrets has no resource-level permissions (Service Authorization Reference, AWS Secrets Manager).
            {"Sid": "ListSecretsInThisRegion", "Effect": "Allow", "Action": "secretsmanager:ListSecrets",
             "Resource": "*", "Condition": in_this_region},
            {"Sid": "DescribeThisEnvironmentsSecrets", "Effect": "Allow",
             "Action": ["secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"],
             "Resource": self._arn("secretsmanager", f"secret:securestack/{self._args.environment}/*")},
            # PutMetricData has no resources either; its namespace condition key bounds it to this one.
            {"Sid": "PublishSecretMetricsOnly", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
             "Resource": "*", "Condition": {"StringEquals": {"cloudwatch:namespace": NAMESPACE}}},
        ])

    def _function(self, runtime_policy: aws.iam.RolePolicy) -> aws.lambda_.Function:
        args = self._args
        return aws.lambda_.Function(
            f"{self._name}-function", name=self._function_name, role=self.role.arn, runtime=RUNTIME, handler=HANDLER,
            architectures=[ARCHITECTURE], s3_bucket=self.signed_code.bucket, s3_key=self.signed_code.key,
            code_signing_config_arn=args.code_signing.config_arn, source_code_hash=self.archive.source_code_hash,
            timeout=TIMEOUT_SECONDS, memory_size=MEMORY_MB,
            description=f"daily age metrics of the securestack {args.environment} secrets",
            # Configuration only, encrypted with the secrets key as the rotators' (components/rotation.py).
            environment={"variables": {ENVIRONMENT_VARIABLE: args.environment}}, kms_key_arn=args.secrets_key_arn,
            vpc_config={"subnet_ids": args.private_subnet_ids, "security_group_ids": [self.security_group.id]},
            tracing_config={"mode": TRACING_MODE},
            logging_config={"log_format": "Text", "log_group": self.log_group.name}, tags=self._tags,
            # The log group first (else Lambda creates one unencrypted, kept forever), the runtime policy first
            # (Lambda checks the network-interface and tracing permissions when it creates the function).
            opts=self._child(depends_on=[self.log_group, runtime_policy]))

    def _alarm(self, slug: str, description: str, **metric: Any) -> aws.cloudwatch.MetricAlarm:
        topic = [self._args.alarm_topic_arn]
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{slug}-alarm", name=f"securestack-{self._args.environment}-{slug}",
            alarm_description=f"[securestack {self._args.environment}] {slug}: {description}",
            period=DAY_SECONDS, evaluation_periods=1, threshold=0, comparison_operator="GreaterThanThreshold",
            actions_enabled=True, alarm_actions=topic, ok_actions=topic, tags=self._tags, opts=self._child(),
            **metric)

    def _count_alarm(self, alarm: CountAlarm) -> aws.cloudwatch.MetricAlarm:
        return self._alarm(
            alarm.slug, f"{alarm.happened}. First: {alarm.first_step}", namespace=NAMESPACE,
            metric_name=alarm.metric, dimensions={"Environment": self._args.environment}, statistic="Maximum",
            # No datapoint is a function that stopped reporting: as bad as the condition itself.
            treat_missing_data="breaching")

    def _errors_alarm(self) -> aws.cloudwatch.MetricAlarm:
        return self._alarm(
            "secret-age-errors", f"the function {self._function_name} failed (it could not list the secrets or "
            "publish the metrics). First: read its log group for the error line.", namespace="AWS/Lambda",
            metric_name="Errors", dimensions={"FunctionName": self.function.name}, statistic="Sum",
            treat_missing_data="notBreaching")
