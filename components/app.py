"""AppService: the app on ECS Fargate behind the load balancer; what it injects by reference, what it reads itself.

Two roles, two kinds of secret access:
- the execution role (the ECS agent) injects the database login, and the vendor-issued API keys the app calls its
  vendors with, by `<secret ARN>:<json key>::` when a task starts, so no value appears in code, config, state or
  outputs. After that secret's rotation its rotator forces a new
  deployment (tag `securestack:ecs-service`); the circuit breaker rolls back one that does not become healthy.
- the task role (the app's code, through `securestack_runtime`) reads at run time exactly the verifier records of
  the API keys it verifies (digests, never a key value), finds them from DescribeSecret on those keys (never
  GetSecretValue), reads the webhook secrets it signs with, and the vendor-issued webhook secrets it verifies a
  vendor's webhooks with (SECURESTACK_VENDOR_WEBHOOK_SECRETS). It gets their ARNs as configuration
  (SECURESTACK_API_KEY_VERIFIERS, SECURESTACK_WEBHOOK_SECRETS), so a rotation needs no redeploy: the library
  reloads on a timer and once on a miss.
"""
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from .args import ArgsError, as_args, check_all
from .common import (aws_identity, concatenated, encrypted_log_group, formatted, policy_json, renamed_from,
                     service_assume_role_policy, waiting_for)

HTTPS_PORT = 443
POSTGRES_PORT = 5432
ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
                       r"(?P<repository>[^:@]+)")
TMP_VOLUME = "tmp"  # the one writable path of a read-only root filesystem
# Fargate's valid (cpu units -> memory MiB) combinations.
FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}
CPU_ARCHITECTURES = ("X86_64", "ARM64")
# registry/repository[:tag][@sha256:digest]; a digest pins exactly what runs.
IMAGE = re.compile(r"^(?P<repository>[a-z0-9]+([._/-][a-z0-9]+)*(:\d+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+)"
                   r"(:(?P<tag>[\w][\w.-]{0,127}))?(@(?P<digest>sha256:[0-9a-f]{64}))?$")
APP_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
APP_NAME_MAX = 20  # part of role, cluster and service names
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
USER = re.compile(r"^(\d{1,10})(:\d{1,10})?$")
# CloudWatch Logs' accepted retentions (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)


def cluster_name(environment: str) -> str:
    return f"securestack-{environment}"


def service_name(environment: str, app_name: str) -> str:
    return f"securestack-{environment}-{app_name}"


def execution_role_name(environment: str, app_name: str) -> str:
    """Deterministic, so secrets can name the reader in their policies before the role exists (no cycle)."""
    return f"securestack-{environment}-{app_name}-execution"


def execution_role_arn(environment: str, app_name: str, account: pulumi.Input[str],
                       partition: pulumi.Input[str]) -> pulumi.Output[str]:
    return formatted("arn:{0}:iam::{1}:role/{2}", partition, account,
                                execution_role_name(environment, app_name))


def task_role_name(environment: str, app_name: str) -> str:
    """Deterministic, like the execution role's: the verifier records and webhook secrets name it."""
    return f"securestack-{environment}-{app_name}-task"


def task_role_arn(environment: str, app_name: str, account: pulumi.Input[str],
                  partition: pulumi.Input[str]) -> pulumi.Output[str]:
    return formatted("arn:{0}:iam::{1}:role/{2}", partition, account, task_role_name(environment, app_name))


def secret_reference(secret_arn: pulumi.Input[str], json_key: str) -> pulumi.Output[str]:
    """ECS `valueFrom` for one JSON key of the AWSCURRENT version: a reference, never the value."""
    return formatted("{0}:{1}::", secret_arn, json_key)


@dataclass(frozen=True)
class SecretVariable:
    """A container environment variable ECS fills from a secret when a task starts (by reference, never the
    value)."""

    name: str
    """Environment variable name (A-Z, 0-9, _). Required."""
    secret_arn: pulumi.Input[str]
    """ARN of the secret; the execution role may read exactly the secrets named here. Required."""
    json_key: str
    """JSON key of the secret's value to inject. Required."""

    def __post_init__(self) -> None:
        if not ENV_NAME.match(self.name):
            raise ArgsError(f"SecretVariable.name: {self.name!r} is not an environment variable name (A-Z, 0-9, _)")


@dataclass(frozen=True)
class RuntimeSecretAccess:
    """What the app's own code reads from Secrets Manager at run time (task role), by ARN."""

    verified_key_arns: list[pulumi.Input[str]] = field(default_factory=list)
    """Key secrets it verifies: DescribeSecret only (their `securestack:verifier-secret` tag names the record).
    Default none."""
    verifier_record_arns: list[pulumi.Input[str]] = field(default_factory=list)
    """Their verifier records: GetSecretValue (digests only). Default none."""
    signing_secret_arns: list[pulumi.Input[str]] = field(default_factory=list)
    """Webhook secrets it signs with: GetSecretValue (HMAC needs the value). Default none."""
    verified_webhook_arns: list[pulumi.Input[str]] = field(default_factory=list)
    """Vendor-issued webhook secrets it verifies the vendor's webhooks with: GetSecretValue (current, pending and
    previous), DescribeSecret (their stages and grace tag) and ListSecretVersionIds (when current was created, which
    starts the previous value's grace), what securestack_runtime's WebhookVerifier calls. Default none."""

    @property
    def reads(self) -> list[pulumi.Input[str]]:
        return [*self.verifier_record_arns, *self.signing_secret_arns, *self.verified_webhook_arns]


@dataclass
class AppServiceArgs:
    """Inputs of AppService. Every default is the production-grade one."""

    environment: str
    """Environment name; names the cluster `securestack-<environment>` and the service
    `securestack-<environment>-<name>`. Required."""
    image: str
    """Container image (registry/repository:tag or @sha256:...; pin by digest in production). Required."""
    vpc_id: pulumi.Input[str]
    """VPC of the tasks. Required."""
    vpc_cidr: pulumi.Input[str]
    """CIDR of that VPC: the tasks' AWS API egress (443 to the interface endpoints). Required."""
    private_subnet_ids: pulumi.Input[list[pulumi.Input[str]]]
    """Private subnets the tasks run in (no public IP). Required."""
    target_group_arn: pulumi.Input[str]
    """Target group the tasks register in (TlsLoadBalancer.target_group_arn). Required."""
    load_balancer_security_group_id: pulumi.Input[str]
    """Security group of the load balancer, the only ingress source. Required."""
    secrets_key_arn: pulumi.Input[str]
    """KMS key ARN of the secrets the tasks get injected or read. Required."""
    logs_key_arn: pulumi.Input[str]
    """KMS key ARN of the app's log group. Required."""
    name: str = "app"
    """Container and service name, 1-20 lowercase letters, digits and single '-'. Default app."""
    cpu: int = 512
    """Task CPU units (a Fargate size with `memory`). Default 512."""
    memory: int = 1024
    """Task memory in MiB (a Fargate size with `cpu`). Default 1024."""
    cpu_architecture: str = "X86_64"
    """X86_64 or ARM64. Default X86_64."""
    desired_count: int = 2
    """Tasks to run, 1..100 (>= 2 survives an AZ). Default 2."""
    container_port: int = 8443
    """Port the container listens on, 1024..65535 (non-root: no privileged ports). Default 8443."""
    health_check_grace_seconds: int = 60
    """Seconds ECS ignores failing load balancer health checks of a new task, >= 0. Default 60."""
    user: str = "10001:10001"
    """Numeric uid[:gid] the container runs as; never 0 (root). Default 10001:10001."""
    log_retention_days: int = 365
    """Retention of the app's log group in days (a CloudWatch Logs retention value). Default 365."""
    secret_variables: list[SecretVariable] = field(default_factory=list)
    """Variables ECS injects from secrets when a task starts. Default none."""
    runtime_secrets: RuntimeSecretAccess = field(default_factory=RuntimeSecretAccess)
    """What the app's code reads itself at run time (task role). Default nothing."""
    environment_variables: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plain settings (TTLs, endpoints; never a secret); a name may not also be a secret variable. Default none."""
    database_security_group_id: Optional[pulumi.Input[str]] = None
    """Security group of the database the tasks reach on 5432 (it must admit the app's group). Default none."""
    start_after: list[pulumi.Input[str]] = field(default_factory=list)
    """Values (e.g. a component's `urn`, a readiness resource's id) the service waits for the resources behind:
    the load balancer (ECS refuses a target group without a listener) and the readiness of the secrets it injects
    (a task cannot start before its secrets have a value). Default none."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource. Default none."""

    def __post_init__(self) -> None:
        user = USER.match(self.user)
        checks = [
            ("image", bool(IMAGE.match(self.image)),
             f"{self.image!r} is not a container image reference (registry/repository:tag or @sha256:...)"),
            ("name", len(self.name) <= APP_NAME_MAX and bool(APP_NAME.match(self.name)),
             f"{self.name!r} must be 1-{APP_NAME_MAX} lowercase letters, digits or single '-' (part of AWS names)"),
            ("memory", self.memory in FARGATE_MEMORY.get(self.cpu, ()),
             f"cpu {self.cpu} with memory {self.memory} is not a Fargate task size"),
            ("cpu_architecture", self.cpu_architecture in CPU_ARCHITECTURES, "must be X86_64 or ARM64"),
            ("desired_count", 1 <= self.desired_count <= 100, "must be 1..100"),
            ("container_port", 1024 <= self.container_port <= 65535, "must be 1024..65535 (no privileged ports)"),
            ("health_check_grace_seconds", self.health_check_grace_seconds >= 0, "must be >= 0"),
            ("user", user is not None and int(user.group(1)) != 0,
             "must be a numeric uid[:gid] other than root (uid 0)"),
            ("log_retention_days", self.log_retention_days in LOG_RETENTION_DAYS,
             "must be a CloudWatch Logs retention value"),
        ]
        check_all(self, checks)
        clashes = sorted({v.name for v in self.secret_variables} & set(self.environment_variables))
        if clashes:
            raise ArgsError(f"AppServiceArgs.environment_variables: {', '.join(clashes)} also secret variables")


class AppService(pulumi.ComponentResource):
    """Fargate tasks in the private subnets, no public IP, reachable only from the load balancer. Secrets are
    injected by reference; a separate task role reads what the app's code needs at run time."""

    cluster_arn: pulumi.Output[str]
    """ARN of the ECS cluster."""
    service_arn: pulumi.Output[str]
    """ARN of the ECS service."""
    task_definition_arn: pulumi.Output[str]
    """ARN of the task definition."""
    security_group_id: pulumi.Output[str]
    """Security group of the tasks (a database admits it)."""
    execution_role_arn: pulumi.Output[str]
    """ARN of the execution role (ECS agent: image pull, logs, injected secrets)."""
    task_role_arn: pulumi.Output[str]
    """ARN of the task role (the app's code: verifier records and signing secrets)."""

    def __init__(self, name: str, args: AppServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(AppServiceArgs, args)
        super().__init__("securestack:index:AppService", name, None, renamed_from("securestack:app:AppService", opts))
        self._name, self._args, self._tags = name, args, dict(args.tags)
        env = args.environment
        self.account_id, self.partition, self.region = aws_identity(self)
        self.cluster_name = cluster_name(env)
        self.service_name = service_name(env, args.name)
        self.log_group = encrypted_log_group(
            f"{name}-logs", log_group_name=f"/securestack/{env}/{args.name}", kms_key_arn=args.logs_key_arn,
            retention_days=args.log_retention_days, tags=self._tags, parent=self)
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster", name=self.cluster_name, settings=[{"name": "containerInsights", "value": "enabled"}],
            tags=self._tags, opts=self._child())
        self.execution_role = self._execution_role()
        self.task_role = self._task_role()
        self.security_group = self._security_group()
        self.task_definition = self._task_definition()
        self.service = self._service()
        self.cluster_arn = self.cluster.arn
        self.service_arn = self.service.arn
        self.task_definition_arn = self.task_definition.arn
        self.security_group_id = self.security_group.id
        self.execution_role_arn = self.execution_role.arn
        self.task_role_arn = self.task_role.arn
        self.register_outputs({"cluster_arn": self.cluster_arn, "service_arn": self.service_arn,
                               "task_definition_arn": self.task_definition_arn,
                               "security_group_id": self.security_group_id,
                               "execution_role_arn": self.execution_role_arn, "task_role_arn": self.task_role_arn})

    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    def _execution_role(self) -> aws.iam.Role:
        args = self._args
        role = aws.iam.Role(
            f"{self._name}-execution-role", name=execution_role_name(args.environment, args.name),
            description=f"ECS agent of {self.service_name}: pulls the image, writes logs, injects exactly its secrets",
            assume_role_policy=service_assume_role_policy("ecs-tasks.amazonaws.com", self.account_id),
            tags=self._tags, opts=self._child())
        aws.iam.RolePolicy(f"{self._name}-execution", role=role.id, policy=policy_json(self._execution_statements()),
                           opts=self._child())
        return role

    def _task_role(self) -> aws.iam.Role:
        args = self._args
        role = aws.iam.Role(
            f"{self._name}-task-role", name=task_role_name(args.environment, args.name),
            description=f"what the {self.service_name} code itself may do: read its verifier records and signing "
                        "secrets, never a key value",
            assume_role_policy=service_assume_role_policy("ecs-tasks.amazonaws.com", self.account_id),
            tags=self._tags, opts=self._child())
        statements = self._task_statements()
        if statements:
            aws.iam.RolePolicy(f"{self._name}-task-role-secrets", role=role.id, policy=policy_json(statements),
                               opts=self._child())
        return role

    def _task_statements(self) -> list[dict[str, Any]]:
        access, statements = self._args.runtime_secrets, []
        if access.verified_key_arns:
            statements.append({"Sid": "FindVerifierRecordsOfVerifiedKeys", "Effect": "Allow",
                               "Action": "secretsmanager:DescribeSecret", "Resource": list(access.verified_key_arns)})
        if access.verifier_record_arns:
            statements.append({"Sid": "ReadVerifierRecords", "Effect": "Allow",
                               "Action": "secretsmanager:GetSecretValue",
                               "Resource": list(access.verifier_record_arns)})
        if access.signing_secret_arns:
            statements.append({"Sid": "ReadWebhookSigningSecrets", "Effect": "Allow",
                               "Action": "secretsmanager:GetSecretValue",
                               "Resource": list(access.signing_secret_arns)})
        if access.verified_webhook_arns:
            statements.append({"Sid": "VerifyVendorWebhooks", "Effect": "Allow",
                               "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",
                                          "secretsmanager:ListSecretVersionIds"],
                               "Resource": list(access.verified_webhook_arns)})
        if access.reads:
            statements.append(self._secrets_key_statement())
        return statements

    def _secrets_key_statement(self) -> dict[str, Any]:
        return {"Sid": "SecretsKeyThroughSecretsManager", "Effect": "Allow", "Action": "kms:Decrypt",
                "Resource": self._args.secrets_key_arn, "Condition": {"StringEquals": {
                    "kms:ViaService": formatted("secretsmanager.{0}.amazonaws.com", self.region)}}}

    def _execution_statements(self) -> list[dict[str, Any]]:
        args = self._args
        statements: list[dict[str, Any]] = [
            {"Sid": "OwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": concatenated(self.log_group.arn, ":*")}]
        secret_arns = list(dict.fromkeys(v.secret_arn for v in args.secret_variables))
        if secret_arns:
            statements += [
                {"Sid": "InjectConsumedSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                 "Resource": secret_arns},
                self._secrets_key_statement()]
        statements += self._image_pull_statements()
        return statements

    def _image_pull_statements(self) -> list[dict[str, Any]]:
        match = ECR_IMAGE.match(self._args.image)
        if match is None:
            return []  # a public image needs no permission
        repository = formatted("arn:{0}:ecr:{1}:{2}:repository/{3}", self.partition, match["region"],
                                          match["account"], match["repository"])
        return [
            {"Sid": "PullTheImage", "Effect": "Allow",
             "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
             "Resource": repository},
            # GetAuthorizationToken has no resource-level permission: '*' bounded to the image's region.
            {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestedRegion": match["region"]}}}]

    def _security_group(self) -> aws.ec2.SecurityGroup:
        args, port = self._args, self._args.container_port
        s3 = aws.ec2.get_prefix_list_output(name=formatted("com.amazonaws.{0}.s3", self.region),
                                            opts=pulumi.InvokeOutputOptions(parent=self))
        egress: list[aws.ec2.SecurityGroupEgressArgsDict] = [
            {"protocol": "tcp", "from_port": HTTPS_PORT, "to_port": HTTPS_PORT, "cidr_blocks": [args.vpc_cidr],
                   "description": "AWS APIs (secrets, logs, ECR) through the VPC interface endpoints"},
                  {"protocol": "tcp", "from_port": HTTPS_PORT, "to_port": HTTPS_PORT, "prefix_list_ids": [s3.id],
                   "description": "image layers from S3 through the gateway endpoint"}]
        if args.database_security_group_id is not None:
            egress.append({"protocol": "tcp", "from_port": POSTGRES_PORT, "to_port": POSTGRES_PORT,
                           "security_groups": [args.database_security_group_id], "description": "PostgreSQL"})
        return aws.ec2.SecurityGroup(
            f"{self._name}-sg", vpc_id=args.vpc_id, description=f"{self.service_name}: from the load balancer only",
            ingress=[{"protocol": "tcp", "from_port": port, "to_port": port,
                      "security_groups": [args.load_balancer_security_group_id],
                      "description": "health checks and requests from the load balancer"}],
            egress=egress, tags={**self._tags, "Name": self.service_name}, opts=self._child())

    def _container(self) -> dict[str, Any]:
        args = self._args
        return {
            "name": args.name, "image": args.image, "essential": True,
            "portMappings": [{"containerPort": args.container_port, "protocol": "tcp"}],
            "user": args.user, "privileged": False, "readonlyRootFilesystem": True,
            "linuxParameters": {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}},
            "mountPoints": [{"sourceVolume": TMP_VOLUME, "containerPath": "/tmp", "readOnly": False}],
            "environment": [{"name": name, "value": value}
                            for name, value in sorted(args.environment_variables.items())],
            "secrets": [{"name": v.name, "valueFrom": secret_reference(v.secret_arn, v.json_key)}
                        for v in sorted(args.secret_variables, key=lambda v: v.name)],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": self.log_group.name, "awslogs-region": self.region,
                "awslogs-stream-prefix": args.name}},
        }

    def _task_definition(self) -> aws.ecs.TaskDefinition:
        args = self._args
        return aws.ecs.TaskDefinition(
            f"{self._name}-task", family=self.service_name, requires_compatibilities=["FARGATE"],
            network_mode="awsvpc", cpu=str(args.cpu), memory=str(args.memory),
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": args.cpu_architecture},
            execution_role_arn=self.execution_role.arn, task_role_arn=self.task_role.arn,
            volumes=[{"name": TMP_VOLUME}], container_definitions=pulumi.Output.json_dumps([self._container()]),
            tags=self._tags, opts=self._child())

    def _service(self) -> aws.ecs.Service:
        args = self._args
        return aws.ecs.Service(
            f"{self._name}-service", name=self.service_name, cluster=self.cluster.arn,
            task_definition=self.task_definition.arn, desired_count=args.desired_count, launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration={"subnets": args.private_subnet_ids, "security_groups": [self.security_group.id],
                                   "assign_public_ip": False},
            load_balancers=[{"target_group_arn": args.target_group_arn, "container_name": args.name,
                             "container_port": args.container_port}],
            # Zero downtime: new tasks healthy before old ones stop; a deployment that never gets healthy rolls back.
            deployment_minimum_healthy_percent=100, deployment_maximum_percent=200,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            health_check_grace_period_seconds=args.health_check_grace_seconds,
            enable_execute_command=False, enable_ecs_managed_tags=True, propagate_tags="SERVICE",
            # `pulumi up` ends when the tasks run healthy (or fails with the deployment), not when ECS accepted it.
            wait_for_steady_state=True, tags=self._tags,
            opts=self._child(depends_on=waiting_for(*args.start_after)))
