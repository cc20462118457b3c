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
    """What is wrong with one version's value: its stage (`label`), the field, and the problem (code text, never a
    value). The protocol adds the secret's ARN and the version id (`located`) before the step fails, so the error
    and its log line say which version to repair: a bad AWSCURRENT is never blamed on the AWSPENDING version."""

    def __init__(self, label: str, field: str | None, problem: str, secret_arn: str | None = None,
                 version_id: str | None = None) -> None:
        self.label, self.field, self.problem = label, field, problem
        self.secret_arn, self.version_id = secret_arn, version_id
        what = f"{label} value" if field is None else f"{label} value field '{field}'"
        where = "" if secret_arn is None else f" (secret {secret_arn}, version {version_id or 'unknown'})"
        super().__init__(f"{what} {problem}{where}")

    def located(self, secret_arn: str, version_id: str | None) -> ValueFault:
        """This fault in that secret's version; one already located (e.g. in another secret) stays as it is."""
        if self.secret_arn is not None:
            return self
        return ValueFault(self.label, self.field, self.problem, secret_arn, version_id)


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


def json_type(value: object) -> str:
    """The JSON name of a value's type, for messages that must not show the value itself."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def require_text(value: SecretValue, name: str, label: str) -> str:
    """A field that must be a non-empty string (a name, a host, a user): its type is checked before any use."""
    field = value.get(name)
    if not isinstance(field, str):
        raise ValueFault(label, name, f"must be a string, not {json_type(field)}")
    if not field.strip():
        raise ValueFault(label, name, "must not be empty")
    return field


def require_tagged(value: SecretValue, name: str, label: str, tag: str, tagged: object) -> None:
    """An identity field must say what the secret's tag says: the tags are written by the stack, the value can be
    edited by anyone allowed PutSecretValue, and a rotation copies the value into the next version."""
    if value.get(name) != tagged:
        raise ValueFault(label, name, f"differs from secret tag '{tag}'")


def require_scope_list(value: SecretValue, name: str, label: str) -> Sequence[str]:
    """A non-empty list of distinct scope names without spaces."""
    scopes = value.get(name)
    if not isinstance(scopes, list):
        raise ValueFault(label, name, f"must be a list of scopes, not {json_type(scopes)}")
    if not scopes:
        raise ValueFault(label, name, "must not be empty")
    if not all(isinstance(scope, str) and scope and not any(c.isspace() for c in scope) for scope in scopes):
        raise ValueFault(label, name, "must hold non-empty scope names without spaces")
    if len(set(scopes)) != len(scopes):
        raise ValueFault(label, name, "names a scope twice")
    return scopes


def require_same(pending: SecretValue, expected: SecretValue, names: Iterable[str], expected_label: str) -> None:
    """Fields that must not change across a rotation (env, name, scopes, host, ...)."""
    for name in names:
        if pending.get(name) != expected.get(name):
            raise ValueFault("AWSPENDING", name, f"differs from {expected_label}")


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
