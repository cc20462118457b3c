"""Helpers for secret values (JSON objects). Error messages name fields, never show values."""

from __future__ import annotations

import datetime
import hmac
import json
from collections.abc import Iterable, Sequence
from typing import Any

# A version's value: the JSON object Secrets Manager holds (its fields depend on the kind).
SecretValue = dict[str, Any]


class ValueFault(ValueError):
    """A fault in one version's value (stage `label`, field, problem: never a value); `located` names the version."""

    def __init__(self, label: str, field: str | None, problem: str, secret_arn: str | None = None,
                 version_id: str | None = None) -> None:
        self.label, self.field, self.problem = label, field, problem
        self.secret_arn, self.version_id = secret_arn, version_id
        what = f"{label} value" if field is None else f"{label} value field '{field}'"
        where = "" if secret_arn is None else f" (secret {secret_arn}, version {version_id})"
        super().__init__(f"{what} {problem}{where}")

    def located(self, secret_arn: str, version_id: str | None) -> ValueFault:
        return self if self.secret_arn else ValueFault(self.label, self.field, self.problem, secret_arn, version_id)


def parse_secret_json(text: str, label: str) -> SecretValue:
    """The JSON object stored in a version; `label` (e.g. 'AWSCURRENT') names it in errors."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        # `from None`: the decoder's error carries the document, i.e. the secret.
        raise ValueFault(label, None, "is not valid JSON") from None
    if not isinstance(value, dict):
        raise ValueFault(label, None, "is not a JSON object")
    return value


def require_fields(value: SecretValue, names: Iterable[str], label: str) -> None:
    for name in names:
        field = value.get(name)
        if field is None or field == "" or field == []:
            raise ValueFault(label, name, "is missing or empty")


_JSON_TYPES = ((bool, "a boolean"), ((int, float), "a number"), (str, "a string"), (list, "a list"),
               (type(None), "null"))


def json_type(value: object) -> str:
    """A value's JSON type, for messages that must not show the value."""
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "an object")


def require_text(value: SecretValue, name: str, label: str) -> str:
    field = value.get(name)
    if not isinstance(field, str):
        raise ValueFault(label, name, f"must be a string, not {json_type(field)}")
    if not field.strip():
        raise ValueFault(label, name, "must not be empty")
    return field


def require_scope_list(value: SecretValue, name: str, label: str) -> Sequence[str]:
    scopes = value.get(name)
    if not isinstance(scopes, list):
        raise ValueFault(label, name, f"must be a list of scopes, not {json_type(scopes)}")
    if not all(isinstance(scope, str) and scope and not any(c.isspace() for c in scope) for scope in scopes):
        raise ValueFault(label, name, "must hold non-empty scope names without spaces")
    if len(set(scopes)) != len(scopes):
        raise ValueFault(label, name, "names a scope twice")
    return scopes


def secrets_equal(first: object, second: object) -> bool:
    """Constant-time comparison so a timing side channel can't reveal a secret."""
    return hmac.compare_digest(str(first).encode(), str(second).encode())


def utc_timestamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_timestamp(text: str, label: str) -> None:
    try:
        datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        raise ValueFault(label, "created_at", "is not a UTC timestamp") from None
