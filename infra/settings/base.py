"""Shared pieces of the settings models: camelCase config keys, strict parsing, error formatting."""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

CONFIG_NAMESPACE = "securestack"

AWS_ACCOUNT_ID = re.compile(r"^\d{12}$")
# AWS tag values: letters, digits, spaces and _ . : / = + - @ (no '*' or ',').
AWS_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]*$")
AWS_TAG_KEY = re.compile(r"^(?!aws:)[\w .:/=+\-@]{1,128}$")


class SettingsModel(BaseModel):
    """Base for every config section: camelCase keys as written in Pulumi.<stack>.yaml, unknown keys refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
    )


class SettingsError(ValueError):
    """Raised before any resource is registered; lists every problem with its config key path."""

    def __init__(self, problems: Iterable[str]):
        self.problems = sorted(set(problems))
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid stack configuration ({len(self.problems)} problem(s)):\n{listing}")


def _format_location(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if part == "[key]":  # pydantic marks a mapping's invalid key; the key itself already names the place
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        elif path:
            path += f".{part}"
        else:
            path = str(part)
    return path


_MESSAGES: dict[str, Callable[[ErrorDetails], str]] = {
    "missing": lambda e: "required key is missing",
    "extra_forbidden": lambda e: "unknown key (check the spelling; keys are camelCase)",
    "greater_than_equal": lambda e: f"must be >= {e['ctx']['ge']}",
    "less_than_equal": lambda e: f"must be <= {e['ctx']['le']}",
    "greater_than": lambda e: f"must be > {e['ctx']['gt']}",
    "less_than": lambda e: f"must be < {e['ctx']['lt']}",
}


def _message(error: ErrorDetails) -> str:
    render = _MESSAGES.get(error["type"])
    if render is not None:
        return render(error)
    message = error["msg"]
    # Pydantic prefixes custom ValueErrors; the key path already says where.
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def problems_from(error: ValidationError, config_key: str) -> list[str]:
    """Turns a pydantic error into `namespace:key.path: message` lines (aliases, i.e. config spelling)."""
    problems = []
    for item in error.errors():
        path = _format_location(item["loc"])
        # A list section's entries read `securestack:apiKeys[3].scopes`, a mapping's fields `...:database.port`.
        key = f"{config_key}{path}" if path.startswith("[") or not path else f"{config_key}.{path}"
        problems.append(f"{key}: {_message(item)}")
    return problems


def unique(values: list[str], what: str) -> list[str]:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"duplicate {what}: {', '.join(duplicates)}")
    return values
