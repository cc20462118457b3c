"""ECS: private tasks, logged, unprivileged, read-only, secrets injected by reference, separate roles for the agent
and the code."""
from __future__ import annotations

import json

from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .support import Report, SecurestackPolicy
from .support import (API_KEY_KIND, Controls, StackGraph, actions_of, allows, get, injected_arns, is_true, items,
                      json_value, kind_of, label, peek, plain, resource_policy, resources_of, secret_looking,
                      stack_policy, statements, vendor_issued)
from .network import inline_ingress, ingress_rules
from .types import (ECS_CLUSTER, ECS_SERVICE, INGRESS_RULE, LOAD_BALANCERS, ROLE, ROLE_POLICY, ROLE_POLICY_ATTACHMENT,
                    SECRET, SECRET_READINESS, SECURITY_GROUP, SECURITY_GROUP_RULE, TASK_DEFINITION)

CONTAINER_INSIGHTS = frozenset({"enabled", "enhanced"})
ROOT_USERS = frozenset({"0", "root"})
SECRET_ARN_PARTS = 7  # arn:aws:secretsmanager:<region>:<account>:secret:<name-suffix>
READ_SECRET = frozenset({"secretsmanager:GetSecretValue", "secretsmanager:*", "*"})


def containers(props: Any) -> list[dict[str, Any]]:
    """The container definitions (a JSON document input)."""
    parsed = json_value(get(props, "containerDefinitions"))
    return [c for c in items(parsed) if isinstance(c, dict)]


def container_name(container: dict[str, Any]) -> str:
    return repr(container.get("name"))


@resource_policy("ecs-no-public-ip", "ECS services do not give their tasks public IP addresses",
                 Controls(fsbp=("ECS.2",), checkov=("CKV_AWS_333",)), [ECS_SERVICE], Severity.HIGH)
def ecs_no_public_ip(args: ResourceValidationArgs, report: Report) -> None:
    if is_true(get(args.props, "networkConfiguration", "assignPublicIp")):
        report("networkConfiguration.assignPublicIp is true")


@resource_policy("ecs-no-secrets-in-environment", "Container environment variables carry no secrets; secrets are "
                 "injected by reference (`secrets` valueFrom a Secrets Manager ARN)",
                 Controls(fsbp=("ECS.8",), sources=("guides: keys in environment variables, never in code",)),
                 [TASK_DEFINITION], Severity.CRITICAL)
def ecs_no_env_secrets(args: ResourceValidationArgs, report: Report) -> None:
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
def ecs_logging(args: ResourceValidationArgs, report: Report) -> None:
    for container in containers(args.props):
        if not (container.get("logConfiguration") or {}).get("logDriver"):
            report(f"container {container_name(container)} has no logConfiguration.logDriver")


@resource_policy("ecs-not-privileged", "Containers do not run privileged", Controls(fsbp=("ECS.4",)),
                 [TASK_DEFINITION], Severity.HIGH)
def ecs_not_privileged(args: ResourceValidationArgs, report: Report) -> None:
    for container in containers(args.props):
        if container.get("privileged") is True:
            report(f"container {container_name(container)} is privileged")


@resource_policy("ecs-read-only-root-filesystem", "Containers have a read-only root filesystem",
                 Controls(fsbp=("ECS.5",), checkov=("CKV_AWS_336",)), [TASK_DEFINITION], Severity.MEDIUM)
def ecs_read_only_root(args: ResourceValidationArgs, report: Report) -> None:
    for container in containers(args.props):
        if container.get("readonlyRootFilesystem") is not True:
            report(f"container {container_name(container)} has a writable root filesystem")


@resource_policy("ecs-distinct-execution-and-task-roles", "A task's code (task role) and the ECS agent that injects "
                 "its secrets (execution role) use different roles", Controls(
                     sources=("design: least privilege, secrets injected by reference",)),
                 [TASK_DEFINITION], Severity.HIGH)
def ecs_distinct_roles(args: ResourceValidationArgs, report: Report) -> None:
    execution, task = get(args.props, "executionRoleArn"), get(args.props, "taskRoleArn")
    if execution and task and execution == task:
        report("executionRoleArn and taskRoleArn are the same role: the code could read every injected secret")


@resource_policy("ecs-container-insights", "ECS clusters have Container Insights on",
                 Controls(fsbp=("ECS.12",), checkov=("CKV_AWS_65",)), [ECS_CLUSTER], Severity.LOW)
def ecs_container_insights(args: ResourceValidationArgs, report: Report) -> None:
    values = [get(s, "value") for s in items(get(args.props, "settings")) if get(s, "name") == "containerInsights"]
    if not any(value in CONTAINER_INSIGHTS for value in values):
        report("containerInsights is not enabled")


@resource_policy("ecs-non-root-no-capabilities", "Containers run as a numeric non-root user with every Linux "
                 "capability dropped and none added", Controls(sources=("README: Architecture (non-root, all "
                                                                       "capabilities dropped)",)),
                 [TASK_DEFINITION], Severity.HIGH)
def ecs_non_root(args: ResourceValidationArgs, report: Report) -> None:
    for container in containers(args.props):
        user = str(container.get("user") or "")
        if not user or user.split(":")[0] in ROOT_USERS:
            report(f"container {container_name(container)} runs as {user or 'the image user (root by default)'!r}")
        capabilities = (container.get("linuxParameters") or {}).get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []) or capabilities.get("add"):
            report(f"container {container_name(container)} does not drop ALL capabilities (or adds some back)")


def injected_secret_arns(task: PolicyResource) -> set[str]:
    found = set()
    for container in containers(task.props):
        for reference in items(container.get("secrets")):
            value_from = str(reference.get("valueFrom") or "") if isinstance(reference, dict) else ""
            found.add(":".join(value_from.split(":")[:SECRET_ARN_PARTS]))
    return found


@stack_policy("ecs-execution-role-reads-only-injected-secrets", "A task's execution role may read exactly the secrets "
              "its containers inject, by ARN (no wildcard, no others)", Controls(
                  sources=("README: Architecture (execution role reads exactly the consumed secrets)",
                           "guides: least privilege")), [TASK_DEFINITION, ROLE, ROLE_POLICY], Severity.HIGH)
def ecs_execution_role_secrets(graph: StackGraph, report: Report) -> None:
    for task in graph.of_type(TASK_DEFINITION):
        injected = injected_secret_arns(task)
        for role in graph.referenced(task, "executionRoleArn", ROLE):
            for policy in graph.referrers(role, "role", ROLE_POLICY):
                for statement in statements(get(policy.props, "policy")):
                    if allows(statement) and READ_SECRET & set(actions_of(statement)):
                        extra = [r for r in resources_of(statement) if r not in injected]
                        if extra:
                            report(f"{label(task)}'s execution role reads secrets its containers do not inject: "
                                   f"{extra[:3]}", policy.urn)


# What the app's own code may do (issue 12): find its verifier records, read them and its signing secrets, decrypt
# them through Secrets Manager; which secrets exactly is app-task-role-reads-only-verifier-records-and-webhook-secrets.
# Issue 15: verifying a vendor's webhooks also lists the secret's versions (when current was created starts the
# previous value's grace: securestack_runtime's WebhookVerifier); a listing carries no value.
TASK_ROLE_ACTIONS = frozenset({"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                               "secretsmanager:ListSecretVersionIds", "kms:Decrypt"})


def task_role_problem(graph: StackGraph, role: PolicyResource) -> str | None:
    if graph.referrers(role, "role", ROLE_POLICY_ATTACHMENT) or items(peek(role.props, "managedPolicyArns")):
        return "has managed policies attached"
    documents = [get(p.props, "policy") for p in graph.referrers(role, "role", ROLE_POLICY)]
    documents += [get(p, "policy") for p in items(peek(role.props, "inlinePolicies")) if peek(p, "policy")]
    for statement in (s for document in documents for s in statements(document) if allows(s)):
        others = sorted(set(actions_of(statement)) - TASK_ROLE_ACTIONS)
        if others or statement.get("NotAction"):
            return f"allows {others or 'NotAction'}: only {sorted(TASK_ROLE_ACTIONS)}"
        if "kms:Decrypt" in actions_of(statement) and "kms:ViaService" not in json.dumps(
                plain(statement.get("Condition") or {})):
            return "allows kms:Decrypt outside Secrets Manager (no kms:ViaService condition)"
    return None


@stack_policy("ecs-task-role-grants-only-runtime-secret-reads", "A task's own role (what its code may do) grants "
              "only DescribeSecret, GetSecretValue, ListSecretVersionIds and kms:Decrypt through Secrets Manager (the "
              "app reads its verifier records, signing secrets and the vendor webhook secrets it verifies with), "
              "nothing attached", Controls(
                  sources=("README: Architecture (a separate task role reads exactly ...)", "guides: least privilege")),
              [TASK_DEFINITION, ROLE, ROLE_POLICY, ROLE_POLICY_ATTACHMENT], Severity.HIGH)
def ecs_task_role_runtime_reads(graph: StackGraph, report: Report) -> None:
    for task in graph.of_type(TASK_DEFINITION):
        for role in graph.referenced(task, "taskRoleArn", ROLE):
            problem = task_role_problem(graph, role)
            if problem:
                report(f"{label(task)}'s task role {label(role)} {problem}", role.urn)


def ingress_sources(graph: StackGraph, resource: PolicyResource) -> list[tuple[dict[str, Any], list[PolicyResource]]]:
    """(rule, the security groups it admits) for each ingress rule a group or rule resource declares."""
    if resource.resource_type == SECURITY_GROUP:
        return [(rule, graph.referenced(resource, "ingress", SECURITY_GROUP) if items(get(raw_rule, "securityGroups"))
                 else []) for rule, raw_rule in zip(inline_ingress(resource.props), items(get(resource.props,
                                                                                              "ingress")))]
    prop = "referencedSecurityGroupId" if resource.resource_type == INGRESS_RULE else "sourceSecurityGroupId"
    sources = graph.referenced(resource, prop, SECURITY_GROUP)
    return [(rule, sources) for rule in ingress_rules(resource.resource_type, resource.props)]


@stack_policy("ecs-ingress-only-from-load-balancer", "ECS services admit traffic only from their load balancers' "
              "security groups (no CIDR, no other group)", Controls(
                  sources=("README: Architecture (app behind the target group)",
                           "components/app.py: reachable only from the load balancer")),
              [ECS_SERVICE, SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE, *LOAD_BALANCERS], Severity.HIGH)
def ecs_ingress_from_load_balancer(graph: StackGraph, report: Report) -> None:
    lb_groups = {g.urn for lb in graph.of_type(*LOAD_BALANCERS)
                 for g in graph.referenced(lb, "securityGroups", SECURITY_GROUP)}
    for service in graph.of_type(ECS_SERVICE):
        for group in graph.referenced(service, "networkConfiguration", SECURITY_GROUP):
            for resource in [group] + graph.referrers(group, "securityGroupId", SECURITY_GROUP_RULE, INGRESS_RULE):
                for rule, sources in ingress_sources(graph, resource):
                    if rule["cidrs"] or not sources or any(s.urn not in lb_groups for s in sources):
                        report(f"{label(service)}: {label(resource)} admits traffic from something other than a "
                               "load balancer's security group", resource.urn)


def depends_on(resource: PolicyResource, other: PolicyResource) -> bool:
    return any(dependency.urn == other.urn for dependency in resource.dependencies)


@stack_policy("ecs-service-waits-for-its-secrets", "An ECS service is created only after a SecretReadiness check of "
              "every stack secret its tasks inject (tasks cannot start on an empty secret), and waits for a steady "
              "state (a failing task fails `pulumi up`)", Controls(sources=(
                  "README: Architecture (app: created only once the secrets it injects have a value)",
                  "issue 11 item 6")), [ECS_SERVICE, TASK_DEFINITION, SECRET, SECRET_READINESS], Severity.MEDIUM)
def ecs_service_waits_for_secrets(graph: StackGraph, report: Report) -> None:
    for service in graph.of_type(ECS_SERVICE):
        if not is_true(peek(service.props, "waitForSteadyState")):
            report(f"{label(service)} does not wait for a steady state (waitForSteadyState)", service.urn)
        for task in graph.referenced(service, "taskDefinition", TASK_DEFINITION):
            injected = injected_arns(task)
            # Only what ECS injects (`secrets[].valueFrom`): ARNs the code reads at run time (its configuration) it
            # reloads, so the tasks need not wait for those.
            for secret in graph.referenced(task, "containerDefinitions", SECRET):
                arn = get(secret.props, "arn")
                if not any(value == arn or value.startswith(f"{arn}:") for value in injected):
                    continue
                checks = graph.referrers(secret, "secretArn", SECRET_READINESS)
                if not any(depends_on(service, check) for check in checks):
                    report(f"{label(service)} injects {label(secret)} but does not wait for a SecretReadiness check "
                           "of it (its tasks could start before the secret has a value)", service.urn)


# Issue 15: ECS injects the app's database login and the vendor keys it calls its vendors with; never a key this
# stack issues (the app verifies those from digests), a verifier record or a webhook signing secret (read at run time).
DATABASE_LOGIN_KIND = "postgres-user"
WILDCARD_SCOPES = frozenset({"*", "ALL_SCOPES"})  # how the secrets components write `*` in securestack:scopes


def injection_problem(secret: PolicyResource) -> str | None:
    kind = kind_of(secret)
    if kind == DATABASE_LOGIN_KIND:
        return None
    if kind != API_KEY_KIND or not vendor_issued(secret):
        return "only the database login and vendor-issued API keys are injected"
    if WILDCARD_SCOPES & set(str(peek(secret.props, "tags", "securestack:scopes") or "").split()):
        return "it is scoped `*` (all scopes): those are for internal tools only"
    return None


@stack_policy("ecs-injects-only-database-login-and-vendor-keys", "A task definition injects (`secrets` valueFrom) "
              "only the stack's database login and vendor-issued API keys: never a key this stack issues, a verifier "
              "record, a webhook signing secret, a `*`-scoped key or a secret the stack does not create", Controls(
                  sources=("issue 15: vendor keys by reference (ECS valueFrom)",
                           "issue 12: the app never holds a key it verifies", "guides: least privilege")),
              [TASK_DEFINITION, SECRET], Severity.CRITICAL)
def ecs_injects_only_allowed_secrets(graph: StackGraph, report: Report) -> None:
    secrets = {arn: secret for secret in graph.of_type(SECRET) if isinstance(arn := get(secret.props, "arn"), str)}
    for task in graph.of_type(TASK_DEFINITION):
        for value_from in injected_arns(task):
            arn = ":".join(value_from.split(":")[:SECRET_ARN_PARTS])
            secret = secrets.get(arn)
            problem = "the stack creates no such secret" if secret is None else injection_problem(secret)
            if problem:
                what = label(secret) if secret is not None else repr(arn)
                report(f"{label(task)} injects {what}: {problem}", task.urn)


POLICIES: list[SecurestackPolicy] = [ecs_no_public_ip, ecs_no_env_secrets, ecs_logging, ecs_not_privileged, ecs_read_only_root,
            ecs_distinct_roles, ecs_ingress_from_load_balancer, ecs_container_insights, ecs_non_root, ecs_execution_role_secrets,
            ecs_task_role_runtime_reads, ecs_service_waits_for_secrets, ecs_injects_only_allowed_secrets]
