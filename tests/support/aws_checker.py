"""Checks recorded inputs against what AWS itself accepts (the mock engine accepts anything).

Two sources, both data in `tests.support.aws_rules`:
- botocore's service models: each resource type's inputs (engine camelCase names) are matched to the members of
  its API operation's input shape(s) and checked against the enums, lengths, patterns, ranges and list sizes the
  model carries, walking nested structures, lists and maps;
- AWS's documentation, where the models carry no rule (security-group descriptions, tags, S3 lifecycle days,
  resource names): `DocRule`s, each citing its source.

`check_resource(resource, context)` returns `Finding`s; an empty list means AWS would take the inputs as far as
these rules know. Service models are loaded once per process (`service_model` is cached).
"""
from __future__ import annotations

import functools
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Union

import botocore.session
from botocore.model import Shape

from securestack.infra.recording import RecordedResource, Recording, Secret, Unknown, autoname

NUMERIC = ("integer", "long", "float", "double")


@dataclass(frozen=True)
class Finding:
    urn: str
    path: str      # where in the inputs, e.g. "rules[0].statement.rateBasedStatement.limit"
    rule: str      # what AWS requires, e.g. "ec2 CreateSecurityGroupRequest.Description: ... (source)"
    value: Any

    def __str__(self) -> str:
        return f"{self.urn} {self.path}={self.value!r}: {self.rule}"


# --- botocore models -------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _botocore_session():
    return botocore.session.get_session()


@functools.lru_cache(maxsize=None)
def service_model(service: str):
    return _botocore_session().get_service_model(service)


def shape_of(service: str, shape_name: str) -> Shape:
    return service_model(service).shape_for(shape_name)


@functools.lru_cache(maxsize=None)
def _categories() -> tuple[tuple[int, int, str], ...]:
    """Every code point's Unicode general category, as (first, last, category) runs (computed once)."""
    runs: list[list] = []
    for code in range(sys.maxunicode + 1):
        category = unicodedata.category(chr(code))
        if runs and runs[-1][2] == category and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code, category])
    return tuple((a, b, c) for a, b, c in runs)


@functools.lru_cache(maxsize=None)
def _unicode_ranges(category: str) -> str:
    """Character-class text for a Unicode general category (`L`, `Nd`, ...): Python's `re` has no `\\p{..}`."""
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}"
                   for a, b, c in _categories() if c.startswith(category))


# Java/POSIX named classes the models use, as Python character-class text.
_POSIX_CLASSES = {"Alnum": "a-zA-Z0-9", "Alpha": "a-zA-Z", "Digit": "0-9", "Upper": "A-Z", "Lower": "a-z",
                  "ASCII": "\\x00-\\x7f", "Print": "\\x20-\\x7e", "Graph": "\\x21-\\x7e", "Space": " \\t\\n\\x0b\\f\\r",
                  "Punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")}


def _class_text(name: str) -> str:
    return _POSIX_CLASSES.get(name) or _unicode_ranges(name.removeprefix("Is"))


def _python_pattern(pattern: str) -> str:
    """A model's (Java-style) pattern as Python `re` text: `\\p{L}` and `\\p{Alnum}` spelled out as ranges."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            match = re.match(r"\\p\{(\w+)\}", pattern[i:])
            if match:
                text = _class_text(match.group(1))
                out.append(text if in_class else f"[{text}]")
                i += match.end()
                continue
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class and out and out[-1] != "[":
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=None)
def compiled_pattern(pattern: str) -> re.Pattern:
    # Callers match the whole value: AWS's request validation ("Member must satisfy regular expression pattern")
    # treats a model pattern as the value's full form (e.g. IAM rejects "role!" against `[\w+=,.@-]+`), which a
    # search would accept. ASCII: Java's `\w` and `\d` (what the patterns are written for) are ASCII-only.
    return re.compile(_python_pattern(pattern), re.ASCII | re.DOTALL)


# --- mapping a resource type to its API ------------------------------------------------------------------------

Alias = Union[str, None, Mapping[str, Any]]


@dataclass(frozen=True)
class Api:
    """A resource type's inputs are the members of these input shapes of `service` (first shape wins).

    `aliases` maps an input name (camelCase, as recorded) to where it goes when its name is not the member's name
    case-insensitively: a member name of the shapes; "@Shape" to check it against a named shape of the service;
    None for an input with no API counterpart worth checking; or a mapping, meaning the input is a nested object
    whose own fields are members of the *same* shapes (e.g. a target group's `healthCheck.path` is
    `HealthCheckPath`), with its own aliases. `nested` does the same for nested shapes, keyed by shape name.
    `json_inputs` hold JSON text (e.g. ECS container definitions) whose decoded value is checked.
    `name_input` is the input holding the resource's physical name: when the program leaves it out, Pulumi's
    auto-name (what the recording's outputs hold) is what AWS receives, and that is what gets checked.
    """
    service: str
    shapes: tuple[str, ...]
    aliases: Mapping[str, Alias] = field(default_factory=dict)
    nested: Mapping[str, Mapping[str, Alias]] = field(default_factory=dict)
    json_inputs: frozenset = frozenset()
    name_input: Optional[str] = None


def unchecked(*inputs: str) -> dict[str, None]:
    """Aliases for inputs with no API member to check (attributes sent as key/value text, provider-side knobs)."""
    return dict.fromkeys(inputs)


def api(service: str, *shapes: str, nested: Optional[Mapping[str, Mapping[str, Alias]]] = None,
        json_inputs: Iterable[str] = (), name_input: Optional[str] = None, **aliases: Alias) -> Api:
    """One-line mapping: `api("rds", "CreateDBInstanceMessage", identifier="DBInstanceIdentifier")`."""
    return Api(service, tuple(shapes), aliases, nested or {}, frozenset(json_inputs), name_input)


@dataclass(frozen=True)
class NoApiRules:
    """A resource type that has no API-side rule to check, and why (a reason is required)."""
    reason: str

    def __post_init__(self) -> None:
        if len(self.reason.strip()) < 20:
            raise ValueError("NoApiRules needs a reason that says why nothing AWS checks applies")


Mapping_ = Union[Api, NoApiRules]

# Inputs every pulumi-aws resource may carry that are the provider's, not the API's (tags have a DocRule).
PROVIDER_ONLY_INPUTS = frozenset({"tags", "tagsAll", "region", "__defaults", "namePrefix"})
# What the provider appends to a `namePrefix` (terraform's PrefixedUniqueId: 26 digits).
UNIQUE_SUFFIX = "0" * 26


# --- walking inputs against shapes -----------------------------------------------------------------------------

@dataclass
class _Walk:
    urn: str
    service: str
    nested_aliases: Mapping[str, Mapping[str, Alias]]
    findings: list[Finding] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)  # input paths that matched no member and have no alias

    def fail(self, path: str, shape_name: str, rule: str, value: Any) -> None:
        self.findings.append(Finding(self.urn, path, f"{self.service} {shape_name}: {rule}", value))

    def value(self, shape: Shape, value: Any, path: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if isinstance(value, Unknown) or value is None:
            return
        kind = shape.type_name
        if kind == "structure":
            if isinstance(value, dict):
                self.structure((shape,), value, path, self.nested_aliases.get(shape.name, {}))
            elif isinstance(value, list):  # the provider spells a single block as a list of one
                for index, item in enumerate(value):
                    self.value(shape, item, f"{path}[{index}]")
        elif kind == "list":
            if isinstance(value, dict):  # the provider flattens a one-item block: the item itself
                value = [value]
            if isinstance(value, list):
                self.bounds(shape, len(value), path, "items", value)
                for index, item in enumerate(value):
                    self.value(shape.member, item, f"{path}[{index}]")
        elif kind == "map":
            if isinstance(value, dict):
                self.bounds(shape, len(value), path, "entries", value)
                for key, item in value.items():
                    self.value(shape.key, key, f"{path}.<key {key}>")
                    self.value(shape.value, item, f"{path}.{key}")
        elif kind == "string":
            if isinstance(value, str):
                self.string(shape, value, path)
        elif kind in NUMERIC:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.bounds(shape, value, path, "", value)

    def string(self, shape: Shape, value: str, path: str) -> None:
        if shape.enum and value not in shape.enum:
            self.fail(path, shape.name, f"one of {sorted(shape.enum)}", value)
        self.bounds(shape, len(value), path, "characters", value)
        pattern = shape.metadata.get("pattern")
        if pattern and compiled_pattern(pattern).fullmatch(value) is None:
            self.fail(path, shape.name, f"matches {pattern}", value)

    def bounds(self, shape: Shape, measured: float, path: str, unit: str, value: Any) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and measured < low) or (high is not None and measured > high):
            limits = f"at least {low}" if high is None else f"at most {high}" if low is None else f"{low} to {high}"
            self.fail(path, shape.name, f"{limits}{' ' + unit if unit else ''}, got {measured}", value)

    def structure(self, shapes: tuple[Shape, ...], value: dict, path: str, aliases: Mapping[str, Alias],
                  skip: frozenset = frozenset()) -> None:
        by_name = {}
        for shape in reversed(shapes):
            by_name.update({name.lower(): (name, member, shape) for name, member in shape.members.items()})
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key in skip:
                continue
            alias = aliases.get(key, key) if key in aliases else key
            if alias is None:
                continue
            if isinstance(alias, Mapping):
                if isinstance(item, dict):
                    self.structure(shapes, item, where, alias)
                continue
            if alias.startswith("@"):
                self.value(shape_of(self.service, alias[1:]), item, where)
                continue
            found = by_name.get(alias.lower())
            if found is None:
                self.unplaced.append(where)
            else:
                self.value(found[1], item, where)


def check_api(resource: RecordedResource, mapping: Api) -> list[Finding]:
    return _walk_api(resource, mapping).findings


def unaccounted_inputs(resource: RecordedResource, mapping: Api) -> list[str]:
    """Input paths (nested ones too) that match no member of the shapes and have no alias: map or alias them,
    else the model's rules silently skip them."""
    return sorted(_walk_api(resource, mapping).unplaced)


def _walk_api(resource: RecordedResource, mapping: Api) -> _Walk:
    walk = _Walk(resource.urn, mapping.service, mapping.nested)
    shapes = tuple(shape_of(mapping.service, name) for name in mapping.shapes)
    inputs = dict(resource.inputs)
    if mapping.name_input and mapping.name_input not in inputs:
        prefix = inputs.get("namePrefix")
        inputs[mapping.name_input] = prefix + UNIQUE_SUFFIX if isinstance(prefix, str) else \
            physical_name(resource, mapping.name_input)
    for key in mapping.json_inputs:
        text = inputs.get(key)
        if isinstance(text, Secret):
            text = text.reveal()
        if isinstance(text, str):
            inputs[key] = json.loads(text)
    walk.structure(shapes, inputs, "", mapping.aliases, skip=PROVIDER_ONLY_INPUTS)
    return walk


def physical_name(resource: RecordedResource, key: str = "name") -> Any:
    """The name AWS receives: the given one, else Pulumi's auto-name (logical name + '-' + 7 characters)."""
    given = resource.inputs.get(key)
    if given is not None:
        return given
    return resource.outputs.get(key) or autoname(resource.name, resource.urn)


# --- rules from AWS's documentation ----------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckContext:
    """What a rule may need beyond the resource: the recording (for providers' default tags)."""
    recording: Optional[Recording] = None

    def default_tags(self, resource: RecordedResource) -> dict[str, Any]:
        """The default tags of the provider the resource is created with (AWS counts the merged set)."""
        if self.recording is None or not resource.provider:
            return {}
        provider_urn = resource.provider.rsplit("::", 1)[0]
        try:
            provider = self.recording.by_urn(provider_urn)
        except KeyError:
            return {}
        return provider_default_tags(provider)


def provider_default_tags(provider: RecordedResource) -> dict[str, Any]:
    """An aws Provider's `defaultTags.tags` (the engine passes provider inputs as JSON text)."""
    raw = provider.inputs.get("defaultTags")
    if isinstance(raw, Secret):
        raw = raw.reveal()
    if isinstance(raw, str):
        raw = json.loads(raw) if raw else {}
    tags = (raw or {}).get("tags") if isinstance(raw, dict) else None
    return dict(tags or {})


Check = Callable[[RecordedResource, CheckContext], Iterable[tuple[str, Any, str]]]


@dataclass(frozen=True)
class DocRule:
    """A rule AWS documents but its service model does not carry. `check` yields (input path, value, problem)."""
    name: str
    types: frozenset
    source: str
    check: Check

    def findings(self, resource: RecordedResource, context: CheckContext) -> list[Finding]:
        return [Finding(resource.urn, path, f"{self.name}: {problem} ({self.source})", value)
                for path, value, problem in self.check(resource, context)]


def mapping_problems(mapping: Api) -> list[str]:
    """What in a mapping names nothing in the service model (a typo would silently check nothing)."""
    model = service_model(mapping.service)
    problems = [f"{mapping.service} has no shape {name}" for name in mapping.shapes if name not in model.shape_names]
    if problems:
        return problems
    shapes = [model.shape_for(name) for name in mapping.shapes]

    def alias_problems(members: set[str], aliases: Mapping[str, Alias], where: str) -> list[str]:
        found = []
        for key, target in aliases.items():
            if target is None:
                continue
            if isinstance(target, Mapping):
                found.extend(alias_problems(members, target, f"{where}.{key}"))
            elif target.startswith("@"):
                if target[1:] not in model.shape_names:
                    found.append(f"{where}.{key}: {mapping.service} has no shape {target[1:]}")
            elif target.lower() not in members:
                found.append(f"{where}.{key}: no member {target} in {'/'.join(s.name for s in shape_list)}")
        return found

    shape_list = shapes
    problems.extend(alias_problems({m.lower() for s in shapes for m in s.members}, mapping.aliases, "aliases"))
    for shape_name, aliases in mapping.nested.items():
        if shape_name not in model.shape_names:
            problems.append(f"nested: {mapping.service} has no shape {shape_name}")
            continue
        shape_list = [model.shape_for(shape_name)]
        problems.extend(alias_problems({m.lower() for m in shape_list[0].members}, aliases, f"nested.{shape_name}"))
    return problems


def reachable_patterns(mapping: Api) -> set[str]:
    """Every pattern of every shape reachable from the mapping's input shapes (nested members included)."""
    seen: set[str] = set()
    patterns: set[str] = set()
    pending = [shape_of(mapping.service, name) for name in mapping.shapes]
    pending += [shape_of(mapping.service, target[1:]) for target in mapping.aliases.values()
                if isinstance(target, str) and target.startswith("@")]
    while pending:
        shape = pending.pop()
        if shape.name in seen:
            continue
        seen.add(shape.name)
        if shape.metadata.get("pattern"):
            patterns.add(shape.metadata["pattern"])
        if shape.type_name == "structure":
            pending.extend(shape.members.values())
        elif shape.type_name == "list":
            pending.append(shape.member)
        elif shape.type_name == "map":
            pending.extend((shape.key, shape.value))
    return patterns
