"""JSON-line logs that cannot carry a secret value: only ALLOWED_FIELDS, constant messages, one line per record
(the whole line is the message, so every handler sees what CloudWatch gets).
"""

import json
import logging
import os
import sys
from typing import Any

from rotation_common.clients import unreachable_endpoint
from rotation_common.values import ValueFault

LOGGER_NAME = "securestack.rotation"

# Identifiers and outcomes only; never a value, a password, a key or a RotationToken.
ALLOWED_FIELDS = frozenset({
    "step", "secret_arn", "version_id", "kind", "stage", "outcome", "error_type", "error_code", "db_host", "db_user",
    "ecs_cluster", "ecs_service", "aws_endpoint", "event_field", "fault_stage", "fault_version_id", "fault_field",
})

# As components/rotation.py allows. Another value: INFO and a warning, as failing the import would stop rotations.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LOG_LEVEL = "INFO"


def log_level_from(setting: str | None) -> tuple[str, bool]:
    """(level, unusable): LOG_LEVEL's level in any case, INFO when unset or unusable."""
    if setting is None or not setting.strip():
        return DEFAULT_LOG_LEVEL, False
    level = setting.strip().upper()
    return (level, False) if level in LOG_LEVELS else (DEFAULT_LOG_LEVEL, True)


class _CurrentStdoutHandler(logging.Handler):
    # sys.stdout at emit time (the Lambda runtime's, or a test capture).

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(record.getMessage() + "\n")
            sys.stdout.flush()
        except Exception:  # a log line must never break a rotation step
            self.handleError(record)


def _build_logger(level: str) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        logger.addHandler(_CurrentStdoutHandler())
    # The runtime's root handler would prefix our JSON with text; ours prints it bare.
    logger.propagate = False
    logger.setLevel(level)
    return logger


_LEVEL, _LEVEL_UNUSABLE = log_level_from(os.environ.get("LOG_LEVEL"))
_LOGGER = _build_logger(_LEVEL)


class RotationLog:
    """A logger bound to the fields of one invocation (step, secret ARN, version id)."""

    # Field values are identifiers, outcomes and codes (str, int, None), serialised with default=str.
    def __init__(self, **bound: object) -> None:
        _check_fields(bound)
        self._bound = bound

    def bind(self, **more: object) -> "RotationLog":
        return RotationLog(**{**self._bound, **more})

    def info(self, message: str, **fields: object) -> None:
        self._log(logging.INFO, message, fields)

    def warning(self, message: str, **fields: object) -> None:
        self._log(logging.WARNING, message, fields)

    def error(self, message: str, **fields: object) -> None:
        self._log(logging.ERROR, message, fields)

    def _log(self, level: int, message: str, fields: dict[str, object]) -> None:
        if not _LOGGER.isEnabledFor(level):
            return
        _check_fields(fields)
        line = {"level": logging.getLevelName(level), "message": message, **self._bound, **fields}
        _LOGGER.log(level, json.dumps(line, sort_keys=True, default=str))


def _check_fields(fields: dict[str, object]) -> None:
    unknown = set(fields) - ALLOWED_FIELDS
    if unknown:
        # A programming error caught by the tests, before any value could be logged.
        raise TypeError(f"log fields not allowed: {sorted(unknown)}")


def describe_error(error: BaseException) -> dict[str, str]:
    """Loggable facts about an exception: its type and a machine code, never its message."""
    facts = {"error_type": type(error).__name__}
    code = _error_code(error)
    if code:
        facts["error_code"] = code
    endpoint = unreachable_endpoint(error)
    if endpoint:
        facts["aws_endpoint"] = endpoint  # a public AWS URL: what the function could not reach
    if isinstance(error, ValueFault):
        facts.update(fault_stage=error.label, fault_version_id=error.version_id or "-",
                     fault_field=error.field or "-")
    return facts


def _error_code(error: BaseException) -> str | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        code: str | None = response.get("Error", {}).get("Code")
        return code
    details: Any = error.args[0] if error.args else None
    if isinstance(details, dict):  # pg8000 DatabaseError: SQLSTATE
        sqlstate: str | None = details.get("C")
        return sqlstate
    return None


if _LEVEL_UNUSABLE:  # once per cold start, without the value
    RotationLog().warning(f"environment variable LOG_LEVEL is not one of {', '.join(LOG_LEVELS)} (any case): "
                          f"logging at {DEFAULT_LOG_LEVEL}", outcome="log-level-defaulted")
