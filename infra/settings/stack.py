"""The whole stack configuration, read from Pulumi config into one validated object."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, TypeVar

from pydantic import BaseModel, ValidationError

from .audit import AuditSettings
from .base import AWS_ACCOUNT_ID, CONFIG_NAMESPACE, SettingsError, SettingsModel, problems_from
from .common import ExtraTags, KeySettings, LogSettings, Tier, check_region
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
            return None
        try:
            # Strict, from the JSON the engine hands over: `true` is no retention and "yes" no boolean
            # (lax parsing turned `backupRetentionDays: true` into 1 and `multiAz: "no"` into False).
            return model.model_validate_json(json.dumps(value), strict=True, context=context)
        except ValidationError as error:
            self.problems.extend(problems_from(error, key))
            return None


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
        collector.add(_namespaced("tier"), "required key is missing (production or non-production)")
        return None
    try:
        return Tier(raw)
    except ValueError:
        collector.add(_namespaced("tier"), f"'{raw}' must be 'production' or 'non-production'")
        return None


def _read_aws(config: Mapping[str, str], collector: _Collector) -> tuple[Optional[str], tuple[str, ...]]:
    region = config.get("aws:region")
    if region is None:
        collector.add("aws:region", "required key is missing")
    else:
        try:
            check_region(region)
        except ValueError as error:
            collector.add("aws:region", str(error))
            region = None  # checks that compare with the region (certificate, copy region) would only echo this
    accounts = _decode(config.get("aws:allowedAccountIds"))
    if accounts is None:
        collector.add("aws:allowedAccountIds", "required key is missing: name the account(s) this stack may touch")
        return region, ()
    if not isinstance(accounts, list) or not accounts:
        collector.add("aws:allowedAccountIds", "must be a non-empty list of 12-digit account ids")
        return region, ()
    for index, account in enumerate(accounts):
        if not isinstance(account, str) or not AWS_ACCOUNT_ID.match(account):
            collector.add(f"aws:allowedAccountIds[{index}]", f"'{account}' is not a 12-digit account id (quote it)")
    return region, tuple(str(a) for a in accounts)


def _unknown_keys(config: Mapping[str, str], collector: _Collector) -> None:
    known = {_namespaced(s.key) for s in SECTIONS} | {_namespaced(k) for k in SCALAR_KEYS}
    for key in config:
        if key.startswith(f"{CONFIG_NAMESPACE}:") and key not in known:
            collector.add(key, f"unknown key; known keys: {', '.join(sorted(known))}")


def build_settings(config: Mapping[str, str], stack: str, project: str = CONFIG_NAMESPACE) -> StackSettings:
    """Validates a flat Pulumi config map (`namespace:key` -> text) into StackSettings or raises SettingsError."""
    collector = _Collector()
    _unknown_keys(config, collector)
    environment = _read_environment(stack, collector)
    tier = _read_tier(config, collector)
    region, accounts = _read_aws(config, collector)
    # Sections see the account list only when it is valid: a bad one is reported under aws:allowedAccountIds alone.
    valid_accounts = accounts if all(AWS_ACCOUNT_ID.match(a) for a in accounts) else ()
    context = {"environment": environment, "tier": tier, "region": region, "allowed_account_ids": valid_accounts}
    tags = collector.validate(ExtraTags, _decode(config.get(_namespaced("tags"))) or {}, _namespaced("tags"), context)
    # StackSettings field -> its validated section (None where invalid, and then a problem was collected).
    sections: dict[str, Any] = {}
    for section in SECTIONS:
        key = _namespaced(section.key)
        sections[section.field] = collector.validate(section.model, _decode(config.get(key)), key, context)
    if tier is Tier.PRODUCTION:
        for section in SECTIONS:
            value = sections[section.field]
            for field, message in getattr(value, "production_problems", lambda: [])():
                collector.add(f"{_namespaced(section.key)}.{field}", message)
    for section in SECTIONS:
        cross_check = getattr(sections[section.field], "cross_section_problems", None)
        if cross_check is not None:
            for key, message in cross_check(sections, context):
                collector.add(key, message)
    if collector.problems:
        raise SettingsError(collector.problems)
    # Each of these is None only after a problem was collected (raised just above).
    assert tier is not None and region is not None and tags is not None
    return StackSettings(project=project, environment=environment, tier=tier, region=region,
                         allowed_account_ids=accounts, tags=tags.root, **sections)


def load_settings() -> StackSettings:
    """Reads the running program's config (real engine or the recording engine) before any resource exists."""
    import pulumi

    return build_settings(current_config(), pulumi.get_stack(), pulumi.get_project())


def current_config() -> dict[str, str]:
    """Every config entry of the running program: the engine passes them through PULUMI_CONFIG or set_all_config."""
    from pulumi.runtime import config as runtime_config

    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return {key: value for key, value in merged.items()}
