"""Errors raised by the library. Their messages name a secret and a failure kind, never a value."""


class SecretUnavailableError(RuntimeError):
    """A value the caller needs (the webhook signing secret) was never loaded, so nothing can be signed."""


class MalformedSecretError(ValueError):
    """A secret's content or metadata does not follow the securestack contract.

    The message is a constant written in this package (which field is wrong), never the content itself.
    """
