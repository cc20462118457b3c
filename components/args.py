"""Component Args as Python callers and the component provider hand them over (a helper, not a component).

A Python program passes a component its Args dataclass. The component provider (`pulumi package add`, from
TypeScript, Go, C# or YAML) hands the same inputs as a dict keyed by the Python field names, nested types as dicts
too and enums as their values (pulumi.provider.experimental.component.ComponentProvider.map_inputs). `as_args`
turns either into the dataclass, so the component has one typed path and the dataclass's defaults and
`__post_init__` checks apply to every caller.
"""
import dataclasses
import re
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import pulumi

ArgsT = TypeVar("ArgsT")


class ArgsError(ValueError):
    """An Args value the component refuses; its message is one line naming the field."""


def as_args(cls: type[ArgsT], value: object) -> ArgsT:
    """`value` as a `cls` (a dataclass): returned as is when it already is one, built from a mapping otherwise."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ArgsError(f"{cls.__name__}: expected {cls.__name__} or a mapping of its fields, "
                        f"got {type(value).__name__}")
    return typing.cast(ArgsT, _dataclass_from_mapping(cls, value, cls.__name__))


def _dataclass_from_mapping(cls: type, value: Mapping[str, Any], path: str) -> Any:
    fields = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(str(name) for name in value if name not in fields)
    if unknown:
        raise ArgsError(f"{path}: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(fields))})")
    # pulumi.Input's alternatives name 'Output' as a forward reference, resolved in the SDK's namespace.
    hints = typing.get_type_hints(cls, localns=vars(pulumi.output))
    return cls(**{name: _convert(hints[name], item, f"{path}.{name}") for name, item in value.items()})


def _convert(hint: Any, value: Any, path: str) -> Any:
    """`value` shaped by `hint`: nested dataclasses from mappings, enums from their values, in lists and maps too;
    anything else (plain values, Outputs, resources) as given."""
    for candidate in _alternatives(hint):
        origin = typing.get_origin(candidate) or candidate
        if dataclasses.is_dataclass(candidate) and isinstance(candidate, type) and isinstance(value, Mapping):
            return _dataclass_from_mapping(candidate, value, path)
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum) and not isinstance(value, candidate):
            try:
                return candidate(value)
            except ValueError:
                allowed = ", ".join(repr(member.value) for member in candidate)
                raise ArgsError(f"{path}: {value!r} is not one of {allowed}") from None
        if origin in (list, Sequence) and isinstance(value, (list, tuple)):
            (item_hint,) = typing.get_args(candidate) or (Any,)
            return [_convert(item_hint, item, f"{path}[{index}]") for index, item in enumerate(value)]
        if origin in (dict, Mapping) and isinstance(value, Mapping):
            _, item_hint = typing.get_args(candidate) or (str, Any)
            return {key: _convert(item_hint, item, f"{path}.{key}") for key, item in value.items()}
    return value


def _alternatives(hint: Any) -> list[Any]:
    """The types a hint admits, unions (Optional, pulumi.Input) unfolded, the most specific first."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        found: list[Any] = []
        for argument in typing.get_args(hint):
            found.extend(_alternatives(argument))
        return found
    return [hint]


# -- checks the Args of several components share (each raises one ArgsError line naming `<Args>.<field>`) -------

# The values CloudWatch Logs accepts as a log group's retention (PutRetentionPolicy, retentionInDays).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                      1096, 1827, 2192, 2557, 2922, 3288, 3653)
# An environment name goes into resource names such as `securestack-<env>-postgres` (an RDS identifier: letters,
# digits and hyphens, a letter first, no '--' and no trailing '-') and `securestack-<env>-s3-access-logs-<account>`
# (an S3 bucket name: at most 63 characters), so it is lowercase letters, digits and single hyphens, at most 12.
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
ENVIRONMENT_MAX_LENGTH = 12


def field_error(args: object, field_name: str, message: str) -> ArgsError:
    """The one line a bad field gives: `<ArgsClass>.<field>: <message>`."""
    return ArgsError(f"{type(args).__name__}.{field_name}: {message}")


def check_all(args: object, checks: "list[tuple[str, bool, str]]") -> None:
    """Raises the first failed (field, valid, message) check as that field's one line (`field_error`)."""
    for field_name, valid, message in checks:
        if not valid:
            raise field_error(args, field_name, message)


def check_environment(args: object, field_name: str = "environment") -> None:
    value = getattr(args, field_name)
    if not isinstance(value, str) or not ENVIRONMENT_NAME.match(value) or len(value) > ENVIRONMENT_MAX_LENGTH:
        raise field_error(args, field_name, f"{value!r} is not an environment name (lowercase letters, digits and "
                          f"single hyphens, a letter first, at most {ENVIRONMENT_MAX_LENGTH} characters, e.g. prod)")


def check_range(args: object, field_name: str, low: int, high: int) -> None:
    value = getattr(args, field_name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise field_error(args, field_name, f"{value!r} is not an integer from {low} to {high}")


def check_one_of(args: object, field_name: str, allowed: tuple[Any, ...], what: str) -> None:
    value = getattr(args, field_name)
    if isinstance(value, bool) or value not in allowed:
        raise field_error(args, field_name, f"{value!r} is not {what}; use one of "
                          f"{', '.join(str(item) for item in allowed)}")


def check_log_retention(args: object, field_name: str) -> None:
    check_one_of(args, field_name, LOG_RETENTION_DAYS, "a CloudWatch Logs retention in days")


def check_tags(args: object, field_name: str = "tags") -> None:
    """AWS tag rules every service enforces: keys 1-128 characters, not `aws:` (reserved), values <= 256."""
    tags = getattr(args, field_name)
    if not isinstance(tags, Mapping):
        raise field_error(args, field_name, f"expected a map of tag names to values, got {type(tags).__name__}")
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            raise field_error(args, field_name, f"{key!r} is not a tag key (1-128 characters, not starting with aws:)")
        if not isinstance(value, str) or len(value) > 256:
            raise field_error(args, f"{field_name}.{key}", "a tag value is a string of at most 256 characters")
