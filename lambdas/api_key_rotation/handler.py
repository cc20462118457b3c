"""Secrets Manager rotation function for scoped API keys.

Value: {"key", "scopes", "env", "name", "created_at"}; the key is the environment's prefix
(tag `securestack:key-prefix`, e.g. `sk_live_`) followed by 256 random bits from `secrets`.
Scopes, env and name never change in a rotation; a new key with other scopes is a new secret.

The verifier reads only the key's verifier record (rotation_common/verifier_record.py).
"""

import re
import secrets
from collections.abc import Callable

from rotation_common import metadata as tags
from rotation_common.metadata import SecretMetadata
from rotation_common.protocol import PENDING, Rotation, handle
from rotation_common.standalone import StandaloneSecretRotator
from rotation_common.values import SecretValue, ValueFault
from rotation_common.verifier_record import (STAGE_CURRENT, STAGE_PENDING, FinishedRecord, VerifierRecord,
                                             before_promotion, replaced_digest)

RANDOM_BYTES = 32  # 256 bits
_PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_]{1,32}")
_URLSAFE_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
_RANDOM_CHARACTERS = len(secrets.token_urlsafe(RANDOM_BYTES))


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

    def check_secret_format(self, key: object, metadata: SecretMetadata | None) -> None:
        # Without the tags (testSecret) the prefix is what precedes the random part.
        if not isinstance(key, str):
            raise ValueFault(PENDING, "key", "does not start with the environment's prefix")
        prefix = key[:-_RANDOM_CHARACTERS] if metadata is None else key_prefix(metadata)
        if not key.startswith(prefix) or not _PREFIX_PATTERN.fullmatch(prefix):
            raise ValueFault(PENDING, "key", "does not start with the environment's prefix")
        random_part = key[len(prefix) :]
        # Each URL-safe base64 character carries 6 bits.
        if not _URLSAFE_PATTERN.fullmatch(random_part) or len(random_part) * 6 < RANDOM_BYTES * 8:
            raise ValueFault(PENDING, "key", f"carries fewer than {RANDOM_BYTES * 8} random bits")

    def created(self, rotation: Rotation) -> bool:
        super().created(rotation)  # checks the tags (set_value)
        rotation.kind_state["record"] = record = VerifierRecord(rotation).read()
        if any(record.get(stage, {}).get("versionId") == rotation.token for stage in (STAGE_CURRENT, STAGE_PENDING)):
            return True
        # Before anything is stored: a malformed AWSCURRENT (read when the record lacks it) stops the rotation here.
        rotation.kind_state["replaced"] = replaced_digest(rotation, record)
        return False

    def after_create(self, rotation: Rotation, pending: SecretValue) -> None:
        before_promotion(rotation, pending, rotation.kind_state["record"], rotation.kind_state["replaced"])

    def set_value(self, rotation: Rotation) -> None:
        super().set_value(rotation)
        rotation.metadata.previous_grace_days()  # a malformed tag stops the rotation before anything is stored

    def promote_and_retire(self, rotation: Rotation, promote: Callable[[], None], revoke: bool) -> None:
        # Until the move, the record from createSecret accepts both keys. A revoked key keeps its AWSPREVIOUS label:
        # the verifier reads only the record.
        record = FinishedRecord(rotation, lambda: self._checked_pending(rotation))
        promote()
        record.write()

    def _checked_pending(self, rotation: Rotation) -> SecretValue:
        pending = rotation.require_pending_value()
        self.check_stored(rotation, pending)
        return pending


def key_prefix(metadata: SecretMetadata) -> str:
    prefix = metadata.require(tags.KEY_PREFIX)
    if not _PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError(f"secret tag '{tags.KEY_PREFIX}' must be 1-32 letters, digits or '_'")
    return prefix


ROTATOR = ApiKeyRotator()


def lambda_handler(event: object, context: object) -> None:
    handle(event, ROTATOR)
