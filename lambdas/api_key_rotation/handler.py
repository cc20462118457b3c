"""Secrets Manager rotation function for scoped API keys.

Value: {"key", "scopes", "env", "name", "created_at"}; the key is the environment's prefix
(tag `securestack:key-prefix`, e.g. `sk_live_`) followed by 256 random bits from `secrets`.
Scopes, env and name never change in a rotation; a new key with other scopes is a new secret.

The verifier never reads this secret: each step keeps the key's verifier record (rotation_common/
verifier_record.py) accepting every value a caller can hold, the new key before it becomes AWSCURRENT.
"""

import re
import secrets
from collections.abc import Callable

from rotation_common import metadata as tags
from rotation_common.metadata import SecretMetadata
from rotation_common.protocol import PENDING, Rotation, handle
from rotation_common.standalone import StandaloneSecretRotator
from rotation_common.values import SecretValue, ValueFault
from rotation_common.verifier_record import FinishedRecord, before_promotion

RANDOM_BYTES = 32  # 256 bits
_PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_]{1,32}")
_URLSAFE_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


class ApiKeyRotator(StandaloneSecretRotator):
    kind = "api-key"
    secret_field = "key"
    identity_fields = ("scopes", "env", "name")

    def generate_secret(self, metadata: SecretMetadata) -> str:
        return key_prefix(metadata) + secrets.token_urlsafe(RANDOM_BYTES)

    def identity_from_metadata(self, metadata: SecretMetadata) -> SecretValue:
        return {
            "scopes": metadata.scopes(),
            "env": metadata.require(tags.ENV),
            "name": metadata.require(tags.NAME),
        }

    def check_secret_format(self, key: object, metadata: SecretMetadata) -> None:
        prefix = key_prefix(metadata)
        if not isinstance(key, str) or not key.startswith(prefix):
            raise ValueFault(PENDING, "key", "does not start with the environment's prefix")
        random_part = key[len(prefix) :]
        # Each URL-safe base64 character carries 6 bits.
        if not _URLSAFE_PATTERN.fullmatch(random_part) or len(random_part) * 6 < RANDOM_BYTES * 8:
            raise ValueFault(PENDING, "key", f"carries fewer than {RANDOM_BYTES * 8} random bits")

    def set_value(self, rotation: Rotation, pending: SecretValue, current: SecretValue | None) -> None:
        super().set_value(rotation, pending, current)
        before_promotion(rotation, pending, current)

    def promote_and_retire(self, rotation: Rotation, pending: SecretValue, promote: Callable[[], None],
                           revoke: bool) -> None:
        # Computed first: an unusable tag stops the step before AWSCURRENT moves. Written after the move: until
        # then the record from setSecret accepts both keys. The revoked key's AWSPREVIOUS label stays; the
        # verifier reads only the record, which no longer holds its digest.
        record = FinishedRecord(rotation, pending, rotation.current_value())
        promote()
        record.write()


def key_prefix(metadata: SecretMetadata) -> str:
    prefix = metadata.require(tags.KEY_PREFIX)
    if not _PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError(f"secret tag '{tags.KEY_PREFIX}' must be 1-32 letters, digits or '_'")
    return prefix


ROTATOR = ApiKeyRotator()


def lambda_handler(event: object, context: object) -> None:
    handle(event, ROTATOR)
