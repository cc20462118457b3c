"""securestack_runtime: verify the API keys and sign/verify the webhooks of a securestack environment.

Standard library + boto3 only (no Pulumi, nothing else from the securestack repository), so an app can vendor or
install this package alone. See README.md beside this file.

    from securestack_runtime import ApiKeyVerifier, WebhookSigner, WebhookVerifier
    verifier = ApiKeyVerifier(key_secret_ids, client=None, refresh_seconds=60)
    identity = verifier.verify(presented_key)   # KeyIdentity(name, env, scopes) or None
    identity.allows("orders:write")
    WebhookSigner(secret_id).sign(payload) -> "sha256=<hex>"
    WebhookVerifier(secret_id).verify(payload, signature) -> bool
"""

from securestack_runtime.api_keys import ApiKeyVerifier, KeyIdentity
from securestack_runtime.errors import SecretUnavailableError
from securestack_runtime.webhooks import WebhookSigner, WebhookVerifier

__all__ = ["ApiKeyVerifier", "KeyIdentity", "SecretUnavailableError", "WebhookSigner", "WebhookVerifier"]
