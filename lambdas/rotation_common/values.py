"""Helpers for secret values (JSON objects). Error messages name fields, never show values."""

import datetime
import hmac
import json
from collections.abc import Iterable
from typing import Any

# A version's value: the JSON object Secrets Manager holds (its fields depend on the kind).
SecretValue = dict[str, Any]


def parse_secret_json(text: str, label: str) -> SecretValue:
    """The JSON object stored in a version; `label` (e.g. 'AWSCURRENT') names it in errors."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        # `from None`: the decoder's error carries the document, i.e. the secret.
        raise ValueError(f"{label} value is not valid JSON") from None
    if not isinstance(value, dict):
        raise ValueError(f"{label} value is not a JSON object")
    return value


def require_fields(value: SecretValue, names: Iterable[str], label: str) -> None:
    for name in names:
        field = value.get(name)
        if field is None or field == "" or field == []:
            raise ValueError(f"{label} value field '{name}' is missing or empty")


def require_same(pending: SecretValue, expected: SecretValue, names: Iterable[str], expected_label: str) -> None:
    """Fields that must not change across a rotation (env, name, scopes, host, ...)."""
    for name in names:
        if pending.get(name) != expected.get(name):
            raise ValueError(f"AWSPENDING value field '{name}' differs from {expected_label}")


def secrets_equal(first: object, second: object) -> bool:
    """Constant-time comparison so a timing side channel can't reveal a secret."""
    return hmac.compare_digest(str(first).encode(), str(second).encode())


def utc_timestamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_timestamp(text: str, label: str) -> None:
    try:
        datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        raise ValueError(f"{label} value field 'created_at' is not a UTC timestamp") from None
