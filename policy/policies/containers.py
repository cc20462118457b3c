"""ECS: private tasks, logged, unprivileged, read-only, secrets injected by reference, separate roles for the agent
and the code."""
from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from .support import (Controls, get, is_true, items, json_value, resource_policy, secret_looking)
from .types import ECS_SERVICE, TASK_DEFINITION



def containers(props) -> list[dict]:
    """The container definitions (a JSON document input)."""
    parsed = json_value(get(props, "containerDefinitions"))
    return [c for c in items(parsed) if isinstance(c, dict)]


def container_name(container: dict) -> str:
    return repr(container.get("name"))


@resource_policy("ecs-no-public-ip", "ECS services do not give their tasks public IP addresses",
                 Controls(fsbp=("ECS.2",), checkov=("CKV_AWS_333",)), [ECS_SERVICE], Severity.HIGH)
def ecs_no_public_ip(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if is_true(get(args.props, "networkConfiguration", "assignPublicIp")):
        report("networkConfiguration.assignPublicIp is true")


@resource_policy("ecs-no-secrets-in-environment", "Container environment variables carry no secrets; secrets are "
                 "injected by reference (`secrets` valueFrom a Secrets Manager ARN)",
                 Controls(fsbp=("ECS.8",), sources=("guides: keys in environment variables, never in code",)),
                 [TASK_DEFINITION], Severity.CRITICAL)
def ecs_no_env_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for container in containers(args.props):
        for variable in items(container.get("environment")):
            problem = secret_looking(variable.get("name"), variable.get("value")) if isinstance(variable, dict) \
                else None
            if problem:
                report(f"container {container_name(container)}: {problem}")
        for reference in items(container.get("secrets")):
            value_from = reference.get("valueFrom") if isinstance(reference, dict) else None
            if not isinstance(value_from, str) or not value_from.startswith("arn:"):
                report(f"container {container_name(container)}: secret {reference!r} is not a reference by ARN")


@resource_policy("ecs-container-logging", "Every container sends its logs somewhere (logConfiguration)",
                 Controls(fsbp=("ECS.9",)), [TASK_DEFINITION], Severity.MEDIUM)
def ecs_logging(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for container in containers(args.props):
        if not (container.get("logConfiguration") or {}).get("logDriver"):
            report(f"container {container_name(container)} has no logConfiguration.logDriver")


@resource_policy("ecs-not-privileged", "Containers do not run privileged", Controls(fsbp=("ECS.4",)),
                 [TASK_DEFINITION], Severity.HIGH)
def ecs_not_privileged(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for container in containers(args.props):
        if container.get("privileged") is True:
            report(f"container {container_name(container)} is privileged")


@resource_policy("ecs-read-only-root-filesystem", "Containers have a read-only root filesystem",
                 Controls(fsbp=("ECS.5",), checkov=("CKV_AWS_336",)), [TASK_DEFINITION], Severity.MEDIUM)
def ecs_read_only_root(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for container in containers(args.props):
        if container.get("readonlyRootFilesystem") is not True:
            report(f"container {container_name(container)} has a writable root filesystem")


@resource_policy("ecs-distinct-execution-and-task-roles", "A task's code (task role) and the ECS agent that injects "
                 "its secrets (execution role) use different roles", Controls(
                     sources=("design: least privilege, secrets injected by reference",)),
                 [TASK_DEFINITION], Severity.HIGH)
def ecs_distinct_roles(args: ResourceValidationArgs, report: ReportViolation) -> None:
    execution, task = get(args.props, "executionRoleArn"), get(args.props, "taskRoleArn")
    if execution and task and execution == task:
        report("executionRoleArn and taskRoleArn are the same role: the code could read every injected secret")


POLICIES = [ecs_no_public_ip, ecs_no_env_secrets, ecs_logging, ecs_not_privileged, ecs_read_only_root,
            ecs_distinct_roles]
