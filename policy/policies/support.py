"""How a securestack policy is declared and how it reads what the engine hands it.

The analyzer gives a policy the engine's view of a resource: camelCase property names, numbers as floats (they
travel as protobuf Struct values), provider configuration as JSON text, secrets already unwrapped, and every
value not known during a preview behind `pulumi_policy`'s unknown-checking proxy (reading one raises, and the
analyzer reports "can't run policy ... during preview"). The helpers below read properties that way and never
test `isinstance(x, dict)`: the proxies are Mappings and Sequences, not dicts and lists.
"""
from __future__ import annotations

import bisect
import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional, Protocol

import pulumi
from pulumi_policy import (EnforcementLevel, PolicyResource, ReportViolation, ResourceValidationArgs,
                           ResourceValidationPolicy, Severity, StackValidationArgs, StackValidationPolicy)
from pulumi_policy import proxy as _proxy

PROJECT = "securestack"  # the config namespace the stack's own settings live in
PRODUCTION_TIER = "production"
NON_PRODUCTION_TIER = "non-production"
UNKNOWN_VALUES = frozenset(getattr(_proxy, name) for name in dir(_proxy)
                           if name.startswith("UNKNOWN_") and name.endswith("_VALUE"))


# -- declaring policies ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Controls:
    """The audited controls a policy implements: Security Hub FSBP ids, Checkov ids, and other sources."""

    fsbp: tuple[str, ...] = ()
    checkov: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # e.g. "guides: separate keys per environment", "design: edge"

    def citation(self) -> str:
        parts = []
        if self.fsbp:
            parts.append("Security Hub " + ", ".join(self.fsbp))
        if self.checkov:
            parts.append("Checkov " + ", ".join(self.checkov))
        parts.extend(self.sources)
        return "; ".join(parts)

    def tags(self) -> list[str]:
        return [f"fsbp:{c}" for c in self.fsbp] + [f"checkov:{c}" for c in self.checkov]


def describe(summary: str, controls: Controls) -> str:
    return f"{summary} [{controls.citation()}]"


class Report(Protocol):
    """The violation callback as pulumi_policy calls it: the resource's URN is optional (policy.py's
    `report_violation(message, urn=None)`), though its `ReportViolation` alias types both arguments as required."""

    def __call__(self, message: str, urn: Optional[str] = None) -> None: ...


def _reporter(report: ReportViolation) -> Report:
    def report_violation(message: str, urn: Optional[str] = None) -> None:
        report(message, urn)
    return report_violation


ResourceCheck = Callable[[ResourceValidationArgs, Report], None]
StackCheck = Callable[["StackGraph", Report], None]


class ResourcePolicy(ResourceValidationPolicy):
    """A mandatory resource policy that runs only on the resource types it names."""

    def __init__(self, name: str, summary: str, controls: Controls, resource_types: Iterable[str],
                 check: ResourceCheck, severity: Severity):
        self.summary, self.controls, self.resource_types = summary, controls, tuple(resource_types)
        self.check = check
        types = frozenset(t for t in self.resource_types if not t.endswith("*"))
        prefixes = tuple(t[:-1] for t in self.resource_types if t.endswith("*"))  # e.g. "aws:*": every AWS type

        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if args.resource_type in types or args.resource_type.startswith(prefixes):
                check(args, _reporter(report))

        super().__init__(name=name, description=describe(summary, controls), validate=validate,
                         enforcement_level=EnforcementLevel.MANDATORY, severity=severity, tags=controls.tags())


class StackPolicy(StackValidationPolicy):
    """A mandatory stack policy: it sees every resource (final outputs) with parents and dependencies."""

    def __init__(self, name: str, summary: str, controls: Controls, resource_types: Iterable[str],
                 check: StackCheck, severity: Severity):
        self.summary, self.controls, self.resource_types = summary, controls, tuple(resource_types)

        # One graph per policy call. Upstream pulumi_policy's AnalyzeStack builds new PolicyResource objects for each
        # stack policy (pulumi_policy/policy.py); the analyzer the pack serves (policy/analyzer.py) hands every
        # policy the same read-only ones, but a graph is cheap next to the conversion it saved and a policy never
        # depends on which analyzer runs it. The graph indexes lazily, so each policy pays only for the lookups it
        # makes, O(resources) each.
        def validate(args: StackValidationArgs, report: ReportViolation) -> None:
            check(StackGraph(args.resources), _reporter(report))

        super().__init__(name=name, description=describe(summary, controls), validate=validate,
                         enforcement_level=EnforcementLevel.MANDATORY, severity=severity, tags=controls.tags())


# What the pack serves: each policy carries its summary, controls and resource types (CONTROLS.md reads them).
SecurestackPolicy = ResourcePolicy | StackPolicy


def resource_policy(name: str, summary: str, controls: Controls, resource_types: Iterable[str],
                    severity: Severity = Severity.HIGH) -> Callable[[ResourceCheck], ResourcePolicy]:
    return lambda check: ResourcePolicy(name, summary, controls, resource_types, check, severity)


def stack_policy(name: str, summary: str, controls: Controls, resource_types: Iterable[str],
                 severity: Severity = Severity.HIGH) -> Callable[[StackCheck], StackPolicy]:
    return lambda check: StackPolicy(name, summary, controls, resource_types, check, severity)


# -- the stack the pack runs for -------------------------------------------------------------------------------

def stack_environment() -> str:
    """The environment is the stack name (settings derive every name and the securestack:env tag from it)."""
    return pulumi.get_stack()


def production_stack() -> bool:
    """From the stack's `securestack:tier`; a stack that does not say is held to production rules."""
    return pulumi.Config(PROJECT).get("tier") != NON_PRODUCTION_TIER


# -- reading properties ----------------------------------------------------------------------------------------

def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def number(value: Any) -> Optional[float]:
    """Numbers arrive as floats (protobuf Struct) or, in provider configuration, as text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def shown(value: Any) -> Any:
    """A number as people write it in messages (7, not 7.0)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def items(value: Any) -> list[Any]:
    """A list input as a list (absent -> empty); a single value as a one-item list."""
    if value is None:
        return []
    return list(value) if is_sequence(value) else [value]


def descend(value: Any, path: tuple[Any, ...], unwrap: Callable[[Any], Any]) -> Any:
    """value[path...] (keys and list indexes), each level unwrapped first; None where a level is absent."""
    for key in path:
        value = unwrap(value)
        if isinstance(key, int):
            if not is_sequence(value) or len(value) <= key:
                return None
        elif not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def get(props: Any, *path: Any) -> Any:
    """props[path...] through proxies; None where a level is absent. Reading an unknown value raises."""
    return descend(props, path, lambda value: value)


def plain(value: Any) -> Any:
    """A proxied value as plain dicts and lists (reads every leaf, so an unknown one raises)."""
    if isinstance(value, Mapping):
        return {key: plain(value[key]) for key in value}
    if is_sequence(value):
        return [plain(item) for item in value]
    return value


class InvalidJsonInput(ValueError):
    """A JSON-typed input that does not parse: a policy reading it cannot decide, so it fails (the harness and the
    engine stop the run on a raising policy) instead of seeing an empty document and passing."""


def json_value(value: Any) -> Any:
    """A JSON-typed input (policy documents, container definitions, provider config) as Python values."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            # Position only: the text may be a secret input, and this message is printed.
            raise InvalidJsonInput(f"a JSON input is not valid JSON ({error.msg} at line {error.lineno}, column "
                                   f"{error.colno})") from None
    return plain(value)


def tags_of(props: Any) -> dict[str, str]:
    tags = get(props, "tags")
    return {str(k): v for k, v in plain(tags).items()} if isinstance(tags, Mapping) else {}


# -- policy documents ------------------------------------------------------------------------------------------

def statements(document: Any) -> list[Mapping[str, Any]]:
    """The statements of an IAM/KMS/S3 policy document given as JSON text or an object."""
    parsed = json_value(document)
    if not isinstance(parsed, Mapping):
        return []
    return [s for s in items(parsed.get("Statement")) if isinstance(s, Mapping)]


def allows(statement: Mapping[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def actions_of(statement: Mapping[str, Any]) -> list[str]:
    return [a for a in items(statement.get("Action")) if isinstance(a, str)]


def resources_of(statement: Mapping[str, Any]) -> list[str]:
    return [r for r in items(statement.get("Resource")) if isinstance(r, str)]


def is_public_principal(principal: Any) -> bool:
    """`"*"`, `{"AWS": "*"}` or `{"AWS": [..., "*"]}`: anyone, in any account."""
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any(value == "*" or (is_sequence(value) and "*" in value) for value in principal.values())
    return False


def describe_statement(statement: Mapping[str, Any], index: int) -> str:
    return f"statement {statement.get('Sid') or index}"


# -- unknown-tolerant reading (graph lookups in stack policies) -----------------------------------------------

def raw(value: Any) -> Any:
    """What a proxy wraps, without the unknown check (the same unwrapping pulumi_policy's serializer does)."""
    if isinstance(value, (_proxy._DictProxy, _proxy._ListProxy)):
        return value["__target"]
    return value


def is_unknown(value: Any) -> bool:
    return isinstance(raw(value), str) and raw(value) in UNKNOWN_VALUES


def peek(props: Any, *path: Any) -> Any:
    """Like `get`, but an unknown value reads as None: for finding related resources, never for the verdict."""
    value = descend(props, path, raw)
    return None if is_unknown(value) else raw(value)


def present(props: Any, key: str) -> bool:
    """Whether a property is set, known or not (a value computed during a preview is set, just unknown)."""
    value = raw(props)
    if not isinstance(value, Mapping) or key not in value:
        return False
    item = value[key]
    if is_unknown(item):
        return True
    item = raw(item)
    if isinstance(item, Mapping) or is_sequence(item):
        return len(item) > 0
    return item is not None and item != ""


def known_strings(value: Any) -> Iterator[str]:
    """Every known string leaf of a value (unknowns skipped)."""
    value = raw(value)
    if isinstance(value, str):
        if value not in UNKNOWN_VALUES:
            yield value
    elif isinstance(value, Mapping):
        for key in value:
            yield from known_strings(value[key])
    elif is_sequence(value):
        for item in value:
            yield from known_strings(item)


# -- the stack's resource graph --------------------------------------------------------------------------------

IDENTIFYING_OUTPUTS = ("arn", "id", "name", "bucket", "keyId", "identifier")


def identifiers(resource: PolicyResource) -> set[str]:
    """The known names a resource is referred to by (ARN, id, name...)."""
    found = {peek(resource.props, key) for key in IDENTIFYING_OUTPUTS}
    return {value for value in found if isinstance(value, str) and value}


def mentions(text: str, names: set[str]) -> bool:
    """A string that is one of the names, or quotes an ARN among them (e.g. inside a JSON document)."""
    return text in names or any(name.startswith("arn:") and name in text for name in names)


ARN_KEY_LENGTH = 256  # how much of the text after each "arn:" the referrer index keys on (longer names: checked)


def arn_starts(text: str) -> Iterator[int]:
    """Where an ARN may start inside a text: only there can an ARN name occur in it (`mentions`)."""
    start = text.find("arn:")
    while start >= 0:
        yield start
        start = text.find("arn:", start + 1)


def _in_order(found: dict[int, PolicyResource], position: Mapping[int, int]) -> list[PolicyResource]:
    return [found[key] for key in sorted(found, key=position.__getitem__)]


class _Referrers:
    """Sources of some types indexed by what their `prop` refers with: dependency URNs, whole known strings, and
    the text after each "arn:" (a target's ARN quoted inside a document), so `referrers` looks up, never scans."""

    def __init__(self, graph: "StackGraph", prop: str, sources: list[PolicyResource]):
        self.by_urn: dict[str, list[PolicyResource]] = {}
        self.by_text: dict[str, list[PolicyResource]] = {}
        arn_texts: list[tuple[str, int, str, int]] = []  # (key, source position, text, where the ARN starts)
        for source in sources:
            for dependency in source.property_dependencies.get(prop, []):
                self.by_urn.setdefault(dependency.urn, []).append(source)
            for text in graph.strings(source, prop):
                self.by_text.setdefault(text, []).append(source)
                arn_texts += [(text[at:at + ARN_KEY_LENGTH], graph.position[id(source)], text, at)
                              for at in arn_starts(text)]
        arn_texts.sort(key=lambda entry: entry[0])
        self.arn_keys = [entry[0] for entry in arn_texts]
        self.arn_texts = arn_texts
        self.by_position = {graph.position[id(s)]: s for s in sources}

    def find(self, target: PolicyResource, names: set[str]) -> dict[int, PolicyResource]:
        found = {id(s): s for s in self.by_urn.get(target.urn, [])}
        for name in names:
            found.update((id(s), s) for s in self.by_text.get(name, []))
            if name.startswith("arn:"):
                found.update(self._quoting(name))
        return found

    def _quoting(self, name: str) -> Iterator[tuple[int, PolicyResource]]:
        prefix = name[:ARN_KEY_LENGTH]
        index = bisect.bisect_left(self.arn_keys, prefix)
        while index < len(self.arn_keys) and self.arn_keys[index].startswith(prefix):
            _, position, text, at = self.arn_texts[index]
            if text.startswith(name, at):
                source = self.by_position[position]
                yield id(source), source
            index += 1


class _Targets:
    """Targets of some types indexed by URN and by their identifiers, ARNs also by length (to find them quoted at
    each "arn:" of a text), so `referenced` looks up, never scans."""

    def __init__(self, graph: "StackGraph", targets: list[PolicyResource]):
        self.by_urn: dict[str, list[PolicyResource]] = {}
        self.by_name: dict[str, list[PolicyResource]] = {}
        self.arns_by_length: dict[int, set[str]] = {}
        for target in targets:
            self.by_urn.setdefault(target.urn, []).append(target)
            for name in graph.identifiers_of(target):
                self.by_name.setdefault(name, []).append(target)
                if name.startswith("arn:"):
                    self.arns_by_length.setdefault(len(name), set()).add(name)

    def find(self, graph: "StackGraph", source: PolicyResource, prop: str) -> dict[int, PolicyResource]:
        urns = {dependency.urn for dependency in source.property_dependencies.get(prop, [])}
        found = {id(t): t for urn in urns for t in self.by_urn.get(urn, [])}
        for text in graph.strings(source, prop):
            named = {text} | {text[at:at + length] for at in arn_starts(text)
                              for length, arns in self.arns_by_length.items() if text[at:at + length] in arns}
            found.update((id(t), t) for name in named for t in self.by_name.get(name, []))
        return found


class StackGraph:
    """The resources of a stack policy, with lookups along property dependencies (what the engine recorded) and,
    where a value came from outside the program, along equal known values.

    Every lookup goes through an index built once, on first use (by type, by referring property, by value), so a
    stack policy costs O(resources), not O(resources x resources): at 3,000 API keys a scan per secret of every
    rotation took minutes (issue 16)."""

    def __init__(self, resources: Sequence[PolicyResource]):
        self.resources = list(resources)
        self.position = {id(r): i for i, r in enumerate(self.resources)}
        self._by_type: Optional[dict[str, list[PolicyResource]]] = None
        self._identifiers: dict[int, set[str]] = {}
        self._strings: dict[tuple[int, str], tuple[str, ...]] = {}
        self._referrers: dict[tuple[str, tuple[str, ...]], _Referrers] = {}
        self._targets: dict[tuple[str, ...], _Targets] = {}
        self._by_value: dict[tuple[tuple[str, ...], tuple[Any, ...]], dict[Any, list[PolicyResource]]] = {}

    def of_type(self, *types: str) -> list[PolicyResource]:
        if self._by_type is None:
            self._by_type = {}
            for resource in self.resources:
                self._by_type.setdefault(resource.resource_type, []).append(resource)
        if len(types) == 1:
            return list(self._by_type.get(types[0], []))
        found = {id(r): r for t in dict.fromkeys(types) for r in self._by_type.get(t, [])}
        return _in_order(found, self.position)

    def identifiers_of(self, resource: PolicyResource) -> set[str]:
        key = id(resource)
        if key not in self._identifiers:
            self._identifiers[key] = identifiers(resource)
        return self._identifiers[key]

    def strings(self, resource: PolicyResource, prop: str) -> tuple[str, ...]:
        """The known strings of a resource's property (read once per stack)."""
        key = (id(resource), prop)
        if key not in self._strings:
            self._strings[key] = tuple(known_strings(peek(resource.props, prop)))
        return self._strings[key]

    def with_value(self, value: Any, types: tuple[str, ...], *path: Any) -> list[PolicyResource]:
        """Resources of `types` whose known value at `path` equals `value` (an index per types and path)."""
        key = (types, path)
        if key not in self._by_value:
            index: dict[Any, list[PolicyResource]] = {}
            for resource in self.of_type(*types):
                found = peek(resource.props, *path)
                try:
                    index.setdefault(found, []).append(resource)
                except TypeError:  # an unhashable value (a list or map) equals no text we look up
                    continue
            self._by_value[key] = index
        try:
            return list(self._by_value[key].get(value, []))
        except TypeError:
            return [r for r in self.of_type(*types) if peek(r.props, *path) == value]

    def refers_to(self, source: PolicyResource, prop: str, target: PolicyResource) -> bool:
        if any(dep.urn == target.urn for dep in source.property_dependencies.get(prop, [])):
            return True
        names = self.identifiers_of(target)
        return bool(names) and any(mentions(text, names) for text in self.strings(source, prop))

    def referrers(self, target: PolicyResource, prop: str, *types: str) -> list[PolicyResource]:
        """Resources of `types` whose `prop` refers to `target`."""
        key = (prop, types)
        if key not in self._referrers:
            self._referrers[key] = _Referrers(self, prop, self.of_type(*types))
        found = self._referrers[key].find(target, self.identifiers_of(target))
        found.pop(id(target), None)
        return _in_order(found, self.position)

    def referenced(self, source: PolicyResource, prop: str, *types: str) -> list[PolicyResource]:
        """Resources of `types` that `source`'s `prop` refers to."""
        if types not in self._targets:
            self._targets[types] = _Targets(self, self.of_type(*types))
        found = self._targets[types].find(self, source, prop)
        found.pop(id(source), None)
        return _in_order(found, self.position)


def label(resource: PolicyResource) -> str:
    return f"{resource.resource_type.split(':')[-1]} '{resource.name}'"


# -- secret-looking values (environment variables of functions and containers) ----------------------------------

SECRET_LOOKING_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY)",
                                 re.IGNORECASE)
# Credentials recognisable by their shape: the guides' live/test keys and webhook secrets, AWS access keys,
# PEM private keys, common provider tokens.
SECRET_LOOKING_VALUE = re.compile(r"(sk_(live|test)_\w|whsec_\w|-----BEGIN [A-Z ]*PRIVATE KEY"
                                  r"|\b(AKIA|ASIA)[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{20,}|\bxox[abprs]-)")
# What a reference to a secret looks like: an ARN, a URL, a path, or a lowercase Secrets Manager name.
REFERENCE_VALUE = re.compile(r"^(arn:[\w-]+:|https?://|/|[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9_.-]*)+$)")


def references_only(value: str) -> bool:
    """A reference, or a JSON list/object whose every value is one (e.g. SECURESTACK_WEBHOOK_SECRETS)."""
    if REFERENCE_VALUE.match(value):
        return True
    if not value.startswith(("[", "{")):
        return False
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return False
    leaves = list(parsed.values()) if isinstance(parsed, dict) else parsed if isinstance(parsed, list) else [parsed]
    return all(isinstance(leaf, str) and REFERENCE_VALUE.match(leaf) for leaf in leaves)


def secret_looking(name: Any, value: Any) -> Optional[str]:
    """Why a plain environment variable looks like it carries a secret (None if it does not)."""
    if not isinstance(value, str) or not value:
        return None
    if SECRET_LOOKING_VALUE.search(value):
        return f"{name}'s value has the shape of a credential"
    if isinstance(name, str) and SECRET_LOOKING_NAME.search(name) and not references_only(value):
        return f"{name} is named like a secret and its value is not a reference (ARN, URL or secret name)"
    return None


# -- who reads a secret's value, who writes it -------------------------------------------------------------------

KIND_TAG = "securestack:kind"
API_KEY_KIND, WEBHOOK_KIND, VERIFIER_KIND = "api-key", "webhook-secret", "api-key-verifier"
VERIFIER_SECRET_TAG = "securestack:verifier-secret"
KEY_SECRET_TAG = "securestack:key-secret"
VALUE_READ_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue")
VALUE_WRITE_ACTIONS = ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage")


def grants_action(statement: Mapping[str, Any], wanted: Sequence[str]) -> bool:
    """Whether an Allow statement's actions (wildcards included, case-insensitive as IAM matches) cover one of
    `wanted`."""
    return allows(statement) and any(fnmatch.fnmatchcase(action.lower(), pattern.lower())
                                     for pattern in actions_of(statement) for action in wanted)


def resource_covers(pattern: str, arn: str) -> bool:
    """IAM resource matching: `*` and `?` wildcards; a secret ARN ends with a random `-XxXxXx` suffix."""
    return fnmatch.fnmatchcase(arn, pattern.replace("[", "[[]"))


def kind_of(secret: PolicyResource) -> Optional[str]:
    kind = peek(secret.props, "tags", KIND_TAG)
    return kind if isinstance(kind, str) else None


# Contract 15: a key's or webhook's issuer. A vendor issues the value (an operator stages it, nothing rotates it);
# anything else (`self`, or no tag: what every secret was before) is made by its rotator.
ISSUER_TAG, VENDOR_ISSUER = "securestack:issuer", "vendor"
ROTATION_DAYS_TAG = "securestack:rotation-days"


def vendor_issued(secret: PolicyResource) -> bool:
    return bool(peek(secret.props, "tags", ISSUER_TAG) == VENDOR_ISSUER)


def role_policy_statements(graph: "StackGraph", role: PolicyResource, role_policy_type: str) -> list[Mapping[str, Any]]:
    """Allow statements of a role's inline policies (RolePolicy resources and the role's own inlinePolicies);
    reading a document not known yet raises (the policy cannot decide during a preview)."""
    documents = [get(p.props, "policy") for p in graph.referrers(role, "role", role_policy_type)]
    documents += [get(inline, "policy") for inline in items(peek(role.props, "inlinePolicies"))]
    return [s for document in documents for s in statements(document) if allows(s)]


def statement_covers(statement: Mapping[str, Any], arn: str) -> bool:
    return any(resource_covers(pattern, arn) for pattern in resources_of(statement))


def injected_arns(task_definition: PolicyResource) -> list[str]:
    """The secret ARNs a task definition's containers get injected (`secrets[].valueFrom`, `<arn>[:<key>::]`)."""
    found = []
    for container in items(json_value(get(task_definition.props, "containerDefinitions"))):
        for reference in items(container.get("secrets")) if hasattr(container, "get") else []:
            value_from = reference.get("valueFrom") if hasattr(reference, "get") else None
            if isinstance(value_from, str):
                found.append(value_from)
    return found
