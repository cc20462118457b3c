"""Shared pieces of the settings models: camelCase config keys, strict parsing, error formatting."""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping, Optional

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo
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
    """Raised before any resource is registered; lists every problem (`<key path>: <message>`) in the order given
    (build_settings gives them in the stack file's order), each once. Its text is what the CLIs print after
    `error: stack '<stack>': ` (contract 14): `<n> settings problem(s):` then `  <key.path>: <message>` lines."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(dict.fromkeys(problems))
        listing = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} settings problem(s):\n{listing}")


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


def config_path(config_key: str, loc: tuple[Any, ...]) -> str:
    """`namespace:key.path` of a pydantic location (aliases, i.e. config spelling): a list section's entries read
    `securestack:apiKeys[3].scopes`, a mapping's fields `securestack:database.port`."""
    path = _format_location(loc)
    return f"{config_key}{path}" if path.startswith("[") or not path else f"{config_key}.{path}"


def problem_line(config_key: str, loc: tuple[Any, ...], error: ErrorDetails) -> str:
    return f"{config_path(config_key, loc)}: {_message(error)}"


def problems_from(error: ValidationError, config_key: str) -> list[str]:
    """Turns a pydantic error into `namespace:key.path: message` lines."""
    return [problem_line(config_key, tuple(item["loc"]), item) for item in error.errors()]


# -- what did not parse (pass 1 prunes it; pass 2's rules skip what reads it) ------------------------------------

def unparsed(context: Optional[Mapping[str, Any]], path: str) -> bool:
    """Whether the config value at `path` (`securestack:secrets.consumers.storefront`), something inside it or a
    value it is part of did not parse: a rule reading it would judge a default, not what the file says."""
    for pruned in (context or {}).get("unparsed", ()):
        if pruned == path or pruned.startswith((f"{path}.", f"{path}[")) or path.startswith((f"{pruned}.",
                                                                                             f"{pruned}[")):
            return True
    return False


def _last_segment(path: str) -> str:
    return re.split(r"[.\[]", path.rsplit(":", 1)[-1])[-1]


def fields_unparsed(info: ValidationInfo, *fields: str) -> bool:
    """Whether one of these fields (python names) of the section being validated did not parse. A rule on the
    fields of a model is skipped then (it would judge the default the pruned value leaves). A section names each
    key once across its nested models, so the field's camelCase name identifies it."""
    return bool((info.context or {}).get("model_rules_reported")) or _pruned(info, fields)


def _pruned(info: ValidationInfo, fields: Iterable[str]) -> bool:
    context = info.context or {}
    section, names = context.get("section", ""), {to_camel(field) for field in fields}
    return any(pruned.startswith(section) and _last_segment(pruned) in names for pruned in context.get("unparsed", ()))


def earlier(info: ValidationInfo, field: str, missing: Any = None) -> Any:
    """An earlier field's parsed value for a field validator's cross-field check; `missing` when it did not
    parse (absent from info.data in the first pass, pruned to its default in the next)."""
    return missing if _pruned(info, (field,)) else info.data.get(field, missing)


def unique(values: list[str], what: str) -> list[str]:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"duplicate {what}: {', '.join(duplicates)}")
    return values
