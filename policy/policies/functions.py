"""Lambda functions: supported runtimes, private and multi-AZ, traced, bounded, no secrets in their environment,
invocable only by the source they serve."""
from __future__ import annotations

from typing import Any, Mapping

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .network import availability_zones
from .support import Report, SecurestackPolicy
from .support import (Controls, StackGraph, actions_of, allows, get, items, label, number, peek, plain, present,
                      resource_policy, resources_of, secret_looking, stack_policy, statements)
from .types import (CODE_SIGNING_CONFIG, FUNCTION, LOG_GROUP, LOG_METRIC_FILTER, METRIC_ALARM, PERMISSION, ROLE,
                    ROLE_POLICY, SIGNING_JOB, SIGNING_PROFILE, TASK_DEFINITION, TOPIC)

# Lambda's runtimes not yet deprecated (AWS Lambda developer guide, "Runtime deprecation policy", 2026): what
# Security Hub Lambda.2 accepts. A runtime leaving this list fails the pack until the function is upgraded.
SUPPORTED_RUNTIMES = frozenset({
    "python3.10", "python3.11", "python3.12", "python3.13", "python3.14",
    "nodejs20.x", "nodejs22.x", "nodejs24.x",
    "java8.al2", "java11", "java17", "java21", "java25",
    "dotnet8", "dotnet10", "ruby3.3", "ruby3.4", "provided.al2", "provided.al2023",
})
MIN_AVAILABILITY_ZONES = 2
# AWS's template for rotation roles: value actions only on secrets whose rotation names this very function.
SECRET_VALUE_ACTIONS = frozenset({"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                                  "secretsmanager:UpdateSecretVersionStage", "secretsmanager:*"})
ROTATION_LAMBDA_CONDITION = "secretsmanager:resource/AllowRotationLambdaArn"
KEY_USE_ACTIONS = frozenset({"kms:Decrypt", "kms:GenerateDataKey", "kms:*"})
VIA_SERVICE_CONDITION = "kms:ViaService"
ENFORCE = "Enforce"  # Lambda's CodeSigningPolicy: Warn would deploy unsigned or foreign code anyway
LAMBDA_SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"
# Lambda's own key for environment variables (what Lambda uses when kmsKeyArn is absent).
AWS_MANAGED_LAMBDA_KEY = "alias/aws/lambda"


@resource_policy("lambda-permission-bound-to-source", "Lambda invoke permissions name their caller: never `*`, and "
                 "an AWS service only with its source account or ARN (confused deputy)",
                 Controls(fsbp=("Lambda.1",), checkov=("CKV_AWS_364",)), [PERMISSION], Severity.CRITICAL)
def lambda_permission_bound(args: ResourceValidationArgs, report: Report) -> None:
    principal = str(get(args.props, "principal") or "")
    if principal == "*":
        report("principal is '*': anyone may invoke the function")
    elif principal.endswith(".amazonaws.com") and not (get(args.props, "sourceAccount") or get(args.props,
                                                                                               "sourceArn")):
        report(f"service principal {principal} without sourceAccount or sourceArn")


@resource_policy("lambda-supported-runtime", "Lambda functions use a runtime AWS still supports",
                 Controls(fsbp=("Lambda.2",), checkov=("CKV_AWS_363",)), [FUNCTION], Severity.MEDIUM)
def lambda_runtime(args: ResourceValidationArgs, report: Report) -> None:
    if get(args.props, "packageType") == "Image":
        return  # a container image brings its own runtime
    runtime = get(args.props, "runtime")
    if runtime not in SUPPORTED_RUNTIMES:
        report(f"runtime {runtime!r} is deprecated or unknown")


@stack_policy("lambda-in-vpc-multi-az", f"Lambda functions run in the VPC (with security groups) across at least "
              f"{MIN_AVAILABILITY_ZONES} Availability Zones", Controls(fsbp=("Lambda.3", "Lambda.5"),
                                                                       checkov=("CKV_AWS_117",)),
              [FUNCTION], Severity.MEDIUM)
def lambda_in_vpc(graph: StackGraph, report: Report) -> None:
    for function in graph.of_type(FUNCTION):
        config = get(function.props, "vpcConfig")
        subnet_ids = items(peek(config, "subnetIds")) if config is not None else []
        if config is None or (not subnet_ids and not function.property_dependencies.get("vpcConfig")):
            report(f"{label(function)} is not in a VPC", function.urn)
            continue
        if not present(config, "securityGroupIds"):
            report(f"{label(function)} has no security group", function.urn)
        zones = availability_zones(graph, function, "vpcConfig", subnet_ids)
        if len(zones) < MIN_AVAILABILITY_ZONES:
            report(f"{label(function)} spans {len(zones)} Availability Zone(s)", function.urn)


@resource_policy("lambda-no-secrets-in-environment", "Lambda environment variables carry no secrets (secrets are "
                 "read from Secrets Manager at run time)", Controls(checkov=("CKV_AWS_45",),
                                                                    sources=("guides: never hardcode keys",)),
                 [FUNCTION], Severity.CRITICAL)
def lambda_no_env_secrets(args: ResourceValidationArgs, report: Report) -> None:
    variables = plain(get(args.props, "environment", "variables") or {})
    for name, value in sorted(variables.items()):
        problem = secret_looking(name, value)
        if problem:
            report(problem)


@resource_policy("lambda-tracing-active", "Lambda functions trace with X-Ray (Active)",
                 Controls(checkov=("CKV_AWS_50",)), [FUNCTION], Severity.LOW)
def lambda_tracing(args: ResourceValidationArgs, report: Report) -> None:
    if get(args.props, "tracingConfig", "mode") != "Active":
        report("tracingConfig.mode is not Active")


@resource_policy("lambda-concurrency-not-zero", "Lambda functions are never reserved zero concurrency (0 throttles "
                 "every invocation: no rotation would ever run); unreserved is allowed, since Lambda refuses a "
                 "reservation that leaves less than 100 unreserved, which a new account's low limit cannot spare "
                 "(Checkov CKV_AWS_115 is not enforced)",
                 Controls(sources=("design: rotators can always run (issue 11 item 9)",)), [FUNCTION], Severity.MEDIUM)
def lambda_concurrency(args: ResourceValidationArgs, report: Report) -> None:
    reserved = number(get(args.props, "reservedConcurrentExecutions"))
    if reserved is not None and reserved == 0:
        report("reservedConcurrentExecutions is 0: every invocation is throttled")


@stack_policy("lambda-log-group-managed", "Every Lambda function logs to a log group of the stack (else Lambda "
              "creates an unencrypted one that keeps logs forever)", Controls(
                  checkov=("CKV_AWS_158", "CKV_AWS_66"), sources=("design: encrypted logs with retention",)),
              [FUNCTION, LOG_GROUP], Severity.MEDIUM)
def lambda_log_group(graph: StackGraph, report: Report) -> None:
    for function in graph.of_type(FUNCTION):
        if peek(function.props, "loggingConfig", "logGroup") or function.property_dependencies.get("loggingConfig"):
            managed = bool(graph.referenced(function, "loggingConfig", LOG_GROUP))
        else:  # Lambda's default: /aws/lambda/<function name>
            name = peek(function.props, "name")
            managed = any(name and peek(group.props, "name") == f"/aws/lambda/{name}"
                          for group in graph.of_type(LOG_GROUP))
        if not managed:
            report(f"{label(function)} writes to a log group the stack does not manage", function.urn)


def condition_keys(statement: Mapping[str, Any]) -> set[str]:
    condition = plain(statement.get("Condition") or {})
    return {key for operator in condition.values() if hasattr(operator, "keys") for key in operator}


VERIFIER_KIND_CONDITION = "secretsmanager:ResourceTag/securestack:kind"


def verifier_records_only(statement: Mapping[str, Any]) -> bool:
    """Verifier records have no rotation to name the function (issue 12): their pattern is bounded by their path
    and kind tag instead (which environment's: verifier-records-written-only-by-this-environments-key-rotators)."""
    return all("/api-key-verifiers/" in r for r in resources_of(statement)) and \
        VERIFIER_KIND_CONDITION in condition_keys(statement)


def rotator_statement_problem(statement: Mapping[str, Any]) -> str | None:
    actions = set(actions_of(statement))
    wildcard = any("*" in r for r in resources_of(statement))
    if actions & SECRET_VALUE_ACTIONS and wildcard and ROTATION_LAMBDA_CONDITION not in condition_keys(statement) \
            and not verifier_records_only(statement):
        return f"reaches secret values on {resources_of(statement)} without {ROTATION_LAMBDA_CONDITION}"
    if actions & KEY_USE_ACTIONS and VIA_SERVICE_CONDITION not in condition_keys(statement):
        return f"uses KMS keys outside Secrets Manager (no {VIA_SERVICE_CONDITION} condition)"
    return None


@stack_policy("lambda-rotator-role-scoped", "Each rotation function has its own role, used by nothing else, whose "
              "secret-value grants on a name pattern name that function (AllowRotationLambdaArn; verifier records, "
              "which have no rotation: their kind tag) and whose key use goes through Secrets Manager "
              "(kms:ViaService)", Controls(
                  sources=("README: Architecture (rotation: its own role)", "AWS rotation role template")),
              [FUNCTION, ROLE, ROLE_POLICY, TASK_DEFINITION], Severity.HIGH)
def lambda_rotator_role(graph: StackGraph, report: Report) -> None:
    for function in graph.of_type(FUNCTION):
        for role in graph.referenced(function, "role", ROLE):
            sharing = [r for r in graph.referrers(role, "role", FUNCTION) if r is not function] + \
                graph.referrers(role, "executionRoleArn", TASK_DEFINITION) + \
                graph.referrers(role, "taskRoleArn", TASK_DEFINITION)
            if sharing:
                report(f"{label(function)} shares {label(role)} with {label(sharing[0])}", function.urn)
            for policy in graph.referrers(role, "role", ROLE_POLICY):
                for index, statement in enumerate(statements(get(policy.props, "policy"))):
                    problem = rotator_statement_problem(statement) if allows(statement) else None
                    if problem:
                        report(f"{label(function)}: {label(policy)} statement {statement.get('Sid') or index} "
                               f"{problem}", policy.urn)



REDEPLOY_ACTION = "ecs:UpdateService"
REDEPLOY_FAILED = '"redeploy-failed"'  # the outcome a rotator logs (lambdas/rotation_common/consumers.py)


def redeploys_a_service(graph: StackGraph, function: PolicyResource) -> bool:
    role_policies = [p for role in graph.referenced(function, "role", ROLE)
                     for p in graph.referrers(role, "role", ROLE_POLICY)]
    return any(allows(s) and REDEPLOY_ACTION in actions_of(s)
               for p in role_policies for s in statements(peek(p.props, "policy")))


def alarmed_filters(graph: StackGraph, log_groups: list[PolicyResource]) -> list[PolicyResource]:
    """Filters on these log groups that count redeploy-failed lines and whose metric has an alarm to a topic."""
    found = []
    for metric_filter in graph.of_type(LOG_METRIC_FILTER):
        if not (REDEPLOY_FAILED in str(peek(metric_filter.props, "pattern") or "")
                and any(graph.refers_to(metric_filter, "logGroupName", group) for group in log_groups)):
            continue
        metric = (peek(metric_filter.props, "metricTransformation", "namespace"),
                  peek(metric_filter.props, "metricTransformation", "name"))
        if any((peek(a.props, "namespace"), peek(a.props, "metricName")) == metric
               and graph.referenced(a, "alarmActions", TOPIC) for a in graph.of_type(METRIC_ALARM)):
            found.append(metric_filter)
    return found


@stack_policy("lambda-redeploy-failures-alarmed", "A function that redeploys an ECS service after a rotation "
              "(ecs:UpdateService) has a metric filter on its log group counting its redeploy-failed lines and an "
              "alarm on that metric notifying an SNS topic: a failed redeploy leaves tasks on the previous value",
              Controls(sources=("design: a failed redeploy after a rotation raises an audit alarm",)),
              [FUNCTION, LOG_METRIC_FILTER, METRIC_ALARM], Severity.MEDIUM)
def lambda_redeploy_alarmed(graph: StackGraph, report: Report) -> None:
    for function in graph.of_type(FUNCTION):
        if not redeploys_a_service(graph, function):
            continue
        log_groups = graph.referenced(function, "loggingConfig", LOG_GROUP)
        if not alarmed_filters(graph, log_groups):
            report(f"{label(function)} may redeploy an ECS service but no alarmed metric filter counts its "
                   "redeploy-failed log lines", function.urn)


@resource_policy("lambda-environment-encrypted-with-cmk", "Lambda functions with environment variables encrypt them "
                 "with a customer-managed KMS key (kmsKeyArn), not Lambda's AWS-managed key",
                 Controls(checkov=("CKV_AWS_173",), sources=("guides: AES-256 at rest",)), [FUNCTION],
                 Severity.MEDIUM)
def lambda_environment_cmk(args: ResourceValidationArgs, report: Report) -> None:
    if not present(get(args.props, "environment") or {}, "variables"):
        return  # nothing to encrypt
    if not present(args.props, "kmsKeyArn"):
        report("environment variables without kmsKeyArn (Lambda's AWS-managed key)")
    elif str(peek(args.props, "kmsKeyArn")).endswith(AWS_MANAGED_LAMBDA_KEY):
        report(f"kmsKeyArn is {AWS_MANAGED_LAMBDA_KEY}, the AWS-managed key")


def _code_signing_problem(graph: StackGraph, function: PolicyResource) -> str:
    configs = graph.referenced(function, "codeSigningConfigArn", CODE_SIGNING_CONFIG)
    if not present(function.props, "codeSigningConfigArn") or not configs:
        return "has no code-signing configuration of the stack"
    for config in configs:
        if get(config.props, "policies", "untrustedArtifactOnDeployment") != ENFORCE:
            return f"uses {label(config)}, which does not Enforce (untrusted code would deploy with a warning)"
        publishers = graph.referenced(config, "allowedPublishers", SIGNING_PROFILE)
        if not publishers or any(get(p.props, "platformId") != LAMBDA_SIGNING_PLATFORM for p in publishers):
            return f"uses {label(config)}, whose allowed publishers are not {LAMBDA_SIGNING_PLATFORM} signing " \
                   "profiles of the stack"
    if get(function.props, "packageType") != "Image" and not graph.referenced(function, "s3Key", SIGNING_JOB):
        return "deploys code no signing job of the stack produced (Enforce would refuse it at deploy time)"
    return ""


@stack_policy("lambda-code-signing-enforced", "Lambda functions run only signed code: a code-signing configuration "
              f"that Enforces, allowing only the stack's {LAMBDA_SIGNING_PLATFORM} signing profiles, and code that a "
              "signing job of the stack signed", Controls(checkov=("CKV_AWS_272",), sources=(
                  "issue 11: rotator code is signed",)), [FUNCTION, CODE_SIGNING_CONFIG, SIGNING_JOB, SIGNING_PROFILE],
              Severity.HIGH)
def lambda_code_signing(graph: StackGraph, report: Report) -> None:
    for function in graph.of_type(FUNCTION):
        problem = _code_signing_problem(graph, function)
        if problem:
            report(f"{label(function)} {problem}", function.urn)


POLICIES: list[SecurestackPolicy] = [lambda_permission_bound, lambda_runtime, lambda_in_vpc, lambda_no_env_secrets, lambda_tracing,
            lambda_concurrency, lambda_log_group, lambda_rotator_role, lambda_redeploy_alarmed, lambda_environment_cmk,
            lambda_code_signing]
