"""Secrets settings: scoped API keys (`apiKeys`), webhook signing secrets (`webhooks`) and who may read them
(`secrets`: the named consumers, recovery window, rotators' optional reserved concurrency).

A consumer is a named principal that reads a secret's value: an IAM role of this account declared under
`securestack:secrets.consumers` (a key's callers, a webhook's receivers) or, for webhooks only, `app` (the app
service of this stack, internet-facing behind the load balancer, which signs with the webhook secret). Each
secret's resource policy denies reads to everyone else.

The app is never a consumer of a self-issued API key: it verifies keys from the SHA-256 digests in their verifier
records (`securestack/<env>/api-key-verifiers/<name>`) and never holds a key value (`app.verifiesApiKeys` says
which keys it verifies).

An entry with `issuer: vendor` holds a value an outside vendor issued (StackBE, BareCommerce: `sk_live_...` from
its dashboard): no rotator can make one, so an operator stages it (`python -m infra.secrets stage`), and
`rotationDays` is how old it may get before the age alarm. The app may consume a vendor key (ECS injects it into
`appVariable`, default `<VENDOR>_API_KEY`): it calls the vendor with it. `secrets.operators` are the roles that
write vendor values, and the only ones.
"""
from __future__ import annotations

import re
from typing import Any, ClassVar, Literal, Optional
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, PrivateAttr, RootModel, ValidationInfo, field_validator

# The naming and tagging rules are the secrets component's; the settings check them at their config keys.
from securestack.components.secrets import (DEFAULT_PREVIOUS_GRACE_DAYS, ISSUER_SELF, ISSUER_VENDOR,  # noqa: F401
                                            MAX_PREVIOUS_GRACE_DAYS, MAX_ROTATION_DAYS, SCOPE, SECRET_NAME,
                                            SECRET_NAME_MAX, TAG_VALUE_MAX, WILDCARD_SCOPE, WILDCARD_SCOPE_TAG,
                                            scope_tag)

from .base import CONFIG_NAMESPACE, SettingsModel, earlier, unique, unparsed
from .common import Tier

APP_CONSUMER = "app"  # the app service of this stack: internet-facing (behind the load balancer)
PRODUCTION_RECOVERY_WINDOW_DAYS = 30
CONSUMER_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,512}$")
APP_NEVER_HOLDS_A_KEY = (f"'{APP_CONSUMER}' cannot be a consumer of a self-issued API key: the app verifies keys from "
                         "their digests (verifier records) and never holds a key value; list the key under "
                         f"{CONFIG_NAMESPACE}:app.verifiesApiKeys (default: every key) and name its callers "
                         f"(roles under {CONFIG_NAMESPACE}:secrets.consumers) as consumers")


# Vendors known to mark their keys' environment in a prefix (the guides: `sk_live_...`, `sk_test_...`).
VENDORS_WITH_KEY_PREFIXES = ("barecommerce", "stackbe")
VENDOR_NAME = SECRET_NAME  # a slug: it becomes a tag value and, upper-cased, an environment variable name
ENVIRONMENT_VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]*$")
ENVIRONMENT_VARIABLE_MAX = 64
# What `stage` sends a candidate value to (the guides: every vendor call over HTTPS).
TEST_URL_MAX = 2048
Issuer = Literal["self", "vendor"]


def vendor_key_prefix(vendor: str, tier: Tier) -> Optional[str]:
    """The prefix a vendor's keys carry in this tier, for vendors that mark it; None: no prefix to check."""
    return key_prefix(tier) if vendor in VENDORS_WITH_KEY_PREFIXES else None


def default_app_variable(vendor: str) -> str:
    """The variable the guides keep a vendor's key in: `BARECOMMERCE_API_KEY`, `STACKBE_API_KEY`."""
    return f"{vendor.upper().replace('-', '_')}_API_KEY"


def _checked_test_url(value: str) -> str:
    problem = "must be an https:// URL with a host (no user, no fragment, no spaces)"
    if len(value) > TEST_URL_MAX or any(character.isspace() or not character.isprintable() for character in value):
        raise ValueError(f"{problem}, at most {TEST_URL_MAX} characters")
    try:
        parts = urlsplit(value)
        port = parts.port  # refuses a port that is no number or out of range
    except ValueError:
        raise ValueError(problem) from None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or parts.fragment \
            or "@" in parts.netloc or port == 0:
        raise ValueError(problem)
    return value


def _secret_name(value: str) -> str:
    if len(value) > SECRET_NAME_MAX or not SECRET_NAME.match(value):
        raise ValueError(f"'{value}' must be 1-{SECRET_NAME_MAX} lowercase letters, digits or single '-' between "
                         "them, starting with a letter")
    return value


def _consumer_names(values: list[str]) -> list[str]:
    return unique(values, "consumers")


def _vendor(value: Optional[str], info: ValidationInfo) -> Optional[str]:
    """Refused on a self-issued entry (an issuer that did not parse: no rule); required on a vendor-issued one
    (checked by the section, which knows whether the entry's own value did not parse)."""
    issuer = earlier(info, "issuer")
    if issuer == ISSUER_SELF and value is not None:
        raise ValueError("only with issuer: vendor (a self-issued value comes from its rotator)")
    if value is not None and (len(value) > SECRET_NAME_MAX or not VENDOR_NAME.match(value)):
        raise ValueError(f"'{value}' must be 1-{SECRET_NAME_MAX} lowercase letters, digits or single '-'")
    return value


class _IssuedEntry(SettingsModel):
    """What a key and a webhook secret share: who issues the value."""

    @property
    def is_vendor(self) -> bool:
        return bool(getattr(self, "issuer") == ISSUER_VENDOR)


class ApiKeySettings(_IssuedEntry):
    """One scoped API key: its own secret, rotated by the api-key rotator (`issuer: self`), or a vendor's key that an
    operator stages (`issuer: vendor`). Field order matters: the later fields' rules read the earlier ones."""

    name: str
    issuer: Issuer = ISSUER_SELF
    vendor: Optional[str] = None
    scopes: list[str] = Field(min_length=1)
    consumers: list[str] = []
    # Marks a key for internal tools only: the one kind that may carry the wildcard scope.
    internal: bool = False
    # Self-issued: days between rotations; vendor-issued: how old the value may get before the age alarm.
    rotation_days: int = Field(MAX_ROTATION_DAYS, ge=1, le=MAX_ROTATION_DAYS)
    previous_grace_days: int = Field(DEFAULT_PREVIOUS_GRACE_DAYS, ge=0, le=MAX_PREVIOUS_GRACE_DAYS)
    test_url: Optional[str] = None
    # The variable ECS injects a vendor key the app consumes into (resolved: the default when unset).
    app_variable: Optional[str] = Field(None, validate_default=True)
    description: Optional[str] = None

    _name = field_validator("name")(_secret_name)
    _consumers = field_validator("consumers")(_consumer_names)
    _vendor = field_validator("vendor")(_vendor)

    @field_validator("consumers")
    @classmethod
    def _not_the_app(cls, consumers: list[str], info: ValidationInfo) -> list[str]:
        # The app calls a vendor with the vendor's key; it never holds a key it issues and verifies.
        if APP_CONSUMER in consumers and earlier(info, "issuer") == ISSUER_SELF:
            raise ValueError(APP_NEVER_HOLDS_A_KEY)
        return consumers

    @field_validator("test_url")
    @classmethod
    def _test_url(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        if value is None:
            return value
        if earlier(info, "issuer") == ISSUER_SELF:
            raise ValueError("only with issuer: vendor (a URL of the vendor's that a valid key can GET)")
        return _checked_test_url(value)

    @field_validator("app_variable")
    @classmethod
    def _app_variable(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        issuer, vendor, consumers = earlier(info, "issuer"), earlier(info, "vendor"), earlier(info, "consumers")
        injected = issuer == ISSUER_VENDOR and consumers is not None and APP_CONSUMER in consumers
        if value is None:
            return default_app_variable(vendor) if injected and vendor is not None else None
        if issuer is not None and consumers is not None and not injected:
            raise ValueError(f"only on a vendor-issued key that lists '{APP_CONSUMER}' among its consumers (the "
                             "variable ECS injects it into)")
        if len(value) > ENVIRONMENT_VARIABLE_MAX or not ENVIRONMENT_VARIABLE.match(value):
            raise ValueError(f"'{value}' must be 1-{ENVIRONMENT_VARIABLE_MAX} upper-case letters, digits or '_', "
                             "starting with a letter")
        return value

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


class WebhookSettings(_IssuedEntry):
    """One webhook signing secret: its own secret, rotated by the webhook rotator (`issuer: self`: the app signs
    with it), or a vendor's signing secret an operator stages (`issuer: vendor`: the app verifies the vendor's
    webhooks with it, accepting the previous value for `previousGraceDays` after the current one was staged:
    receivers count from the AWSCURRENT version's creation)."""

    name: str
    issuer: Issuer = ISSUER_SELF
    vendor: Optional[str] = None
    consumers: list[str] = []
    rotation_days: int = Field(MAX_ROTATION_DAYS, ge=1, le=MAX_ROTATION_DAYS)
    previous_grace_days: int = Field(DEFAULT_PREVIOUS_GRACE_DAYS, ge=0, le=MAX_PREVIOUS_GRACE_DAYS)
    description: Optional[str] = None

    _name = field_validator("name")(_secret_name)
    _consumers = field_validator("consumers")(_consumer_names)
    _vendor = field_validator("vendor")(_vendor)

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

    def self_issued(self) -> list[Any]:
        """The entries whose values their rotator makes."""
        return [entry for entry in self.root if not entry.is_vendor]

    def vendor_issued(self) -> list[Any]:
        """The entries whose values an outside vendor issues and an operator stages."""
        return [entry for entry in self.root if entry.is_vendor]

    def by_name(self, name: str) -> Any:
        return next(entry for entry in self.root if entry.name == name)

    def cross_section_problems(self, sections: dict[str, Any], context: dict[str, Any]) -> list[tuple[str, str]]:
        problems = self._duplicate_problems() + self._vendor_problems(context)
        secrets_settings = sections.get("secrets")
        if secrets_settings is not None:
            problems += self._consumer_problems(secrets_settings, context)
            problems += self._operator_problems(secrets_settings, context)
        return problems

    def _vendor_problems(self, context: dict[str, Any]) -> list[tuple[str, str]]:
        return [(self._key(index, "vendor"), "required with issuer: vendor (the vendor that issues the value, e.g. "
                                             "barecommerce)")
                for index, entry in enumerate(self.root)
                if entry.is_vendor and entry.vendor is None and not unparsed(context, self._key(index, "vendor"))]

    def _operator_problems(self, secrets_settings: "SecretsSettings", context: dict[str, Any]
                           ) -> list[tuple[str, str]]:
        """A vendor value has no rotator to write it: somebody must be allowed to stage it."""
        if secrets_settings.operators or unparsed(context, f"{CONFIG_NAMESPACE}:secrets.operators"):
            return []
        return [(self._key(index, "issuer"), f"'{entry.name}' is vendor-issued: declare the roles that stage its "
                                             f"values under {CONFIG_NAMESPACE}:secrets.operators")
                for index, entry in enumerate(self.root) if entry.is_vendor][:1]

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
            if key.is_vendor and "previous_grace_days" in key.model_fields_set:
                problems.append((self._key(index, "previousGraceDays"),
                                 f"'{key.name}' is vendor-issued: its previous key works until you delete it at the "
                                 "vendor and retire it (python -m infra.secrets retire), so there is no grace to set"))
        return problems + self._app_variable_problems(sections.get("app"))

    def injected_variables(self) -> dict[str, str]:
        """Variable -> key name, for the vendor keys ECS injects into the app."""
        return {key.app_variable: key.name for key in self.root if key.app_variable is not None}

    def _app_variable_problems(self, app: Any) -> list[tuple[str, str]]:
        problems = []
        reserved = {"DB_USERNAME", "DB_PASSWORD"}  # the database login's (settings/app.py DATABASE_LOGIN_VARIABLES)
        plain = set(getattr(app, "environment", {}) or {})
        first: dict[str, str] = {}
        for index, key in enumerate(self.root):
            variable = key.app_variable
            if variable is None:
                continue
            if variable in first:
                problems.append((self._key(index, "appVariable"), f"'{variable}' is also the variable of "
                                                                  f"'{first[variable]}': set appVariable on one"))
            elif variable in reserved or variable in plain:
                problems.append((self._key(index, "appVariable"), f"'{variable}' is already one of the app's "
                                 "variables (the database login or securestack:app.environment)"))
            first.setdefault(variable, key.name)
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
        return _checked_role_arn(value, info)


def _checked_role_arn(value: str, info: ValidationInfo) -> str:
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
    # The roles that stage, promote, retire and revoke vendor-issued values: their secrets' only writers.
    operators: list[str] = []

    @field_validator("operators")
    @classmethod
    def _operators(cls, values: list[str], info: ValidationInfo) -> list[str]:
        for value in values:
            _checked_role_arn(value, info)
        return unique(values, "operators")

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

