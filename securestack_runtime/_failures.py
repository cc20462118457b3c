"""Load failures, logged once per secret and kind of failure, never with a value or a digest.

A verifier that cannot reload keeps serving from its last good set; logging every failed attempt (one per
refresh or per miss) would flood the app's log during an outage, so each kind is logged when it starts and
once more when the secret loads again.
"""

import logging
import threading

from botocore.exceptions import BotoCoreError, ClientError

from securestack_runtime.errors import MalformedSecretError

LOGGER_NAME = "securestack.runtime"
logger = logging.getLogger(LOGGER_NAME)


def failure_kind(error: BaseException) -> str:
    """A short, value-free description of why a load failed."""
    if isinstance(error, ClientError):
        # Only the code: an AWS error message can quote request parameters.
        return "aws-error " + str(error.response.get("Error", {}).get("Code") or "unknown")
    if isinstance(error, BotoCoreError):
        return "aws-unreachable " + type(error).__name__
    if isinstance(error, MalformedSecretError):
        return "malformed " + str(error)
    return "unexpected " + type(error).__name__


class FailureLog:
    """Remembers which (secret, failure kind) pairs were already logged."""

    def __init__(self, component: str) -> None:
        self._component = component
        self._logged: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def failed(self, secret_id: str, error: BaseException) -> None:
        kind = failure_kind(error)
        with self._lock:
            kinds = self._logged.setdefault(secret_id, set())
            if kind in kinds:
                return
            kinds.add(kind)
        logger.warning(
            "%s: cannot load %s (%s); keeping the last good set", self._component, secret_id, kind
        )

    def loaded(self, secret_id: str) -> None:
        with self._lock:
            had_failures = bool(self._logged.pop(secret_id, None))
        if had_failures:
            logger.info("%s: %s loads again", self._component, secret_id)
