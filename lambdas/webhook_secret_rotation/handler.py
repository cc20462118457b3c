"""Secrets Manager rotation function for webhook signing secrets.

Value: {"secret", "env", "name", "created_at"}; the secret is `whsec_` + base64 of 32 random
bytes. The previous secret stays valid (AWSPREVIOUS) until the next rotation: receivers must
accept a signature made with either the current or the previous secret (see lambdas/README.md).
"""

import base64
import binascii
import secrets

from rotation_common import metadata as tags
from rotation_common.metadata import SecretMetadata
from rotation_common.protocol import PENDING, handle
from rotation_common.standalone import StandaloneSecretRotator
from rotation_common.values import SecretValue, ValueFault

SECRET_PREFIX = "whsec_"
RANDOM_BYTES = 32


class WebhookSecretRotator(StandaloneSecretRotator):
    kind = "webhook-secret"
    secret_field = "secret"
    identity_fields = ("env", "name")

    def generate_secret(self, metadata: SecretMetadata) -> str:
        return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(RANDOM_BYTES)).decode("ascii")

    def identity_from_metadata(self, metadata: SecretMetadata) -> SecretValue:
        return {"env": metadata.require(tags.ENV), "name": metadata.require(tags.NAME)}

    def check_secret_format(self, secret: object, metadata: SecretMetadata | None) -> None:
        if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
            raise ValueFault(PENDING, "secret", f"does not start with '{SECRET_PREFIX}'")
        try:
            raw = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueFault(PENDING, "secret", "is not base64 after its prefix") from None
        if len(raw) != RANDOM_BYTES:
            raise ValueFault(PENDING, "secret", f"must carry {RANDOM_BYTES} random bytes")


ROTATOR = WebhookSecretRotator()


def lambda_handler(event: object, context: object) -> None:
    handle(event, ROTATOR)
