"""The guides' boundaries: one environment per stack and account, keys and secrets never shared across
environments, and no all-powerful (`*`-scoped) key in an internet-facing service."""
from __future__ import annotations

import json
import re
from typing import Any, Iterable, Iterator, Mapping, Optional

import pulumi
from pulumi_policy import PolicyProviderResource, PolicyResource, ResourceValidationArgs, Severity

from securestack.infra.stack_config import StackConfigError, available_stacks

from .support import Report, SecurestackPolicy
from .support import (API_KEY_KIND, PROJECT, VALUE_READ_ACTIONS, Controls, StackGraph, get, grants_action,
                      injected_arns, is_sequence, is_true, items, json_value, kind_of, known_strings, label, peek,
                      raw, resource_policy, role_policy_statements, stack_environment, stack_policy,
                      statement_covers, vendor_issued)
from .types import (AWS_PROVIDER, BUCKET_POLICY, ECS_SERVICE, KMS_KEY, KMS_REPLICA_KEY, LISTENERS, LISTENER_RULES,
                    LOAD_BALANCERS, RDS_CLUSTER, RDS_INSTANCE, ROLE, ROLE_POLICY, SECRET, TARGET_GROUPS,
                    TASK_DEFINITION)

KMS_KEYS = (KMS_KEY, KMS_REPLICA_KEY)
RDS_INSTANCES = (RDS_INSTANCE, RDS_CLUSTER)
ENV_TAG = "securestack:env"
ACCOUNT_ID = re.compile(r"^\d{12}$")
ARN = re.compile(r"arn:aws[a-z-]*:(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9*-]*):(?P<account>[^:\"\s]*):"
                 r"(?P<resource>[^\"\s,\]]*)")
ANY_ACCOUNT = "*"
# Policy condition keys whose values are account ids.
ACCOUNT_CONDITION_KEYS = frozenset({"aws:SourceAccount", "aws:SourceOwner", "aws:PrincipalAccount",
                                    "aws:ResourceAccount", "kms:CallerAccount"})
ACCOUNT_PROPERTIES = ("sourceAccount", "accountId", "awsAccountId")
# Regions created before August 2022 deliver ALB access logs as a regional Elastic Load Balancing account (ELB user
# guide, "Enable access logs for your Application Load Balancer"); AWS owns them, and only an S3 bucket policy may
# name them (to let the logs in).
ELB_LOG_DELIVERY_ACCOUNTS = frozenset({
    "127311923021", "033677994240", "027434742980", "797873946194", "098369216593", "754344448648", "589379963580",
    "718504428378", "383597477331", "600734575887", "114774131450", "783225319266", "582318560864", "985666609251",
    "054676820928", "156460612806", "652711504416", "635631232127", "009996457667", "897822967062", "076674570225",
    "507241528517", "048591011584", "190560391635",
})
# securestack names carry their environment: secret paths securestack/<env>/..., AWS names securestack-<env>-...
ENVIRONMENT_PATH = re.compile(r"securestack/([a-z][a-z0-9-]*)/")
ENVIRONMENT_NAME = re.compile(r"securestack-([a-z0-9][a-z0-9-]*)")
# The project's environments: one Pulumi.<stack>.yaml each, beside the pack's directory.
KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[\w*-]+")
SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@!*-]+")
METADATA = ("tags", "tagsAll")  # text about a resource, not a use of anything
WILDCARD_SCOPE_TAG = "ALL_SCOPES"  # how the secrets component writes the `*` scope in securestack:scopes


# -- accounts --------------------------------------------------------------------------------------------------

def account_list(value: Any) -> list[str]:
    """allowedAccountIds as the engine hands provider configuration: JSON text, or a list."""
    parsed = json_value(value) if isinstance(value, str) else value
    return [str(a) for a in items(parsed)] if is_sequence(parsed) else []


def configured_accounts() -> Optional[list[str]]:
    """The stack's `aws:allowedAccountIds` (None when the stack config does not say)."""
    raw = pulumi.Config("aws").get("allowedAccountIds")
    return account_list(raw) if raw else None


@resource_policy("aws-provider-pins-accounts", "The AWS provider refuses every account but the stack's "
                 "(allowedAccountIds set, and within aws:allowedAccountIds)", Controls(
                     sources=("guides: separate keys per environment", "settings: aws:allowedAccountIds required")),
                 [AWS_PROVIDER], Severity.CRITICAL)
def provider_pins_accounts(args: ResourceValidationArgs, report: Report) -> None:
    accounts = account_list(get(args.props, "allowedAccountIds"))
    if not accounts:
        report("allowedAccountIds is empty: the provider would deploy to whatever account its credentials reach")
        return
    malformed = [a for a in accounts if not ACCOUNT_ID.match(a)]
    if malformed:
        report(f"allowedAccountIds has entries that are not 12-digit account ids: {malformed}")
    configured = configured_accounts()
    if configured is not None and not set(accounts) <= set(configured):
        report(f"allowedAccountIds {accounts} names accounts outside the stack's aws:allowedAccountIds {configured}")


def provider_accounts(provider: Optional[PolicyProviderResource]) -> list[str]:
    return account_list(get(provider.props, "allowedAccountIds")) if provider is not None else []


@resource_policy("aws-resources-use-pinned-provider", "Every AWS resource is created by an explicit AWS provider "
                 "that pins allowedAccountIds (never a default provider)", Controls(
                     sources=("guides: separate keys per environment",)), ["aws:*"], Severity.CRITICAL)
def resources_use_pinned_provider(args: ResourceValidationArgs, report: Report) -> None:
    provider = args.provider
    if provider is None or provider.name.startswith("default"):
        report("the resource uses a default AWS provider, which pins no account")
    elif not provider_accounts(provider):
        report(f"provider '{provider.name}' pins no account (allowedAccountIds empty)")


def allowed_accounts(graph: StackGraph) -> set[str]:
    found = {a for p in graph.of_type(AWS_PROVIDER) for a in account_list(peek(p.props, "allowedAccountIds"))}
    return found or set(configured_accounts() or [])


def document_accounts(document: Any) -> Iterator[str]:
    """Account ids a policy document names outside ARNs: in account conditions and `AWS` principals."""
    if hasattr(document, "items"):
        for key, value in document.items():
            if key in ACCOUNT_CONDITION_KEYS or key == "AWS":
                yield from (v for v in items(value) if isinstance(v, str) and ACCOUNT_ID.match(v))
            yield from document_accounts(value)
    elif isinstance(document, list):
        for value in document:
            yield from document_accounts(value)


def arns_in(text: str) -> Iterator[re.Match[str]]:
    """Every ARN in a text, ARNs nested in others included (API Gateway invoke ARNs quote a Lambda ARN)."""
    start = text.find("arn:")
    while start >= 0:
        match = ARN.match(text, start)
        if match:
            yield match
        start = text.find("arn:", start + 1)


def named_accounts(resource: PolicyResource) -> Iterator[tuple[str, str]]:
    """(account, where) for every account a resource's properties name: 12-digit ids, or `*` (any account)."""
    for text in known_strings(resource.props):
        for arn in arns_in(text):
            account = arn.group("account")
            if ACCOUNT_ID.match(account) or account == ANY_ACCOUNT:
                yield account, arn.group(0)
        if text.startswith("{"):
            try:
                yield from ((a, f"account {a} in a policy document") for a in document_accounts(json.loads(text)))
            except json.JSONDecodeError:
                pass
    for key in ACCOUNT_PROPERTIES:
        value = peek(resource.props, key)
        if isinstance(value, str):
            yield value, f"{key} {value}"


def outside(account: str, allowed: set[str], resource: PolicyResource) -> bool:
    if account in allowed:
        return False
    return not (resource.resource_type == BUCKET_POLICY and account in ELB_LOG_DELIVERY_ACCOUNTS)


@stack_policy("arns-within-allowed-accounts", "Every ARN and account id in the stack names one of its "
              "allowedAccountIds (or AWS itself): nothing reaches into another environment's account",
              Controls(sources=("guides: separate keys per environment",)), ["*"], Severity.CRITICAL)
def arns_within_accounts(graph: StackGraph, report: Report) -> None:
    allowed = allowed_accounts(graph)
    if not allowed:
        report("no AWS provider names allowedAccountIds and the stack config has no aws:allowedAccountIds")
        return
    for resource in graph.resources:
        foreign = sorted({where for account, where in named_accounts(resource)
                          if outside(account, allowed, resource)})
        if foreign:
            report(f"{label(resource)} names an account outside {sorted(allowed)}: {foreign[:3]}", resource.urn)


# -- environments ----------------------------------------------------------------------------------------------

def environment_tag(props: Any, provider: Optional[PolicyProviderResource]) -> Optional[str]:
    """The resource's own securestack:env tag, else the one its provider stamps as a default tag."""
    own = get(props, "tags", ENV_TAG)  # only this tag: others may not be known during a preview
    if own is not None or provider is None:
        return str(own)
    defaults = json_value(get(provider.props, "defaultTags")) or {}
    stamped = (defaults.get("tags") or {}).get(ENV_TAG) if hasattr(defaults, "get") else None
    return None if stamped is None else str(stamped)


@resource_policy("secrets-and-keys-tagged-with-environment", f"Every secret and KMS key carries {ENV_TAG} = the "
                 "stack's environment (rotators and audits read it)",
                 Controls(sources=("guides: separate keys per environment",)), [SECRET, *KMS_KEYS], Severity.HIGH)
def tagged_with_environment(args: ResourceValidationArgs, report: Report) -> None:
    tag, environment = environment_tag(args.props, args.provider), stack_environment()
    if tag != environment:
        report(f"{ENV_TAG} is {tag!r}; this stack's environment is {environment!r}")


def project_environments() -> set[str]:
    """The environments of the project being gated: its Pulumi.<stack>.yaml files. The pack runs in the project
    (the offline harness) or in its policy/ folder (the CLI starts the pack there), so the project is the nearest
    directory at or above the current one holding Pulumi.yaml; none found, only the stack's own is known."""
    try:
        return set(available_stacks())  # the project found as infra/stack_config.project_root finds it
    except StackConfigError:
        return set()


def named_environment(token: str, environments: set[str]) -> Optional[str]:
    """The environment a `securestack-<token>` name starts with: the longest one matching (dev-eu before dev)."""
    matching = [e for e in environments if token == e or token.startswith(f"{e}-")]
    return max(matching, key=len) if matching else None


def foreign_environments(text: str, environment: str, environments: set[str]) -> set[str]:
    """Other environments a string names: any `securestack/<other>/` path (secret names, aliases, log groups are
    always securestack/<env>/...), and `securestack-<other>-` names of the project's other environments (other
    securestack-* names, e.g. a shared image repository, say nothing about an environment)."""
    found = {m.group(1) for m in ENVIRONMENT_PATH.finditer(text) if m.group(1) != environment}
    for match in ENVIRONMENT_NAME.finditer(text):
        named = named_environment(match.group(1), environments | {environment})
        if named not in (None, environment):
            found.add(named)
    return found


def own_keys_and_secrets(graph: StackGraph) -> set[str]:
    """ARNs of the keys and secrets this stack creates (RDS-managed master secrets included)."""
    arns = {peek(r.props, "arn") for r in graph.of_type(*KMS_KEYS, SECRET)}
    for instance in graph.of_type(*RDS_INSTANCES):
        arns |= {peek(s, "secretArn") for s in items(peek(instance.props, "masterUserSecrets"))}
    return {a for a in arns if isinstance(a, str)}


def foreign_key_or_secret(text: str, own: set[str]) -> list[str]:
    """Key and secret ARNs (not wildcard patterns) this stack did not create."""
    referenced = [m.group(0) for m in KEY_ARN.finditer(text)] + [m.group(0) for m in SECRET_ARN.finditer(text)]
    return [arn for arn in referenced if "*" not in arn and not any(arn.startswith(o) for o in own)]


def declared_restore() -> Optional[Mapping[str, Any]]:
    """The stack's `securestack:database.restore` (the one cross-environment reference a stack may declare)."""
    database = pulumi.Config(PROJECT).get_object("database")
    restore = database.get("restore") if isinstance(database, Mapping) else None
    return restore if isinstance(restore, Mapping) else None


def admitted_restore_references(resource: PolicyResource, restore: Optional[Mapping[str, Any]]) -> dict[tuple[str, ...], Any]:
    """{property path: value} of the declared restore's references on an RDS instance: its restore input naming the
    declared source instance, and its storage key when it is the declared source key (a point-in-time restore
    keeps the source's key). Nothing else, on no other resource."""
    if restore is None or resource.resource_type not in RDS_INSTANCES:
        return {}
    admitted: dict[tuple[str, ...], Any] = {}
    source = restore.get("sourceDbInstanceIdentifier")
    if source and peek(resource.props, "restoreToPointInTime", "sourceDbInstanceIdentifier") == source:
        admitted[("restoreToPointInTime", "sourceDbInstanceIdentifier")] = source
    key = restore.get("sourceKmsKeyArn")
    if key and peek(resource.props, "kmsKeyId") == key:
        admitted[("kmsKeyId",)] = key
    return admitted


def without(props: Any, paths: Iterable[tuple[str, ...]]) -> Any:
    """The known properties with the given (key, ...) paths removed."""
    def strip(value: Any, path_tails: list[tuple[str, ...]]) -> Any:
        value = raw(value)
        if not isinstance(value, Mapping):
            return value
        return {key: strip(value[key], [tail[1:] for tail in path_tails if tail[0] == key and len(tail) > 1])
                for key in value if (key,) not in path_tails}
    return strip(props, list(paths))


@stack_policy("no-cross-environment-references", "No resource names another environment's keys or secrets (by "
              "name, alias or an ARN this stack did not create); a restore stack's database alone names the source "
              "instance and key its `securestack:database.restore` declares", Controls(
                  sources=("guides: never share keys between environments",)), ["*"], Severity.CRITICAL)
def no_cross_environment(graph: StackGraph, report: Report) -> None:
    environment, environments, own = stack_environment(), project_environments(), own_keys_and_secrets(graph)
    restore = declared_restore()
    declared_source = restore.get("sourceEnvironment") if restore is not None else None
    if isinstance(declared_source, str):
        # known even when its Pulumi.<env>.yaml is not beside the pack (its names are still another environment's)
        environments = environments | {declared_source}
    for resource in graph.resources:
        admitted = admitted_restore_references(resource, restore)
        props = without(resource.props, admitted)
        others = {e for text in known_strings(props) for e in foreign_environments(text, environment, environments)}
        foreign = [arn for key in props if key not in METADATA
                   for text in known_strings(props[key]) for arn in foreign_key_or_secret(text, own)]
        if admitted:
            others |= {e for text in admitted.values() for e in foreign_environments(text, environment, environments)
                       if e != declared_source}
        if others:
            report(f"{label(resource)} names environment(s) {sorted(others)} in the {environment!r} stack",
                   resource.urn)
        if foreign:
            report(f"{label(resource)} uses key/secret ARNs no resource of this stack created: "
                   f"{sorted(set(foreign))[:3]}", resource.urn)


# -- the *-scoped key ------------------------------------------------------------------------------------------

def wildcard_scoped(secret: PolicyResource) -> bool:
    scopes = str(peek(secret.props, "tags", "securestack:scopes") or "").split()
    return WILDCARD_SCOPE_TAG in scopes or "*" in scopes


def internet_facing_lbs_behind(graph: StackGraph, service: PolicyResource) -> list[PolicyResource]:
    listeners = []
    for group in graph.referenced(service, "loadBalancers", *TARGET_GROUPS):
        listeners += graph.referrers(group, "defaultActions", *LISTENERS)
        for rule in graph.referrers(group, "actions", *LISTENER_RULES):
            listeners += graph.referenced(rule, "listenerArn", *LISTENERS)
    lbs = [lb for listener in listeners for lb in graph.referenced(listener, "loadBalancerArn", *LOAD_BALANCERS)]
    return [lb for lb in lbs if not is_true(peek(lb.props, "internal"))]


def internet_facing(graph: StackGraph, service: PolicyResource) -> bool:
    return is_true(peek(service.props, "networkConfiguration", "assignPublicIp")) \
        or bool(internet_facing_lbs_behind(graph, service))


def task_roles(graph: StackGraph, task_definition: PolicyResource) -> list[PolicyResource]:
    return graph.referenced(task_definition, "executionRoleArn", ROLE) + \
        graph.referenced(task_definition, "taskRoleArn", ROLE)


def readers(graph: StackGraph, task_definition: PolicyResource, secret: PolicyResource) -> bool:
    """Whether the task gets the secret's value: injected into a container, or readable (GetSecretValue) by one
    of its roles. Naming the secret otherwise (its ARN in configuration, DescribeSecret) gives no value."""
    arn = get(secret.props, "arn")
    if not isinstance(arn, str):
        return False
    if any(value_from == arn or value_from.startswith(f"{arn}:") for value_from in injected_arns(task_definition)):
        return True
    return any(grants_action(statement, VALUE_READ_ACTIONS) and statement_covers(statement, arn)
               for role in task_roles(graph, task_definition)
               for statement in role_policy_statements(graph, role, ROLE_POLICY))


def internet_facing_tasks(graph: StackGraph) -> Iterator[tuple[PolicyResource, PolicyResource]]:
    for service in graph.of_type(ECS_SERVICE):
        if internet_facing(graph, service):
            for task in graph.referenced(service, "taskDefinition", TASK_DEFINITION):
                yield service, task


@stack_policy("no-wildcard-key-in-internet-facing-service", "No internet-facing service receives an API key scoped "
              "`*` (all scopes): those are for internal tools only", Controls(
                  sources=("guides: least privilege; admin keys for internal tools only",)),
              [SECRET, ECS_SERVICE, TASK_DEFINITION], Severity.CRITICAL)
def no_wildcard_key_exposed(graph: StackGraph, report: Report) -> None:
    secrets = [s for s in graph.of_type(SECRET) if wildcard_scoped(s)]
    if not secrets:
        return
    for service, task in internet_facing_tasks(graph):
        for secret in secrets:
            if readers(graph, task, secret):
                report(f"internet-facing {label(service)} receives the `*`-scoped key {label(secret)}", service.urn)


@stack_policy("no-key-value-in-internet-facing-service", "No internet-facing service gets the value of a "
              "self-issued API key, injected or readable by its roles: the API verifies keys from their verifier "
              "records (digests); only a key's callers and its rotator read it",
              Controls(sources=("issue 12: the verifier never holds a key value",
                                "guides: least privilege; keys held by their callers only")),
              [SECRET, ECS_SERVICE, TASK_DEFINITION, ROLE, ROLE_POLICY], Severity.CRITICAL)
def no_key_value_exposed(graph: StackGraph, report: Report) -> None:
    # A vendor's key is what the app calls that vendor with (ECS injects it): not a key this API verifies.
    keys = [s for s in graph.of_type(SECRET) if kind_of(s) == API_KEY_KIND and not vendor_issued(s)]
    if not keys:
        return
    for service, task in internet_facing_tasks(graph):
        for key in keys:
            if readers(graph, task, key):
                report(f"internet-facing {label(service)} gets the value of API key {label(key)} (verify it from its "
                       "verifier record instead)", service.urn)


POLICIES: list[SecurestackPolicy] = [provider_pins_accounts, resources_use_pinned_provider, arns_within_accounts, tagged_with_environment,
            no_cross_environment, no_wildcard_key_exposed, no_key_value_exposed]
