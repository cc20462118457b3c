"""AppService: the app on ECS Fargate behind the load balancer; what it injects by reference, what it reads itself.

Two roles, two kinds of secret access:
- the execution role (the ECS agent) injects the database login by `<secret ARN>:<json key>::` when a task starts,
  so no value appears in code, config, state or outputs. After that secret's rotation its rotator forces a new
  deployment (tag `securestack:ecs-service`); the circuit breaker rolls back one that does not become healthy.
- the task role (the app's code, through `securestack_runtime`) reads at run time exactly the verifier records of
  the API keys it verifies (digests, never a key value), finds them from DescribeSecret on those keys (never
  GetSecretValue), and reads the webhook secrets it signs with. It gets their ARNs as configuration
  (SECURESTACK_API_KEY_VERIFIERS, SECURESTACK_WEBHOOK_SECRETS), so a rotation needs no redeploy: the library
  reloads on a timer and once on a miss.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from securestack.infra.settings.app import AppSettings

from .common import aws_identity, encrypted_log_group, policy_json, renamed_from, service_assume_role_policy

HTTPS_PORT = 443
POSTGRES_PORT = 5432
ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
                       r"(?P<repository>[^:@]+)")
TMP_VOLUME = "tmp"  # the one writable path of a read-only root filesystem


def execution_role_name(environment: str, settings: AppSettings) -> str:
    """Deterministic, so secrets can name the reader in their policies before the role exists (no cycle)."""
    return f"securestack-{environment}-{settings.name}-execution"


def execution_role_arn(environment: str, settings: AppSettings, account: pulumi.Input[str],
                       partition: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.format("arn:{0}:iam::{1}:role/{2}", partition, account,
                                execution_role_name(environment, settings))


def task_role_name(environment: str, settings: AppSettings) -> str:
    """Deterministic, like the execution role's: the verifier records and webhook secrets name it."""
    return f"securestack-{environment}-{settings.name}-task"


def task_role_arn(environment: str, settings: AppSettings, account: pulumi.Input[str],
                  partition: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.format("arn:{0}:iam::{1}:role/{2}", partition, account, task_role_name(environment, settings))


def secret_reference(secret_arn: pulumi.Input[str], json_key: str) -> pulumi.Output[str]:
    """ECS `valueFrom` for one JSON key of the AWSCURRENT version: a reference, never the value."""
    return pulumi.Output.format("{0}:{1}::", secret_arn, json_key)


@dataclass(frozen=True)
class SecretVariable:
    """A container environment variable ECS fills from a secret when a task starts."""

    name: str
    secret_arn: pulumi.Input[str]
    json_key: str


@dataclass(frozen=True)
class RuntimeSecretAccess:
    """What the app's own code reads from Secrets Manager at run time (task role), by ARN."""

    # key secrets it verifies: DescribeSecret only (their `securestack:verifier-secret` tag names the record)
    verified_key_arns: Sequence[pulumi.Input[str]] = ()
    # their verifier records: GetSecretValue (digests only)
    verifier_record_arns: Sequence[pulumi.Input[str]] = ()
    # webhook secrets it signs with: GetSecretValue (HMAC needs the value)
    signing_secret_arns: Sequence[pulumi.Input[str]] = ()

    @property
    def reads(self) -> list[pulumi.Input[str]]:
        return [*self.verifier_record_arns, *self.signing_secret_arns]


@dataclass
class AppServiceArgs:
    environment: str
    settings: AppSettings
    vpc_id: pulumi.Input[str]
    vpc_cidr: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    target_group_arn: pulumi.Input[str]
    load_balancer_security_group_id: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    secret_variables: Sequence[SecretVariable] = ()
    runtime_secrets: RuntimeSecretAccess = field(default_factory=RuntimeSecretAccess)
    # Non-secret settings (TTLs, endpoints); refused here if a name collides with a secret variable.
    environment_variables: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    database_security_group_id: Optional[pulumi.Input[str]] = None
    # What the service waits for: the load balancer (ECS refuses a target group without a listener) and the
    # readiness of the secrets it injects (a task cannot start before its secrets have a value).
    start_after: Sequence[pulumi.Resource] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class AppService(pulumi.ComponentResource):
    """Fargate tasks in the private subnets, no public IP, reachable only from the load balancer."""

    def __init__(self, name: str, args: AppServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("securestack:index:AppService", name, None, renamed_from("securestack:app:AppService", opts))
        if args.settings.image is None:
            raise ValueError("AppService needs securestack:app.image")
        clashes = sorted({v.name for v in args.secret_variables} & set(args.environment_variables))
        if clashes:
            raise ValueError(f"environment variables {clashes} are also secret variables")
        self._name, self._args, self._tags = name, args, dict(args.tags)
        settings, env = args.settings, args.environment
        self.account_id, self.partition, self.region = aws_identity(self)
        self.cluster_name = settings.cluster_name(env)
        self.service_name = settings.service_name(env)
        self.log_group = encrypted_log_group(
            f"{name}-logs", log_group_name=f"/securestack/{env}/{settings.name}", kms_key_arn=args.logs_key_arn,
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
        self.register_outputs({"cluster_arn": self.cluster_arn, "service_arn": self.service_arn,
                               "task_definition_arn": self.task_definition_arn,
                               "security_group_id": self.security_group_id,
                               "execution_role_arn": self.execution_role.arn, "task_role_arn": self.task_role.arn})

    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    def _execution_role(self) -> aws.iam.Role:
        args = self._args
        role = aws.iam.Role(
            f"{self._name}-execution-role", name=execution_role_name(args.environment, args.settings),
            description=f"ECS agent of {self.service_name}: pulls the image, writes logs, injects exactly its secrets",
            assume_role_policy=service_assume_role_policy("ecs-tasks.amazonaws.com", self.account_id),
            tags=self._tags, opts=self._child())
        aws.iam.RolePolicy(f"{self._name}-execution", role=role.id, policy=policy_json(self._execution_statements()),
                           opts=self._child())
        return role

    def _task_role(self) -> aws.iam.Role:
        args = self._args
        role = aws.iam.Role(
            f"{self._name}-task-role", name=task_role_name(args.environment, args.settings),
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
        if access.reads:
            statements.append(self._secrets_key_statement())
        return statements

    def _secrets_key_statement(self) -> dict[str, Any]:
        return {"Sid": "SecretsKeyThroughSecretsManager", "Effect": "Allow", "Action": "kms:Decrypt",
                "Resource": self._args.secrets_key_arn, "Condition": {"StringEquals": {
                    "kms:ViaService": pulumi.Output.format("secretsmanager.{0}.amazonaws.com", self.region)}}}

    def _execution_statements(self) -> list[dict[str, Any]]:
        args = self._args
        statements: list[dict[str, Any]] = [
            {"Sid": "OwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": pulumi.Output.concat(self.log_group.arn, ":*")}]
        secret_arns = list(dict.fromkeys(v.secret_arn for v in args.secret_variables))
        if secret_arns:
            statements += [
                {"Sid": "InjectConsumedSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                 "Resource": secret_arns},
                self._secrets_key_statement()]
        statements += self._image_pull_statements()
        return statements

    def _image_pull_statements(self) -> list[dict[str, Any]]:
        match = ECR_IMAGE.match(self._args.settings.image or "")
        if match is None:
            return []  # a public image needs no permission
        repository = pulumi.Output.format("arn:{0}:ecr:{1}:{2}:repository/{3}", self.partition, match["region"],
                                          match["account"], match["repository"])
        return [
            {"Sid": "PullTheImage", "Effect": "Allow",
             "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
             "Resource": repository},
            # GetAuthorizationToken has no resource-level permission: '*' bounded to the image's region.
            {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestedRegion": match["region"]}}}]

    def _security_group(self) -> aws.ec2.SecurityGroup:
        args, port = self._args, self._args.settings.container_port
        s3 = aws.ec2.get_prefix_list_output(name=pulumi.Output.format("com.amazonaws.{0}.s3", self.region),
                                            opts=pulumi.InvokeOutputOptions(parent=self))
        egress = [{"protocol": "tcp", "from_port": HTTPS_PORT, "to_port": HTTPS_PORT, "cidr_blocks": [args.vpc_cidr],
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
        args, settings = self._args, self._args.settings
        return {
            "name": settings.name, "image": settings.image, "essential": True,
            "portMappings": [{"containerPort": settings.container_port, "protocol": "tcp"}],
            "user": settings.user, "privileged": False, "readonlyRootFilesystem": True,
            "linuxParameters": {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}},
            "mountPoints": [{"sourceVolume": TMP_VOLUME, "containerPath": "/tmp", "readOnly": False}],
            "environment": [{"name": name, "value": value}
                            for name, value in sorted(args.environment_variables.items())],
            "secrets": [{"name": v.name, "valueFrom": secret_reference(v.secret_arn, v.json_key)}
                        for v in sorted(args.secret_variables, key=lambda v: v.name)],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": self.log_group.name, "awslogs-region": self.region,
                "awslogs-stream-prefix": settings.name}},
        }

    def _task_definition(self) -> aws.ecs.TaskDefinition:
        settings = self._args.settings
        return aws.ecs.TaskDefinition(
            f"{self._name}-task", family=self.service_name, requires_compatibilities=["FARGATE"],
            network_mode="awsvpc", cpu=str(settings.cpu), memory=str(settings.memory),
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": settings.cpu_architecture},
            execution_role_arn=self.execution_role.arn, task_role_arn=self.task_role.arn,
            volumes=[{"name": TMP_VOLUME}], container_definitions=pulumi.Output.json_dumps([self._container()]),
            tags=self._tags, opts=self._child())

    def _service(self) -> aws.ecs.Service:
        args, settings = self._args, self._args.settings
        return aws.ecs.Service(
            f"{self._name}-service", name=self.service_name, cluster=self.cluster.arn,
            task_definition=self.task_definition.arn, desired_count=settings.desired_count, launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration={"subnets": args.private_subnet_ids, "security_groups": [self.security_group.id],
                                   "assign_public_ip": False},
            load_balancers=[{"target_group_arn": args.target_group_arn, "container_name": settings.name,
                             "container_port": settings.container_port}],
            # Zero downtime: new tasks healthy before old ones stop; a deployment that never gets healthy rolls back.
            deployment_minimum_healthy_percent=100, deployment_maximum_percent=200,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            health_check_grace_period_seconds=settings.health_check_grace_seconds,
            enable_execute_command=False, enable_ecs_managed_tags=True, propagate_tags="SERVICE",
            # `pulumi up` ends when the tasks run healthy (or fails with the deployment), not when ECS accepted it.
            wait_for_steady_state=True, tags=self._tags,
            opts=self._child(depends_on=list(args.start_after)))
