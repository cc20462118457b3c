"""App settings: the container service behind the load balancer and what it consumes (by reference only)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal, Optional, cast

from pydantic import Field, ValidationInfo, field_validator, model_validator

# Sizes, image references, names and users are the app component's rules; the settings check them at their keys.
from securestack.components.app import ENV_NAME, FARGATE_MEMORY, IMAGE, USER, cluster_name, service_name
from securestack.components.load_balancer import HEALTH_CHECK_PATH
from securestack.components.secrets import SECRET_NAME

from .base import CONFIG_NAMESPACE, SettingsModel, earlier, fields_unparsed, unique, unparsed
from .secrets import APP_CONSUMER, ApiKeySettings, ApiKeysSettings, WebhookSettings, WebhooksSettings

if TYPE_CHECKING:
    from .edge import LoadBalancerSettings

# Names that would make a plain environment variable carry a secret; secrets are injected by reference.
SECRET_LOOKING_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE|CREDENTIAL)")
SECRET_LOOKING_VALUE = re.compile(r"(sk_(live|test)_|whsec_|-----BEGIN)")
# What ECS injects from the database login's secret when `databaseUser` is true (infra/secrets_program.py names
# them from here): a plain variable of the same name is refused by AppServiceArgs (it would shadow the secret).
DATABASE_LOGIN_VARIABLES = ("DB_USERNAME", "DB_PASSWORD")
SESSION_TTL_MAX = 7 * 24 * 3600  # the guide: sessions expire after 7 days
MAGIC_LINK_TTL_MAX = 15 * 60  # the guide: login links expire after 15 minutes


class AppSettings(SettingsModel):
    """The app service; absent `image` means this stack runs no app (keys are still created and exported)."""

    name: str = "app"
    image: Optional[str] = None
    cpu: int = 512
    memory: int = 1024
    cpu_architecture: Literal["X86_64", "ARM64"] = "X86_64"
    desired_count: int = Field(2, ge=1, le=100)
    container_port: int = Field(8443, ge=1024, le=65535)  # non-root: no privileged ports
    health_check_path: str = "/health"
    health_check_grace_seconds: int = Field(60, ge=0, le=2_147_483_647)
    user: str = "10001:10001"
    # Refused when set: the app no longer consumes (holds) keys, it verifies them (`verifies_api_keys`).
    api_keys: Optional[list[str]] = None
    # Names of the self-issued keys the app verifies (reads their verifier records); None: every key of the stack.
    verifies_api_keys: Optional[list[str]] = None
    # Webhook secrets the app uses (it reads their value at run time: HMAC needs it): it signs with the self-issued
    # ones and verifies the vendor's webhooks with the vendor-issued ones.
    webhooks: list[str] = ["order-events"]
    database_user: bool = True
    session_ttl_seconds: int = Field(SESSION_TTL_MAX, ge=300, le=SESSION_TTL_MAX)
    magic_link_ttl_seconds: int = Field(MAGIC_LINK_TTL_MAX, ge=60, le=MAGIC_LINK_TTL_MAX)
    environment: dict[str, str] = {}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SECRET_NAME.match(value) or len(value) > 20:
            raise ValueError(f"'{value}' must be 1-20 lowercase letters, digits or single '-' (part of AWS names)")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not IMAGE.match(value):
            raise ValueError(f"'{value}' is not a container image reference (registry/repository:tag or @sha256:...)")
        return value

    @field_validator("user")
    @classmethod
    def _non_root(cls, value: str) -> str:
        match = USER.match(value)
        if not match:
            raise ValueError("must be a numeric uid[:gid] (a name cannot be checked for root)")
        if int(match.group(1)) == 0:
            raise ValueError("must not be root (uid 0)")
        return value

    @field_validator("health_check_path")
    @classmethod
    def _health_path(cls, value: str) -> str:
        if not HEALTH_CHECK_PATH.match(value):
            raise ValueError("must be an absolute URL path, e.g. /health")
        return value

    @field_validator("api_keys")
    @classmethod
    def _no_key_values(cls, values: Optional[list[str]]) -> Optional[list[str]]:
        raise ValueError("the app no longer consumes API keys: it verifies them from their digests (verifier records) "
                         f"and never holds a key value; remove it, and list the keys it verifies under "
                         f"{CONFIG_NAMESPACE}:app.verifiesApiKeys if not every key")

    @field_validator("verifies_api_keys", "webhooks")
    @classmethod
    def _names(cls, values: Optional[list[str]]) -> Optional[list[str]]:
        return values if values is None else unique(values, "names")

    @field_validator("environment")
    @classmethod
    def _plain_settings(cls, variables: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        injected = DATABASE_LOGIN_VARIABLES if earlier(info, "database_user", False) else ()
        for name, value in variables.items():
            if name in injected:
                raise ValueError(f"'{name}' is a secret variable ECS injects from the database login "
                                 f"(databaseUser: true): a plain value of the same name is refused")
            if not ENV_NAME.match(name):
                raise ValueError(f"'{name}' is not an environment variable name (A-Z, 0-9, _)")
            if SECRET_LOOKING_NAME.search(name) or SECRET_LOOKING_VALUE.search(value):
                raise ValueError(f"'{name}' looks like a secret: secrets go through apiKeys/webhooks and are "
                                 "injected by reference, never as plain environment")
        return variables

    @model_validator(mode="after")
    def _fargate_size(self, info: ValidationInfo) -> "AppSettings":
        if fields_unparsed(info, "cpu", "memory"):
            return self
        if self.memory not in FARGATE_MEMORY.get(self.cpu, ()):
            raise ValueError(f"cpu {self.cpu} with memory {self.memory} is not a Fargate task size")
        return self

    @property
    def enabled(self) -> bool:
        return self.image is not None

    def cluster_name(self, environment: str) -> str:
        return cluster_name(environment)

    def service_name(self, environment: str) -> str:
        return service_name(environment, self.name)

    def image_digest_pinned(self) -> bool:
        match = IMAGE.match(self.image or "")
        return bool(match and match.group("digest"))

    def production_problems(self) -> list[tuple[str, str]]:
        problems = []
        if self.enabled and not self.image_digest_pinned():
            problems.append(("image", "must be pinned by digest (@sha256:...) in a production stack"))
        if self.enabled and self.desired_count < 2:
            problems.append(("desiredCount", "must be >= 2 in a production stack (one task per AZ survives)"))
        return problems

    def verified_keys(self, api_keys: ApiKeysSettings) -> list[str]:
        """Names of the self-issued keys the app verifies: `verifiesApiKeys`, or every self-issued key of the stack
        (a vendor's key is the vendor's to verify)."""
        if self.verifies_api_keys is None:
            return [key.name for key in api_keys.self_issued()]
        return list(self.verifies_api_keys)

    def cross_section_problems(self, sections: dict[str, Any], context: dict[str, Any]) -> list[tuple[str, str]]:
        problems = []
        webhooks = sections.get("webhooks")
        if webhooks is not None and not unparsed(context, f"{CONFIG_NAMESPACE}:app.webhooks"):
            problems += self._consumption_problems("webhooks", self.webhooks, webhooks, context)
        api_keys = sections.get("api_keys")
        if api_keys is not None and self.verifies_api_keys is not None and api_keys.entries_complete():
            names = api_keys.names()
            problems += [(f"{CONFIG_NAMESPACE}:app.verifiesApiKeys[{position}]",
                          f"unknown apiKeys entry '{name}'; configured: {', '.join(names) or 'none'}")
                         for position, name in enumerate(self.verifies_api_keys) if name not in names]
            problems += [(f"{CONFIG_NAMESPACE}:app.verifiesApiKeys[{position}]",
                          f"'{name}' is vendor-issued: the vendor verifies its keys; the app verifies only the keys "
                          "this stack issues")
                         for position, name in enumerate(self.verifies_api_keys)
                         if name in names and api_keys.by_name(name).is_vendor]
        load_balancer = sections.get("load_balancer")
        if self.enabled and load_balancer is not None:
            problems += self._target_problems(load_balancer, context)
        return problems

    def _consumption_problems(self, field: str, consumed: list[str], entries: ApiKeysSettings | WebhooksSettings,
                              context: dict[str, Any]) -> list[tuple[str, str]]:
        """The app reads exactly the secrets that name it as a consumer: no more (denied), no less (unused grant)."""
        problems = []
        names = entries.names()
        for position, name in enumerate(consumed):
            if name not in names and not entries.entries_complete():
                continue  # perhaps the entry that did not parse
            if name in names and unparsed(context, entries._key(names.index(name), "consumers")):
                continue
            if name not in names:
                problems.append((f"{CONFIG_NAMESPACE}:app.{field}[{position}]",
                                 f"unknown {field} entry '{name}'; configured: {', '.join(names) or 'none'}"))
            elif APP_CONSUMER not in entries.by_name(name).consumers:
                problems.append((f"{CONFIG_NAMESPACE}:app.{field}[{position}]",
                                 f"'{name}' does not list '{APP_CONSUMER}' among its consumers"))
        # Either section's entries (mypy would join the two lists' item types into their base model).
        listed = cast("list[ApiKeySettings | WebhookSettings]", entries.root)
        for index, entry in enumerate(listed):
            if APP_CONSUMER in entry.consumers and entry.name not in consumed:
                problems.append((f"{CONFIG_NAMESPACE}:{field}[{index}].consumers",
                                 f"'{entry.name}' names '{APP_CONSUMER}' but {CONFIG_NAMESPACE}:app.{field} does not "
                                 "consume it: drop the grant or consume it"))
        return problems

    def _target_problems(self, load_balancer: LoadBalancerSettings, context: dict[str, Any]
                         ) -> list[tuple[str, str]]:
        problems = []

        def both_parsed(app_field: str, load_balancer_field: str) -> bool:
            return not (unparsed(context, f"{CONFIG_NAMESPACE}:app.{app_field}")
                        or unparsed(context, f"{CONFIG_NAMESPACE}:loadBalancer.{load_balancer_field}"))

        target_port = getattr(load_balancer, "target_port", self.container_port)
        if target_port != self.container_port and both_parsed("containerPort", "targetPort"):
            problems.append((f"{CONFIG_NAMESPACE}:app.containerPort",
                             f"{self.container_port} differs from {CONFIG_NAMESPACE}:loadBalancer.targetPort "
                             f"{target_port}: the load balancer would never reach the app"))
        health_path = getattr(load_balancer, "health_check_path", self.health_check_path)
        if health_path != self.health_check_path and both_parsed("healthCheckPath", "healthCheckPath"):
            problems.append((f"{CONFIG_NAMESPACE}:app.healthCheckPath",
                             f"{self.health_check_path} differs from {CONFIG_NAMESPACE}:loadBalancer.healthCheckPath "
                             f"{health_path}"))
        return problems
