"""Secrets settings: scoped API keys (`apiKeys`), webhook signing secrets (`webhooks`) and who may read them
(`secrets`: the named consumers, recovery window, rotators' optional reserved concurrency).

A consumer is a named principal that reads a secret's value: an IAM role of this account declared under
`securestack:secrets.consumers` (a key's callers, a webhook's receivers) or, for webhooks only, `app` (the app
service of this stack, internet-facing behind the load balancer, which signs with the webhook secret). Each
secret's resource policy denies reads to everyone else.

The app is never a consumer of a self-issued API key: it verifies keys from the SHA-256 digests in their verifier
records (`securestack/<env>/api-key-verifiers/<name>`) and never holds a key value (`app.verifiesApiKeys` says
which keys it verifies).
"""
from __future__ import annotations

import re
from typing import Any, ClassVar, Optional

from pydantic import ConfigDict, Field, PrivateAttr, RootModel, ValidationInfo, field_validator

# The naming and tagging rules are the secrets component's; the settings check them at their config keys.
from securestack.components.secrets import (DEFAULT_PREVIOUS_GRACE_DAYS, MAX_PREVIOUS_GRACE_DAYS,  # noqa: F401
                                            MAX_ROTATION_DAYS, SCOPE, SECRET_NAME, SECRET_NAME_MAX, TAG_VALUE_MAX,
                                            WILDCARD_SCOPE, WILDCARD_SCOPE_TAG, scope_tag)

from .base import CONFIG_NAMESPACE, SettingsModel, unique, unparsed
from .common import Tier

APP_CONSUMER = "app"  # the app service of this stack: internet-facing (behind the load balancer)
PRODUCTION_RECOVERY_WINDOW_DAYS = 30
CONSUMER_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,512}$")
APP_NEVER_HOLDS_A_KEY = (f"'{APP_CONSUMER}' cannot be a consumer of a self-issued API key: the app verifies keys from "
                         "their digests (verifier records) and never holds a key value; list the key under "
                         f"{CONFIG_NAMESPACE}:app.verifiesApiKeys (default: every key) and name its callers "
                         f"(roles under {CONFIG_NAMESPACE}:secrets.consumers) as consumers")


def _secret_name(value: str) -> str:
    if len(value) > SECRET_NAME_MAX or not SECRET_NAME.match(value):
        raise ValueError(f"'{value}' must be 1-{SECRET_NAME_MAX} lowercase letters, digits or single '-' between "
                         "them, starting with a letter")
    return value


def _consumer_names(values: list[str]) -> list[str]:
    return unique(values, "consumers")


class ApiKeySettings(SettingsModel):
    """One scoped API key: its own secret, rotated by the api-key rotator."""

    name: str
    scopes: list[str] = Field(min_length=1)
    consumers: list[str] = []
    # Marks a key for internal tools only: the one kind that may carry the wildcard scope.
    internal: bool = False
    rotation_days: int = Field(MAX_ROTATION_DAYS, ge=1, le=MAX_ROTATION_DAYS)
    previous_grace_days: int = Field(DEFAULT_PREVIOUS_GRACE_DAYS, ge=0, le=MAX_PREVIOUS_GRACE_DAYS)
    description: Optional[str] = None

    _name = field_validator("name")(_secret_name)
    _consumers = field_validator("consumers")(_consumer_names)

    @field_validator("consumers")
    @classmethod
    def _not_the_app(cls, consumers: list[str]) -> list[str]:
        if APP_CONSUMER in consumers:
            raise ValueError(APP_NEVER_HOLDS_A_KEY)
        return consumers

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, scopes: list[str]) -> list[str]:
        for scope in scopes:
            if scope != WILDCARD_SCOPE and not SCOPE.match(scope):
                raise ValueError(f"'{scope}' is not a scope: use resource:action (e.g. products:read) or '*'")
        if WILDCARD_SCOPE in scopes and len(scopes) > 1:
            raise ValueError("'*' already grants every scope: list it alone")
        unique(scopes, "scopes")
        if len(scope_tag(scopes)) > TAG_VALUE_MAX:
            raise ValueError(f"too many scopes: their tag value would exceed {TAG_VALUE_MAX} characters")
        return scopes

    @field_validator("description")
    @classmethod
    def _description(cls, value: Optional[str]) -> Optional[str]:
        return _checked_description(value)

    @property
    def wildcard(self) -> bool:
        return WILDCARD_SCOPE in self.scopes


class WebhookSettings(SettingsModel):
    """One webhook signing secret: its own secret, rotated by the webhook rotator."""

    name: str
    consumers: list[str] = []
    rotation_days: int = Field(MAX_ROTATION_DAYS, ge=1, le=MAX_ROTATION_DAYS)
    previous_grace_days: int = Field(DEFAULT_PREVIOUS_GRACE_DAYS, ge=0, le=MAX_PREVIOUS_GRACE_DAYS)
    description: Optional[str] = None

    _name = field_validator("name")(_secret_name)
    _consumers = field_validator("consumers")(_consumer_names)

    @field_validator("description")
    @classmethod
    def _description(cls, value: Optional[str]) -> Optional[str]:
        return _checked_description(value)


def _checked_description(value: Optional[str]) -> Optional[str]:
    if value is not None and len(value) > 200:
        raise ValueError("must be at most 200 characters")
    return value


# BareCommerce's key table: separate keys per purpose with the fewest scopes, admin keys for internal tools only.
# Its callers (storefront, checkout service, warehouse sync, internal tools) are roles each stack declares under
# `secrets.consumers`: without them, the default keys are read by their rotator alone and verified by the app.
DEFAULT_API_KEYS: tuple[dict[str, Any], ...] = (
    {"name": "storefront-read", "scopes": ["products:read", "categories:read"], "consumers": [],
     "description": "Public storefront display"},
    {"name": "checkout", "scopes": ["orders:write", "customers:write"], "consumers": [],
     "description": "Process customer orders"},
    {"name": "inventory-sync", "scopes": ["products:read", "products:write"], "consumers": [],
     "description": "Warehouse integration"},
    {"name": "admin-full", "scopes": [WILDCARD_SCOPE], "internal": True, "consumers": [],
     "description": "Dashboard, internal tools only"},
)
DEFAULT_WEBHOOKS: tuple[dict[str, Any], ...] = (
    {"name": "order-events", "consumers": [APP_CONSUMER], "description": "Signs order event webhooks"},
)


class _NamedEntries(RootModel[list[Any]]):  # each subclass declares its entries' model as `root`
    """A config section that is a list of named entries (`securestack:apiKeys: [...]`)."""

    model_config = ConfigDict(frozen=True)
    config_type: ClassVar[type] = list  # read by the settings collector: this section is a list, not a mapping
    section_key: ClassVar[str] = ""
    # The file index of each entry when some did not parse (settings/parsing.py leaves them out): problems name
    # the entry as written (`apiKeys[3]`), not its place among those left.
    _source_indices: tuple[int, ...] = PrivateAttr(default=())

    def file_index(self, index: int) -> int:
        return self._source_indices[index] if self._source_indices else index

    def entries_complete(self) -> bool:
        """Whether every entry of the file parsed (a name missing from the list may be one that did not)."""
        return not self._source_indices

    def names(self) -> list[str]:
        return [entry.name for entry in self.root]

    def by_name(self, name: str) -> Any:
        return next(entry for entry in self.root if entry.name == name)

    def cross_section_problems(self, sections: dict[str, Any], context: dict[str, Any]) -> list[tuple[str, str]]:
        problems = self._duplicate_problems()
        secrets_settings = sections.get("secrets")
        if secrets_settings is not None:
            problems += self._consumer_problems(secrets_settings, context)
        return problems

    def _key(self, index: int, field: str) -> str:
        """The key path of entry `index` (its place in `root`) as the file has it."""
        return f"{CONFIG_NAMESPACE}:{self.section_key}[{self.file_index(index)}].{field}"

    def _duplicate_problems(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        first_index: dict[str, int] = {}
        for index, entry in enumerate(self.root):
            if entry.name in first_index:
                problems.append((self._key(index, "name"), f"duplicate name '{entry.name}' (also "
                                 f"{self.section_key}[{self.file_index(first_index[entry.name])}])"))
            first_index.setdefault(entry.name, index)
        return problems

    def _consumer_problems(self, secrets_settings: "SecretsSettings", context: dict[str, Any]
                           ) -> list[tuple[str, str]]:
        problems = []
        known = secrets_settings.consumer_names()
        consumers_key = f"{CONFIG_NAMESPACE}:secrets.consumers"
        for index, entry in enumerate(self.root):
            for position, consumer in enumerate(entry.consumers):
                where = self._key(index, f"consumers[{position}]")
                if unparsed(context, f"{consumers_key}.{consumer}"):
                    continue  # its declaration (or the whole consumers map) did not parse: reported there
                if consumer not in known:
                    problems.append((where, f"'{entry.name}': unknown consumer '{consumer}'; known: "
                                            f"{', '.join(known)} (declare roles under "
                                            f"{CONFIG_NAMESPACE}:secrets.consumers)"))
                elif getattr(entry, "wildcard", False) and secrets_settings.internet_facing(consumer):
                    problems.append((where, f"'{entry.name}' has the '*' scope and '{consumer}' is internet-facing: "
                                            "a '*'-scoped key goes to internal tools only"))
        return problems


class ApiKeysSettings(_NamedEntries):
    root: list[ApiKeySettings] = Field(default_factory=lambda: [ApiKeySettings(**k) for k in DEFAULT_API_KEYS])
    section_key: ClassVar[str] = "apiKeys"

    @staticmethod
    def absent_config() -> list[dict[str, Any]]:
        return [dict(key) for key in DEFAULT_API_KEYS]

    def cross_section_problems(self, sections: dict[str, Any], context: dict[str, Any]) -> list[tuple[str, str]]:
        problems = super().cross_section_problems(sections, context)
        for index, key in enumerate(self.root):
            if key.wildcard and not key.internal and not unparsed(context, self._key(index, "internal")):
                problems.append((self._key(index, "scopes"), f"'{key.name}': '*' is allowed only on a key marked "
                                                             "internal: true (internal tools only)"))
        return problems


class WebhooksSettings(_NamedEntries):
    root: list[WebhookSettings] = Field(default_factory=lambda: [WebhookSettings(**w) for w in DEFAULT_WEBHOOKS])
    section_key: ClassVar[str] = "webhooks"

    @staticmethod
    def absent_config() -> list[dict[str, Any]]:
        return [dict(webhook) for webhook in DEFAULT_WEBHOOKS]


class ConsumerSettings(SettingsModel):
    """An IAM role outside this stack that reads secrets (e.g. a warehouse integration, internal tools)."""

    role_arn: str
    # Secure by default: a consumer counts as internet-facing unless declared otherwise.
    internet_facing: bool = True

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str, info: ValidationInfo) -> str:
        match = ROLE_ARN.match(value)
        if not match:
            raise ValueError(f"'{value}' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
        accounts = (info.context or {}).get("allowed_account_ids")
        if accounts and match.group("account") not in accounts:
            # The secrets key delegates to this account's IAM only: a role elsewhere could never decrypt.
            raise ValueError(f"role of account {match.group('account')} is outside aws:allowedAccountIds")
        return value


class SecretsSettings(SettingsModel):
    """What every secret of the environment shares."""

    # Days a deleted secret stays recoverable (AWS: 7..30); production keeps the longest.
    recovery_window_days: int = Field(PRODUCTION_RECOVERY_WINDOW_DAYS, ge=7, le=30)
    consumers: dict[str, ConsumerSettings] = {}
    # The app's PostgreSQL login (securestack/<env>/database/<appUsername>).
    database_user_rotation_days: int = Field(30, ge=1, le=MAX_ROTATION_DAYS)
    # Unset (unreserved) by default: Lambda refuses a reservation that leaves less than 100 of the region's
    # account concurrency unreserved (Lambda developer guide, "Configuring reserved concurrency"), and a new
    # account's limit can be far below 100 + 3 x 5. Set it where the limit allows, so that a burst of other
    # functions cannot starve the rotators.
    rotator_reserved_concurrency: Optional[int] = Field(None, ge=1, le=100)
    rotator_log_level: str = "INFO"

    @field_validator("consumers")
    @classmethod
    def _consumer_names(cls, consumers: dict[str, ConsumerSettings]) -> dict[str, ConsumerSettings]:
        for name in consumers:
            if name == APP_CONSUMER:
                raise ValueError(f"'{APP_CONSUMER}' is the app service of this stack: choose another name")
            if not CONSUMER_NAME.match(name) or len(name) > 40:
                raise ValueError(f"consumer name '{name}' must be 1-40 lowercase letters, digits or single '-'")
        return consumers

    @field_validator("rotator_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    def consumer_names(self) -> list[str]:
        return [APP_CONSUMER, *self.consumers]

    def internet_facing(self, consumer: str) -> bool:
        return consumer == APP_CONSUMER or self.consumers[consumer].internet_facing

    def production_problems(self) -> list[tuple[str, str]]:
        if self.recovery_window_days < PRODUCTION_RECOVERY_WINDOW_DAYS:
            return [("recoveryWindowDays", f"must be {PRODUCTION_RECOVERY_WINDOW_DAYS} in a production stack")]
        return []


def key_prefix(tier: Tier) -> str:
    """Prefix of generated API keys: live keys are recognisable (and never confused with test keys)."""
    return "sk_live_" if tier is Tier.PRODUCTION else "sk_test_"

