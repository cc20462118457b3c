"""Non-secret metadata of a secret, read from its tags (a secret with no value yet gets its first one from them).
Tag values allow only letters, digits, spaces and `_ . : / = + - @`: hence `ALL_SCOPES` for the scope `*`.
"""

from collections.abc import Iterable, Mapping
from typing import Any

TAG_PREFIX = "securestack:"

ENV = "securestack:env"
NAME = "securestack:name"
KIND = "securestack:kind"
SCOPES = "securestack:scopes"
KEY_PREFIX = "securestack:key-prefix"
DB_HOST = "securestack:db-host"
DB_PORT = "securestack:db-port"
DB_NAME = "securestack:db-name"
DB_USERNAME = "securestack:db-username"
DB_OWNER_ROLE = "securestack:db-owner-role"
MASTER_SECRET_ARN = "securestack:master-secret-arn"
ECS_SERVICE = "securestack:ecs-service"
VERIFIER_SECRET = "securestack:verifier-secret"
PREVIOUS_GRACE_DAYS = "securestack:previous-grace-days"
REVOKE_PREVIOUS = "securestack:revoke-previous"

# How long the previous value keeps working after a rotation when the tag is absent (issue 12: default 7),
# and the most a tag may ask for (settings cap production at 30; the rotator refuses more everywhere).
DEFAULT_PREVIOUS_GRACE_DAYS = 7
MAX_PREVIOUS_GRACE_DAYS = 30

WILDCARD_SCOPE = "*"
WILDCARD_SCOPE_TAG = "ALL_SCOPES"
# Tag values can't hold '!', which RDS-managed secret names do (`rds!db-...`).
BANG = "!"
BANG_TAG = "@21"


class SecretMetadata:
    """The `securestack:*` tags of one secret, with lookups that fail naming the tag."""

    def __init__(self, tags: Mapping[str, str]) -> None:
        self._tags = dict(tags)

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> "SecretMetadata":
        tags = description.get("Tags") or []
        return cls({tag["Key"]: tag["Value"] for tag in tags if tag.get("Key", "").startswith(TAG_PREFIX)})

    def get(self, key: str) -> str | None:
        value = self._tags.get(key)
        return value.strip() if isinstance(value, str) and value.strip() else None

    def require(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise ValueError(f"secret tag '{key}' is missing or empty")
        return value

    def require_port(self, key: str = DB_PORT) -> int:
        value = self.require(key)
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise ValueError(f"secret tag '{key}' is not a TCP port")
        return int(value)

    def scopes(self) -> list[str]:
        """Scopes in tag order; `ALL_SCOPES` decodes back to `*`."""
        return decode_scopes(self.require(SCOPES), SCOPES)

    def master_secret_arn(self, required: bool = False) -> str | None:
        """The master secret's ARN (or None); `@21` in the tag stands for '!'."""
        value = self.require(MASTER_SECRET_ARN) if required else self.get(MASTER_SECRET_ARN)
        return None if value is None else value.replace(BANG_TAG, BANG)

    def ecs_service(self) -> tuple[str, str] | None:
        """(cluster, service) of the ECS service consuming the secret, or None."""
        value = self.get(ECS_SERVICE)
        if value is None:
            return None
        cluster, separator, service = value.partition("/")
        if not separator or not cluster or not service or "/" in service:
            raise ValueError(f"secret tag '{ECS_SERVICE}' must be '<cluster>/<service>'")
        return cluster, service

    def previous_grace_days(self) -> int:
        """Days the replaced value stays valid after the new one is current (0: not at all)."""
        value = self.get(PREVIOUS_GRACE_DAYS)
        if value is None:
            return DEFAULT_PREVIOUS_GRACE_DAYS
        if not (value.isascii() and value.isdigit()) or int(value) > MAX_PREVIOUS_GRACE_DAYS:
            raise ValueError(f"secret tag '{PREVIOUS_GRACE_DAYS}' must be a whole number of days from 0 to "
                             f"{MAX_PREVIOUS_GRACE_DAYS}")
        return int(value)

    def revoke_previous(self) -> bool:
        """True when the operator asked this rotation to end the replaced value at once (tag set to 'true')."""
        value = self.get(REVOKE_PREVIOUS)
        if value is None:
            return False
        if value != "true":
            raise ValueError(f"secret tag '{REVOKE_PREVIOUS}' must be 'true' when present")
        return True


def decode_scopes(text: str, source: str) -> list[str]:
    scopes = [WILDCARD_SCOPE if scope == WILDCARD_SCOPE_TAG else scope for scope in text.split(" ")]
    if any(not scope for scope in scopes):
        raise ValueError(f"'{source}' must hold scopes separated by single spaces")
    return scopes


def encode_scopes(scopes: Iterable[str]) -> str:
    """The tag value for a list of scopes (used by the infrastructure and by tests)."""
    return " ".join(WILDCARD_SCOPE_TAG if scope == WILDCARD_SCOPE else scope for scope in scopes)
