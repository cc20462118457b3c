"""The whole stack configuration, read from Pulumi config into one validated object."""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, TypeVar

from pydantic import BaseModel

from .audit import AuditSettings
from .base import AWS_ACCOUNT_ID, CONFIG_NAMESPACE, SettingsError, SettingsModel, unparsed
from .common import ExtraTags, KeySettings, LogSettings, Tier
from .limits import principal_pattern_problems, tag_count_problems
from .parsing import parse_section
from .references import reference_problems
from .regions import check_region, partition_of
from .database import DatabaseSettings
from .edge import LoadBalancerSettings
from .network import NetworkSettings
from .app import AppSettings
from .secrets import ApiKeysSettings, SecretsSettings, WebhooksSettings

ENVIRONMENT_NAME_MAX = 12  # keeps every derived AWS name (ALB: 32 chars) within its limit
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Section:
    """A `securestack:<key>` config entry and the model it is validated with."""

    key: str
    field: str
    model: type[BaseModel]


# Each component's settings register here; keys are the camelCase names in Pulumi.<stack>.yaml.
SECTIONS: tuple[Section, ...] = (
    Section("network", "network", NetworkSettings),
    Section("keys", "keys", KeySettings),
    Section("logs", "logs", LogSettings),
    Section("database", "database", DatabaseSettings),
    Section("audit", "audit", AuditSettings),
    Section("loadBalancer", "load_balancer", LoadBalancerSettings),
    Section("secrets", "secrets", SecretsSettings),
    Section("apiKeys", "api_keys", ApiKeysSettings),
    Section("webhooks", "webhooks", WebhooksSettings),
    Section("app", "app", AppSettings),
)
SCALAR_KEYS = ("tier", "tags")
AWS_KEYS = ("aws:region", "aws:allowedAccountIds")
# How infra.stack_config hands a `secure:` value to the program offline (the engine decrypts it instead).
SECRET_PLACEHOLDER = "[secret]"


class StackSettings(SettingsModel):
    project: str
    environment: str
    tier: Tier
    region: str
    allowed_account_ids: tuple[str, ...]
    tags: dict[str, str]
    network: NetworkSettings
    keys: KeySettings
    logs: LogSettings
    database: DatabaseSettings
    audit: AuditSettings
    load_balancer: LoadBalancerSettings
    secrets: SecretsSettings
    api_keys: ApiKeysSettings
    webhooks: WebhooksSettings
    app: AppSettings

    @property
    def is_production(self) -> bool:
        return self.tier is Tier.PRODUCTION

    def base_tags(self) -> dict[str, str]:
        """Tags every resource carries; `securestack:env` is also what the rotators and policies read."""
        return {**self.tags, "securestack:env": self.environment, "managed-by": "pulumi",
                "securestack:project": self.project}


def _decode(raw: Optional[str]) -> Any:
    """Pulumi hands structured config to the program as JSON text; scalars as plain text."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, json.JSONDecodeError):
        return raw


_Section = TypeVar("_Section", bound=BaseModel)  # the model a section validates into


class _Collector:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.unparsed: set[str] = set()  # key paths of values pass 1 could not parse (pass 2 skips rules on them)

    def add(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def validate(self, model: type[_Section], value: Any, key: str, context: dict[str, Any]) -> Optional[_Section]:
        # A section is a mapping of settings, or a list where its model says so (apiKeys: a list of keys).
        expected = getattr(model, "config_type", dict)
        if value is None:
            value = getattr(model, "absent_config", expected)()
        if not isinstance(value, expected):
            shape = "a list of entries" if expected is list else "a mapping of settings"
            self.add(key, f"must be {shape}, got {type(value).__name__}")
            self.unparsed.add(key)
            return None
        parsed = parse_section(model, value, key, context)
        self.problems += parsed.problems
        self.unparsed |= parsed.unparsed
        if parsed.value is None:
            self.unparsed.add(key)
        return parsed.value


def _namespaced(key: str) -> str:
    return f"{CONFIG_NAMESPACE}:{key}"


def _read_environment(stack: str, collector: _Collector) -> str:
    # ASCII only, no '--' and no trailing '-': RDS identifiers (securestack-<env>-postgres) refuse them.
    if len(stack) > ENVIRONMENT_NAME_MAX or not ENVIRONMENT_NAME.fullmatch(stack):
        collector.add("stack name", f"'{stack}' must be 1-{ENVIRONMENT_NAME_MAX} lowercase letters, digits or single "
                                    "'-' between them, starting with a letter (it is part of every AWS name)")
    return stack


def _read_tier(config: Mapping[str, str], collector: _Collector) -> Optional[Tier]:
    raw = config.get(_namespaced("tier"))
    if raw is None:
        if _namespaced("tier") not in collector.unparsed:
            collector.add(_namespaced("tier"), "required key is missing (production or non-production)")
        return None
    try:
        return Tier(raw)
    except ValueError:
        collector.add(_namespaced("tier"), f"'{raw}' must be 'production' or 'non-production'")
        return None


def _read_aws(config: Mapping[str, Any], collector: _Collector) -> tuple[Optional[str], tuple[str, ...]]:
    region = config.get("aws:region")
    if region is None:
        if "aws:region" not in collector.unparsed:
            collector.add("aws:region", "required key is missing")
    elif not isinstance(region, str):
        collector.add("aws:region", f"must be a region name, got {type(region).__name__}")
        region = None
    else:
        try:
            check_region(region)
        except ValueError as error:
            collector.add("aws:region", str(error))
            region = None  # checks that compare with the region (certificate, copy region) would only echo this
    accounts = config.get("aws:allowedAccountIds")
    if accounts is None:
        if "aws:allowedAccountIds" not in collector.unparsed:
            collector.add("aws:allowedAccountIds", "required key is missing: name the account(s) this stack may touch")
        return region, ()
    if not isinstance(accounts, list) or not accounts:
        collector.add("aws:allowedAccountIds", "must be a non-empty list of 12-digit account ids")
        return region, ()
    for index, account in enumerate(accounts):
        if not isinstance(account, str) or not AWS_ACCOUNT_ID.match(account):
            collector.add(f"aws:allowedAccountIds[{index}]", f"'{account}' is not a 12-digit account id (quote it)")
    return region, tuple(str(a) for a in accounts)


def _unknown_keys(config: Mapping[str, Any], collector: _Collector) -> None:
    known = {_namespaced(s.key) for s in SECTIONS} | {_namespaced(k) for k in SCALAR_KEYS}
    for key in config:
        if key.startswith(f"{CONFIG_NAMESPACE}:") and key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            collector.add(key, f"unknown key; {hint}known keys: {', '.join(sorted(known))}")


def _read_keys(key: str) -> bool:
    """Whether settings read this config key (and so need its value in plain text)."""
    return key.startswith(f"{CONFIG_NAMESPACE}:") or key in AWS_KEYS


def _secret_paths(value: Any, path: str) -> list[str]:
    """Paths of the `secure:` values (masked as SECRET_PLACEHOLDER by infra.stack_config) inside a value."""
    if value == SECRET_PLACEHOLDER:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _secret_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        # one secret item makes the list unreadable as a whole: report the item, prune the list
        return [path] if any(_secret_paths(v, "") for v in value) else []
    return []


def _without_secrets(decoded: dict[str, Any], secret_keys: Iterable[str], collector: _Collector) -> dict[str, Any]:
    """The config without the `secure:` values settings would have to read: each reported (a secret cannot be
    checked, and names and sizes end up in plain resource properties) and left out, so that rules reading it are
    skipped rather than fed '[secret]'."""
    secret = set(secret_keys)
    cleaned = dict(decoded)
    for key, value in decoded.items():
        if not _read_keys(key):
            continue
        paths = [key] if key in secret else _secret_paths(value, key)
        for path in paths:
            collector.add(path, "must not be a secret (secure:): settings read this value to check it and to name "
                                "and size resources; write it in plain text")
            collector.unparsed.add(path)
            cleaned[key] = _removed(cleaned[key], path[len(key):]) if path != key else None
        if cleaned.get(key, value) is None:
            cleaned.pop(key, None)
    return cleaned


def _removed(value: Any, tail: str) -> Any:
    """A copy of `value` without the nested value at `tail` (`.a.b`, the keys of the mappings down to it)."""
    parts = tail.lstrip(".").split(".")
    copied = json.loads(json.dumps(value))
    container = copied
    for part in parts[:-1]:
        container = container[part]
    container.pop(parts[-1], None)
    return copied


def _file_positions(decoded: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """{key path: (first, last) position} of every value in file order (the config map keeps the file's order, the
    JSON of a structured value its own), for listing problems as the file reads."""
    positions: dict[str, tuple[int, int]] = {}
    counter = iter(range(1 << 30))

    def visit(value: Any, path: str) -> int:
        first = last = next(counter)
        if isinstance(value, dict):
            for k, item in value.items():
                last = visit(item, f"{path}.{k}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                last = visit(item, f"{path}[{index}]")
        positions[path] = (first, last)
        return last

    for key, value in decoded.items():
        visit(value, key)
    return positions


def _in_file_order(problems: list[str], positions: dict[str, tuple[int, int]]) -> list[str]:
    """Problems sorted by where their key is in the file; a problem of a whole mapping, and a key the file lacks
    (a missing required one), right after what the mapping (its nearest written parent) holds; the stack name
    first, keys without a written parent last."""
    def place(problem: str) -> tuple[float, ...]:
        path = problem.split(": ", 1)[0]
        if path == "stack name":
            return (-1.0,)
        if path in positions:
            first, last = positions[path]
            # a problem of a mapping or list as a whole (a model rule) reads after what it holds
            return (float(first),) if first == last else (last + 0.5,)
        parent = path
        while True:
            cut = max(parent.rfind("."), parent.rfind("["))
            if cut <= parent.find(":"):
                return (float("inf"),)
            parent = parent[:cut]
            if parent in positions:
                return (positions[parent][1] + 0.5,)
    return sorted(problems, key=place)


def _decoded_config(config: Mapping[str, str]) -> dict[str, Any]:
    # aws:region and securestack:tier are text; structured values are JSON text (Pulumi hands them so).
    return {key: raw if key in ("aws:region", _namespaced("tier")) else _decode(raw) for key, raw in config.items()}


def build_settings(config: Mapping[str, str], stack: str, project: str = CONFIG_NAMESPACE,
                   secret_keys: Iterable[str] = (), environments: Iterable[str] = ()) -> StackSettings:
    """Validates a flat Pulumi config map (`namespace:key` -> text) into StackSettings or raises SettingsError.

    Pass 1 validates every field of every section and collects every problem; pass 2 runs every rule that spans
    fields, sections and the tier on whatever parsed (a rule whose inputs did not parse is skipped, not the rest).
    `secret_keys`: the config keys given `secure:` (the engine decrypts them; infra.stack_config masks them);
    `environments`: the project's other stacks (its Pulumi.<stack>.yaml files), whose names this one may not use.
    Problems are listed in the file's order.
    """
    collector = _Collector()
    decoded = _without_secrets(_decoded_config(config), secret_keys, collector)
    _unknown_keys(decoded, collector)
    environment = _read_environment(stack, collector)
    tier = _read_tier(decoded, collector)
    region, accounts = _read_aws(decoded, collector)
    # Sections see the account list only when it is valid: a bad one is reported under aws:allowedAccountIds alone.
    valid_accounts = accounts if all(AWS_ACCOUNT_ID.match(a) for a in accounts) else ()
    context: dict[str, Any] = {"environment": environment, "tier": tier, "region": region,
                               "allowed_account_ids": valid_accounts}
    tags = collector.validate(ExtraTags, decoded.get(_namespaced("tags")) or {}, _namespaced("tags"), context)
    # StackSettings field -> its validated section (None where nothing of it parsed; then a problem was collected).
    sections: dict[str, Any] = {}
    for section in SECTIONS:
        key = _namespaced(section.key)
        sections[section.field] = collector.validate(section.model, decoded.get(key), key, context)
    # -- pass 2: on whatever parsed ------------------------------------------------------------------------------
    context["unparsed"] = frozenset(collector.unparsed)
    for key, message in _second_pass(sections, tags, decoded, context, tier, environments):
        if not unparsed(context, key):  # a rule about a value that did not parse would judge its default
            collector.add(key, message)
    if collector.problems:
        raise SettingsError(_in_file_order(collector.problems, _file_positions(decoded)))
    # Each of these is None only after a problem was collected (raised just above).
    assert tier is not None and region is not None and tags is not None
    return StackSettings(project=project, environment=environment, tier=tier, region=region,
                         allowed_account_ids=accounts, tags=tags.root, **sections)


def _second_pass(sections: dict[str, Any], tags: Optional[ExtraTags], decoded: Mapping[str, Any],
                 context: dict[str, Any], tier: Optional[Tier], environments: Iterable[str]
                 ) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if tier is Tier.PRODUCTION:
        for section in SECTIONS:
            value = sections[section.field]
            for field, message in getattr(value, "production_problems", lambda: [])():
                problems.append((f"{_namespaced(section.key)}.{field}", message))
    for section in SECTIONS:
        cross_check = getattr(sections[section.field], "cross_section_problems", None)
        if cross_check is not None:
            problems += cross_check(sections, context)
    if tags is not None:
        problems += tag_count_problems(tags.root)
    environment, region, accounts = context["environment"], context["region"], context["allowed_account_ids"]
    partition = partition_of(region) if region else None
    problems += principal_pattern_problems(sections, environment, region, partition, accounts)
    problems += reference_problems(
        ((key, value) for key, value in decoded.items() if key.startswith(f"{CONFIG_NAMESPACE}:")), environment,
        {*environments, *_declared_source(decoded)} - {environment}, accounts, region, partition)
    return _first_per_key(problems)


def _declared_source(decoded: Mapping[str, Any]) -> list[str]:
    """A restore stack's source environment: its names are another environment's even without its stack file."""
    database = decoded.get(_namespaced("database"))
    restore = database.get("restore") if isinstance(database, dict) else None
    source = restore.get("sourceEnvironment") if isinstance(restore, dict) else None
    return [source] if isinstance(source, str) else []


def _first_per_key(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One problem per key from pass 2: a section's own check and the generic reference checks may both see a
    role of another account; the section's (first) says it in its own terms."""
    seen: set[str] = set()
    kept = []
    for key, message in problems:
        if key not in seen:
            seen.add(key)
            kept.append((key, message))
    return kept


def load_settings() -> StackSettings:
    """Reads the running program's config (real engine or the recording engine) before any resource exists."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    config = current_config()
    # The engine decrypts `secure:` values and names their keys (set_all_config, or PULUMI_CONFIG_SECRET_KEYS).
    secret_keys = {key for key in config if runtime_config.is_config_secret(key)}
    secret_keys |= set(runtime_config.get_config_secret_keys_env())
    return build_settings(config, pulumi.get_stack(), pulumi.get_project(), secret_keys=secret_keys,
                          environments=project_environments())


def project_environments() -> list[str]:
    """The project's stacks (its Pulumi.<stack>.yaml files), found from the current directory as the Pulumi CLI
    and the policy pack find them; none outside a project."""
    from securestack.infra.stack_config import StackConfigError, available_stacks

    try:
        return available_stacks()
    except (StackConfigError, OSError):
        return []


def current_config() -> dict[str, str]:
    """Every config entry of the running program: the engine passes them through PULUMI_CONFIG or set_all_config."""
    from pulumi.runtime import config as runtime_config

    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return {key: value for key, value in merged.items()}
