"""Secrets Manager: every secret under the environment's CMK, described, rotated at least every 90 days, and no
secret value ever passing through Pulumi."""
from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from .support import Report, SecurestackPolicy
from .support import (KEY_SECRET_TAG, ROTATION_DAYS_TAG, VALUE_READ_ACTIONS, VALUE_WRITE_ACTIONS, VERIFIER_KIND,
                      VERIFIER_SECRET_TAG, WEBHOOK_KIND, Controls, StackGraph, actions_of, allows, get, grants_action,
                      is_false, is_public_principal, is_true, items, kind_of, label, number, peek, plain, present,
                      production_stack, resource_covers, resource_policy, resources_of, role_policy_statements, shown,
                      stack_environment, stack_policy, statements, tags_of, vendor_issued)
from .types import (FUNCTION, ROLE, ROLE_POLICY, SECRET, SECRET_POLICY, SECRET_READINESS, SECRET_ROTATION,
                    SECRET_VERSION, TASK_DEFINITION)

AWS_MANAGED_SECRETS_KEY = "alias/aws/secretsmanager"
MAX_ROTATION_DAYS = 90  # the guides: rotate every 90 days
RATE = re.compile(r"^rate\((\d+) (day|days|hour|hours)\)$")
CRON = re.compile(r"^cron\((.+)\)$")
HOURS_PER_DAY = 24
# README "Architecture", secrets: securestack/<env>/{api-keys,webhooks,database}/<name>, and each key's verifier
# record securestack/<env>/api-key-verifiers/<name>.
SECRET_PATHS = ("api-keys", "webhooks", "database", "api-key-verifiers")
SECRET_NAME_PART = re.compile(r"^[A-Za-z0-9_+=.@-]+$")
# Secrets Manager API reference, DeleteSecret: a recovery window of 7 to 30 days, 30 when not given; the provider's
# recovery_window_in_days = 0 deletes without recovery (ForceDeleteWithoutRecovery).
MIN_RECOVERY_WINDOW_DAYS, MAX_RECOVERY_WINDOW_DAYS = 7, 30
# Non-secret metadata every secret carries as tags (a rotator bootstraps a secret from them), and what API keys add.
METADATA_TAGS = ("securestack:env", "securestack:name", "securestack:kind")
API_KEY_KIND, API_KEY_TAGS = "api-key", ("securestack:scopes", "securestack:key-prefix")
VENDOR_KEY_TAGS = ("securestack:scopes",)
ISSUER_TAG, VENDOR_ISSUER = "securestack:issuer", "vendor"
# Contract 15: what a vendor-issued secret carries besides METADATA_TAGS (its value's age bound, who issues it).
VENDOR_TAGS = (ROTATION_DAYS_TAG, "securestack:vendor")
KEY_PREFIXES = {True: "sk_live_", False: "sk_test_"}  # production: live keys; anything else: test keys
READ_ACTIONS = ("secretsmanager:GetSecretValue",)
WRITE_ACTIONS = ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage")


def enabled_rotations(graph: StackGraph, secret: PolicyResource) -> list[PolicyResource]:
    return [r for r in graph.referrers(secret, "secretId", SECRET_ROTATION)
            if not is_false(peek(r.props, "rotationEnabled")) and present(r.props, "rotationLambdaArn")]


def key_of_record(graph: StackGraph, record: PolicyResource) -> Optional[PolicyResource]:
    """The API key whose `securestack:verifier-secret` tag names this verifier record (None: no key does)."""
    if kind_of(record) != VERIFIER_KIND:
        return None
    name = peek(record.props, "name")
    if not name:
        return None
    return next((key for key in graph.with_value(name, (SECRET,), "tags", VERIFIER_SECRET_TAG)
                 if kind_of(key) == API_KEY_KIND), None)


@stack_policy("secret-rotation-configured", "Every Secrets Manager secret has automatic rotation by a rotation "
              "function (an API key's verifier record is rotated with its key, by the key's rotator; a vendor-issued "
              "secret, tagged securestack:issuer=vendor, is bounded by its age instead: "
              "vendor-secret-staged-by-operators-only)",
              Controls(fsbp=("SecretsManager.1",), checkov=("CKV2_AWS_57",), sources=("guides: regular rotation",)),
              [SECRET, SECRET_ROTATION], Severity.HIGH)
def secret_rotation_configured(graph: StackGraph, report: Report) -> None:
    for secret in graph.of_type(SECRET):
        if enabled_rotations(graph, secret) or vendor_issued(secret):
            continue  # a vendor's value: no function can make one (an operator stages it)
        key = key_of_record(graph, secret)
        if key is not None and enabled_rotations(graph, key):
            continue  # a verifier record: its key's rotator writes it at every rotation of the key
        report(f"{label(secret)} has no enabled aws.secretsmanager.SecretRotation with a rotation function",
               secret.urn)


@stack_policy("secret-first-rotation-only-immediate", "Only a secret's first rotation is immediate: every "
              "SecretRotation sets rotateImmediately false (pulumi-aws re-sends it with every update, so a schedule "
              "or rotator change would rotate at once) and its secret has a SecretReadiness check, which starts the "
              "first rotation and holds the deploy until the secret has a value",
              Controls(sources=("design: the rotator gives every secret its first value before a task starts",)),
              [SECRET_ROTATION, SECRET_READINESS, SECRET], Severity.MEDIUM)
def secret_first_rotation(graph: StackGraph, report: Report) -> None:
    for rotation in graph.of_type(SECRET_ROTATION):
        immediate = peek(rotation.props, "rotateImmediately")
        if not is_false(immediate):
            report(f"{label(rotation)} has rotateImmediately {shown(immediate)} (absent means true): every update "
                   "of it rotates the secret at once", rotation.urn)
        secrets = graph.referenced(rotation, "secretId", SECRET)
        if not any(graph.referrers(secret, "secretArn", SECRET_READINESS) for secret in secrets):
            report(f"{label(rotation)}: its secret has no SecretReadiness check, so its first value would wait for "
                   "the schedule and nothing would wait for it", rotation.urn)


def rotation_interval_days(rules: Any) -> float | None:
    """Days between rotations for `automaticallyAfterDays` or a rate()/cron() `scheduleExpression`."""
    days = number(get(rules, "automaticallyAfterDays"))
    if days:
        return days
    expression = str(get(rules, "scheduleExpression") or "")
    rate = RATE.match(expression)
    if rate:
        amount = float(rate.group(1))
        return amount / HOURS_PER_DAY if rate.group(2).startswith("hour") else amount
    cron = CRON.match(expression)
    if cron:
        fields = cron.group(1).split()
        # minutes hours day-of-month month day-of-week [year]: every month (or more often) is <= 31 days.
        return 31.0 if len(fields) >= 5 and fields[3] in ("*", "?") else None
    return None


@resource_policy("secret-rotation-within-90-days", f"Secrets rotate at least every {MAX_ROTATION_DAYS} days",
                 Controls(fsbp=("SecretsManager.4",), checkov=("CKV_AWS_304",),
                          sources=("guides: rotate every 90 days",)), [SECRET_ROTATION], Severity.HIGH)
def secret_rotation_interval(args: ResourceValidationArgs, report: Report) -> None:
    days = rotation_interval_days(get(args.props, "rotationRules"))
    if days is None:
        report("rotationRules set no interval the policy can bound (automaticallyAfterDays, rate(...) or a cron "
               "that runs every month)")
    elif days > MAX_ROTATION_DAYS:
        report(f"rotationRules give {shown(days)} days between rotations; at most {MAX_ROTATION_DAYS}")


@resource_policy("secret-encrypted-with-cmk", "Secrets are encrypted with a customer-managed KMS key, not the "
                 "AWS-managed aws/secretsmanager key", Controls(checkov=("CKV_AWS_149",)), [SECRET], Severity.HIGH)
def secret_cmk(args: ResourceValidationArgs, report: Report) -> None:
    key = get(args.props, "kmsKeyId")
    if not key or str(key).endswith(AWS_MANAGED_SECRETS_KEY):
        report("kmsKeyId names no customer-managed key")


@resource_policy("secret-has-description", "Secrets say what they are (a description), never in their value",
                 Controls(sources=("design: metadata lives outside the value",)), [SECRET], Severity.LOW)
def secret_description(args: ResourceValidationArgs, report: Report) -> None:
    description = get(args.props, "description")
    if not isinstance(description, str) or not description.strip():
        report("description is empty")


@resource_policy("secret-version-no-plaintext", "No SecretVersion carries a value: secrets get their first value "
                 "from their rotator, so no secret sits in Pulumi state", Controls(
                     sources=("design: no secret value passes through Pulumi", "guides: never commit keys")),
                 [SECRET_VERSION], Severity.CRITICAL)
def secret_version_plaintext(args: ResourceValidationArgs, report: Report) -> None:
    for key in ("secretString", "secretBinary", "secretStringWo"):
        if get(args.props, key):
            report(f"SecretVersion sets {key}")


@resource_policy("secret-named-for-environment", "Secrets are named securestack/<env>/<api-keys|webhooks|database>/"
                 "<name> for this stack's environment (what rotator and consumer policies are scoped by)",
                 Controls(sources=("README: Architecture (secret names)", "guides: separate keys per environment")),
                 [SECRET], Severity.HIGH)
def secret_named(args: ResourceValidationArgs, report: Report) -> None:
    name, environment = get(args.props, "name"), stack_environment()
    parts = str(name or "").split("/")
    if len(parts) != 4 or parts[:2] != ["securestack", environment] or parts[2] not in SECRET_PATHS \
            or not SECRET_NAME_PART.match(parts[3]):
        report(f"name {name!r} is not securestack/{environment}/<{'|'.join(SECRET_PATHS)}>/<name>")


@resource_policy("secret-recovery-window", f"Deleted secrets stay recoverable ({MIN_RECOVERY_WINDOW_DAYS}.."
                 f"{MAX_RECOVERY_WINDOW_DAYS} days, {MAX_RECOVERY_WINDOW_DAYS} in production); never deleted at once",
                 Controls(sources=("README: Architecture (recovery window)", "README: Configuration (prod 30)")),
                 [SECRET], Severity.MEDIUM)
def secret_recovery_window(args: ResourceValidationArgs, report: Report) -> None:
    days = number(get(args.props, "recoveryWindowInDays"))
    days = MAX_RECOVERY_WINDOW_DAYS if days is None else days  # Secrets Manager's default
    if days < MIN_RECOVERY_WINDOW_DAYS:
        report(f"recoveryWindowInDays is {shown(days)}: a deleted secret would be gone at once")
    elif production_stack() and days < MAX_RECOVERY_WINDOW_DAYS:
        report(f"recoveryWindowInDays is {shown(days)} in a production stack; it must be {MAX_RECOVERY_WINDOW_DAYS}")


@resource_policy("secret-metadata-tags", "Secrets carry their non-secret metadata as tags (environment, name, kind; an "
                 "API key its scopes and key prefix, sk_live_ only in production), never in the value",
                 Controls(sources=("README: Architecture (non-secret metadata as tags)",
                                   "design: metadata lives outside the value")), [SECRET], Severity.MEDIUM)
def secret_metadata(args: ResourceValidationArgs, report: Report) -> None:
    tags = tags_of(args.props)
    missing = [tag for tag in METADATA_TAGS if not tags.get(tag)]
    if tags.get("securestack:kind") == API_KEY_KIND:
        # A vendor's key carries a prefix only when that vendor marks its keys' tier (contract 15).
        required = VENDOR_KEY_TAGS if tags.get(ISSUER_TAG) == VENDOR_ISSUER else API_KEY_TAGS
        missing += [tag for tag in required if not tags.get(tag)]
        prefix, expected = tags.get("securestack:key-prefix"), KEY_PREFIXES[production_stack()]
        if prefix and prefix != expected:
            report(f"securestack:key-prefix is {prefix!r}; this stack's keys are {expected}")
    if missing:
        report(f"tags {', '.join(missing)} are missing")


def covers(statement: Mapping[str, Any], action: str) -> bool:
    return any(a == action or a == "secretsmanager:*" or a == "*" for a in items(statement.get("Action")))


def exempt_principals(statement: Mapping[str, Any]) -> set[str]:
    condition = plain(statement.get("Condition") or {})
    return {str(arn) for arn in items((condition.get("StringNotEquals") or {}).get("aws:PrincipalArn"))} \
        | {str(arn) for arn in items((condition.get("ArnNotEquals") or {}).get("aws:PrincipalArn"))}


def denies_for_everyone_but(document: Any, action: str) -> list[set[str]]:
    """For each Deny of `action` to everyone, the principals it exempts (none: an unconditional Deny, e.g. the reads
    of a vendor secret nobody consumes)."""
    return [exempt_principals(s) for s in statements(document) if s.get("Effect") == "Deny"
            and is_public_principal(s.get("Principal")) and covers(s, action)
            and (exempt_principals(s) or not s.get("Condition"))]


def denies_plain_transport(document: Any) -> bool:
    return any(s.get("Effect") == "Deny" and is_public_principal(s.get("Principal")) and covers(s, READ_ACTIONS[0])
               and str(((s.get("Condition") or {}).get("Bool") or {}).get("aws:SecureTransport")).lower() == "false"
               for s in statements(document))


def rotator_roles(graph: StackGraph, secret: PolicyResource) -> set[str]:
    """ARNs of the roles of the functions that rotate the secret (unknown ones left out)."""
    functions = [f for rotation in graph.referrers(secret, "secretId", SECRET_ROTATION)
                 for f in graph.referenced(rotation, "rotationLambdaArn", FUNCTION)]
    roles = [r for f in functions for r in graph.referenced(f, "role", ROLE)]
    return {arn for arn in (peek(r.props, "arn") for r in roles) if isinstance(arn, str)}


def resource_policy_problems(document: Any, rotators: set[str]) -> list[str]:
    problems = []
    if any(allows(s) for s in statements(document)):
        problems.append("has an Allow statement (grants come from the principals' own IAM policies)")
    readers = denies_for_everyone_but(document, READ_ACTIONS[0])
    if not readers:
        problems.append("denies GetSecretValue to no one (every principal with IAM access reads)")
    for action in WRITE_ACTIONS:
        writers = denies_for_everyone_but(document, action)
        if not writers:
            problems.append(f"does not deny {action} to everyone but the rotator")
        elif rotators and not any(exempt <= rotators for exempt in writers):
            problems.append(f"lets {sorted(set().union(*writers) - rotators)} {action} besides the rotator")
    if rotators and readers and not any(rotators <= exempt for exempt in readers):
        problems.append("denies the rotator its reads")
    if not denies_plain_transport(document):
        problems.append("does not deny requests without TLS (aws:SecureTransport false)")
    return problems


@stack_policy("secret-resource-policy-deny-only", "Every secret has a deny-only resource policy (public policies "
              "blocked): reads by its consumers and rotator only, writes by its rotator only, nothing without TLS",
              Controls(sources=("README: Architecture (a deny-only resource policy)", "guides: least privilege")),
              [SECRET, SECRET_POLICY, SECRET_ROTATION, FUNCTION, ROLE], Severity.CRITICAL)
def secret_resource_policy(graph: StackGraph, report: Report) -> None:
    for secret in graph.of_type(SECRET):
        policies = graph.referrers(secret, "secretArn", SECRET_POLICY)
        documents = [get(p.props, "policy") for p in policies] or ([get(secret.props, "policy")]
                                                                     if get(secret.props, "policy") else [])
        if not documents:
            report(f"{label(secret)} has no resource policy", secret.urn)
        if policies and not all(is_true(get(p.props, "blockPublicPolicy")) for p in policies):
            report(f"{label(secret)}'s SecretPolicy does not set blockPublicPolicy", secret.urn)
        rotators = rotator_roles(graph, secret)
        key = key_of_record(graph, secret)
        if not rotators and key is not None:
            rotators = rotator_roles(graph, key)  # a verifier record: written by its key's rotator
        for document in documents:
            for problem in resource_policy_problems(document, rotators):
                report(f"{label(secret)}'s resource policy {problem}", secret.urn)


# -- issue 12: verifier records, and who reads and writes what ---------------------------------------------------

def rotator_role_resources(graph: StackGraph, secret: PolicyResource) -> list[PolicyResource]:
    """The roles of the functions that rotate `secret`."""
    functions = [f for r in enabled_rotations(graph, secret)
                 for f in graph.referenced(r, "rotationLambdaArn", FUNCTION)]
    return [role for f in functions for role in graph.referenced(f, "role", ROLE)]


def writers_admitted(graph: StackGraph, record: PolicyResource) -> Optional[set[Any]]:
    """The principals the record's resource policy does not deny PutSecretValue (None: nothing denies it)."""
    for policy in graph.referrers(record, "secretArn", SECRET_POLICY):
        for statement in statements(get(policy.props, "policy")):
            if statement.get("Effect") != "Deny" or not any(
                    resource_covers(a.lower(), "secretsmanager:putsecretvalue") for a in actions_of(statement)):
                continue
            condition = statement.get("Condition") or {}
            for operator in ("StringNotEquals", "ArnNotEquals", "StringNotLike", "ArnNotLike"):
                admitted = (condition.get(operator) or {}).get("aws:PrincipalArn")
                if admitted is not None:
                    return set(items(admitted))
            if not condition:
                return set()
    return None


def verifier_record_problem(graph: StackGraph, key: PolicyResource) -> Optional[str]:
    name = peek(key.props, "tags", VERIFIER_SECRET_TAG)
    key_name = peek(key.props, "name")
    if not name:
        return f"has no {VERIFIER_SECRET_TAG} tag: the API cannot find its verifier record"
    records = graph.with_value(name, (SECRET,), "name")
    if not records:
        return f"names verifier record {name!r}, which the stack does not create"
    record = records[0]
    if kind_of(record) != VERIFIER_KIND or peek(record.props, "tags", KEY_SECRET_TAG) != key_name:
        return f"names {label(record)}, which is not tagged as the verifier record of {key_name!r}"
    if get(record.props, "kmsKeyId") != get(key.props, "kmsKeyId"):
        return f"and its verifier record {label(record)} are not under the same KMS key"
    rotators = {get(role.props, "arn") for role in rotator_role_resources(graph, key)}
    admitted = writers_admitted(graph, record)
    if not rotators or admitted is None or not admitted <= rotators:
        return f"has verifier record {label(record)} whose resource policy does not deny writes to all but the " \
               "key's rotator"
    return None


@stack_policy("api-key-has-verifier-record", "Every self-issued API key has its verifier record: named by the key's "
              f"{VERIFIER_SECRET_TAG} tag, created by the stack, tagged with the key, under the key's KMS key, "
              "writable only by the key's rotator", Controls(sources=(
                  "issue 12: the API verifies every key it issued, across every rotation",)),
              [SECRET, SECRET_POLICY, SECRET_ROTATION, FUNCTION, ROLE], Severity.HIGH)
def api_key_has_verifier_record(graph: StackGraph, report: Report) -> None:
    for key in graph.of_type(SECRET):
        if kind_of(key) == API_KEY_KIND and not vendor_issued(key):  # a vendor verifies the keys it issues
            problem = verifier_record_problem(graph, key)
            if problem:
                report(f"API key {label(key)} {problem}", key.urn)


def secrets_by_arn(graph: StackGraph) -> dict[str, Any]:
    return {arn: secret for secret in graph.of_type(SECRET) if isinstance(arn := peek(secret.props, "arn"), str)}


@stack_policy("app-task-role-reads-only-verifier-records-and-webhook-secrets", "An ECS task role (the app's own "
              "code) reads the value of verifier records and webhook signing secrets of the stack only, each by its "
              "ARN: never an API key's value, nor secrets by pattern", Controls(sources=(
                  "issue 12: the verifier holds digests, never a key value",)),
              [TASK_DEFINITION, ROLE, ROLE_POLICY, SECRET], Severity.CRITICAL)
def task_role_reads(graph: StackGraph, report: Report) -> None:
    secrets = secrets_by_arn(graph)
    for task in graph.of_type(TASK_DEFINITION):
        for role in graph.referenced(task, "taskRoleArn", ROLE):
            for statement in role_policy_statements(graph, role, ROLE_POLICY):
                if not grants_action(statement, VALUE_READ_ACTIONS):
                    continue
                for resource in resources_of(statement) or ["<no Resource>"]:
                    secret = secrets.get(resource)
                    if secret is None or kind_of(secret) not in (VERIFIER_KIND, WEBHOOK_KIND):
                        what = label(secret) if secret is not None else repr(resource)
                        report(f"task role {label(role)} of {label(task)} may read the value of {what}: only "
                               "verifier records and webhook signing secrets, by ARN", role.urn)


def verifier_path(environment: str) -> re.Pattern[str]:
    return re.compile(rf"^arn:[\w-]+:secretsmanager:[a-z0-9-]+:\d{{12}}:secret:securestack/"
                      rf"{re.escape(environment)}/api-key-verifiers/")


def touches_verifier_records(pattern: str, record_arns: list[str], probes: list[str]) -> bool:
    return "api-key-verifiers" in pattern or any(resource_covers(pattern, arn) for arn in record_arns + probes)


@stack_policy("verifier-records-written-only-by-this-environments-key-rotators", "Only the rotation function of "
              "an API key may write verifier records, and only those of its own environment "
              "(securestack/<env>/api-key-verifiers/...)", Controls(sources=(
                  "issue 12: the rotator maintains the verifier record", "guides: separate keys per environment")),
              [ROLE, ROLE_POLICY, SECRET, SECRET_ROTATION, FUNCTION], Severity.CRITICAL)
def verifier_record_writers(graph: StackGraph, report: Report) -> None:
    environment = stack_environment()
    own_path = verifier_path(environment)
    records = [arn for arn, secret in secrets_by_arn(graph).items() if kind_of(secret) == VERIFIER_KIND]
    sample = records[0] if records else "arn:aws:secretsmanager:us-east-1:000000000000:secret:securestack/x/y-AbCdEf"
    prefix = sample.split(":secret:", 1)[0]
    probes = [f"{prefix}:secret:securestack/{environment}/api-key-verifiers/probe-AbCdEf",
              f"{prefix}:secret:securestack/another-environment/api-key-verifiers/probe-AbCdEf"]
    key_rotators = {role.urn for key in graph.of_type(SECRET) if kind_of(key) == API_KEY_KIND
                    for role in rotator_role_resources(graph, key)}
    for role in graph.of_type(ROLE):
        for statement in role_policy_statements(graph, role, ROLE_POLICY):
            if not grants_action(statement, VALUE_WRITE_ACTIONS):
                continue
            touched = [p for p in resources_of(statement) if touches_verifier_records(p, records, probes)]
            if not touched:
                continue
            if role.urn not in key_rotators:
                report(f"{label(role)} may write verifier records but rotates no API key", role.urn)
            outside = [p for p in touched if not own_path.match(p)]
            if outside:
                report(f"{label(role)} may write verifier records outside securestack/{environment}/"
                       f"api-key-verifiers/: {outside[:2]}", role.urn)


# -- issue 15: vendor-issued secrets ------------------------------------------------------------------------------

def app_role_arns(graph: StackGraph) -> set[str]:
    """ARNs of every ECS task's execution and task roles (the app's)."""
    roles = [role for task in graph.of_type(TASK_DEFINITION) for prop in ("executionRoleArn", "taskRoleArn")
             for role in graph.referenced(task, prop, ROLE)]
    return {arn for arn in (peek(role.props, "arn") for role in roles) if isinstance(arn, str)}


def function_role_arns(graph: StackGraph) -> set[str]:
    """ARNs of the roles of every Lambda function of the stack (the rotators among them)."""
    roles = [role for function in graph.of_type(FUNCTION) for role in graph.referenced(function, "role", ROLE)]
    return {arn for arn in (peek(role.props, "arn") for role in roles) if isinstance(arn, str)}


def vendor_secret_problems(graph: StackGraph, secret: PolicyResource, not_operators: set[str]) -> list[str]:
    problems = []
    days = str(peek(secret.props, "tags", ROTATION_DAYS_TAG) or "")
    if not days.isdigit() or not 1 <= int(days) <= MAX_ROTATION_DAYS:
        problems.append(f"has tag {ROTATION_DAYS_TAG} {days or 'missing'!r}: the age its value may reach, "
                        f"1..{MAX_ROTATION_DAYS} days")
    if not peek(secret.props, "tags", "securestack:vendor"):
        problems.append("has no securestack:vendor tag (who issues its value)")
    if graph.referrers(secret, "secretId", SECRET_ROTATION):
        problems.append("has a SecretRotation: no rotation function can make a vendor's value")
    documents = [get(p.props, "policy") for p in graph.referrers(secret, "secretArn", SECRET_POLICY)]
    if not documents:
        problems.append("has no resource policy naming its writers")
    for document in documents:
        for action in WRITE_ACTIONS:
            writers = denies_for_everyone_but(document, action)
            if not writers or not any(exempt and not exempt & not_operators for exempt in writers):
                problems.append(f"has a resource policy that does not deny {action} to all but operator roles "
                                "(neither the app's roles nor a rotator's)")
    return problems


@stack_policy("vendor-secret-staged-by-operators-only", "A vendor-issued secret (tagged securestack:issuer=vendor) "
              "has no rotation, a securestack:rotation-days tag of 1..90 (how old its value may get before the age "
              "alarm) and its vendor's name, and its resource policy denies every write but the operators' "
              "(neither the app's roles nor a rotator's)", Controls(sources=(
                  "issue 15: a vendor's key is staged by an operator, never generated, never rotated by a function",
                  "guides: rotate every 90 days")),
              [SECRET, SECRET_POLICY, SECRET_ROTATION, TASK_DEFINITION, FUNCTION, ROLE], Severity.HIGH)
def vendor_secret_staged_by_operators(graph: StackGraph, report: Report) -> None:
    vendor_secrets = [secret for secret in graph.of_type(SECRET) if vendor_issued(secret)]
    if not vendor_secrets:
        return
    not_operators = app_role_arns(graph) | function_role_arns(graph)
    for secret in vendor_secrets:
        for problem in vendor_secret_problems(graph, secret, not_operators):
            report(f"vendor-issued {label(secret)} {problem}", secret.urn)


POLICIES: list[SecurestackPolicy] = [secret_rotation_configured, secret_first_rotation, secret_rotation_interval, secret_cmk,
            secret_description, secret_version_plaintext, secret_named, secret_metadata, secret_recovery_window,
            secret_resource_policy, api_key_has_verifier_record, task_role_reads, verifier_record_writers,
            vendor_secret_staged_by_operators]
