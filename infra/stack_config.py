"""Reads Pulumi.yaml / Pulumi.<stack>.yaml as the CLI would hand them to the program, without the CLI."""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

SECRET_PLACEHOLDER = "[secret]"
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class StackConfigError(Exception):
    """A stack that cannot be read: unknown name, missing file, invalid YAML. Its message is one line."""


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    config: dict[str, str]
    secret_keys: list[str]
    path: Path


class _ConfigLoader(yaml.SafeLoader):
    """Safe YAML that keeps unquoted dates/times as text, as the Pulumi CLI (go-yaml) hands them to programs.

    PyYAML would make `restoreTime: 2026-11-20T03:15:00Z` a datetime, which JSON (how structured config
    reaches the program) cannot carry.
    """


class DuplicateKeyError(yaml.YAMLError):
    """A mapping names a key twice. YAML says keys are unique; PyYAML (and go-yaml before v3) kept the last value
    silently, so a second `securestack:database:` replaced the whole first section."""

    def __init__(self, key: Any, first_line: int, mark: yaml.Mark):
        self.problem = f"duplicate key '{key}' (first at line {first_line})"
        self.problem_mark = mark
        super().__init__(self.problem)


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    first_lines: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (str, int, float, bool)) or key is None:
            if key in first_lines:
                raise DuplicateKeyError(key, first_lines[key], key_node.start_mark)
            first_lines[key] = key_node.start_mark.line + 1
    if not hasattr(loader, "key_lines"):  # the document's root mapping: where each top-level key is
        loader.key_lines = dict(first_lines)  # type: ignore[attr-defined]
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_ConfigLoader.construct_mapping = _construct_unique_mapping  # type: ignore[assignment,method-assign]

_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _load_yaml(path: Path) -> Any:
    return _load_yaml_with_lines(path)[0]


def _load_yaml_with_lines(path: Path) -> tuple[Any, dict[Any, int]]:
    """The document and the line of each of its top-level keys."""
    try:
        loader = _ConfigLoader(path.read_text(encoding="utf-8"))
        try:
            return loader.get_single_data(), getattr(loader, "key_lines", {})
        finally:
            loader.dispose()
    except FileNotFoundError:
        raise StackConfigError(f"{path.name} not found in {path.parent}") from None
    except IsADirectoryError:
        raise StackConfigError(f"{path.name} is a directory, not a stack file") from None
    except OSError as error:  # no permission, a FIFO or device that fails: one line, never a traceback
        raise StackConfigError(f"{path.name} cannot be read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise StackConfigError(f"{path.name} is not UTF-8 text (byte {error.start})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise StackConfigError(f"{path.name} is not valid YAML{where}: {problem}") from None


def project_root(start: Optional[Path] = None) -> Path:
    """The Pulumi project a command runs in: the nearest directory at or above `start` (default: the current
    directory) holding Pulumi.yaml, as the Pulumi CLI finds it. Never the installed package's own location: an
    installed securestack reads the stack files of the project it is run in."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    raise StackConfigError(f"Pulumi.yaml not found in {here} or any directory above it: run from a Pulumi project")


def project_name(root: Optional[Path] = None) -> str:
    root = project_root() if root is None else root
    document = _load_yaml(root / "Pulumi.yaml")
    name = document.get("name") if isinstance(document, dict) else None
    if not isinstance(name, str):
        raise StackConfigError("Pulumi.yaml has no project name")
    return name


def available_stacks(root: Optional[Path] = None) -> list[str]:
    root = project_root() if root is None else root
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def _flatten(key: str, value: Any, secret_keys: list[str]) -> str:
    """Config values reach the program as text: scalars as-is, structures as JSON, `secure:` masked."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        secret_keys.append(key)
        return SECRET_PLACEHOLDER
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(_mask_nested(value, key, secret_keys))


def _mask_nested(value: Any, key: str, secret_keys: list[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            if key not in secret_keys:
                secret_keys.append(key)
            return SECRET_PLACEHOLDER
        return {k: _mask_nested(v, key, secret_keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_nested(v, key, secret_keys) for v in value]
    return value


# What a stack file holds at its top level (Pulumi's workspace.ProjectStack: sdk/go/common/workspace/project.go).
STACK_FILE_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt", "config", "environment")


def _refuse_unknown_top_level_keys(path: Path, document: dict[Any, Any], key_lines: dict[Any, int]) -> None:
    """`confg:` for `config:` would otherwise read as a stack without config (every required key "missing")."""
    for key in document:
        if key not in STACK_FILE_KEYS:
            close = difflib.get_close_matches(str(key), STACK_FILE_KEYS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise StackConfigError(f"{path.name} line {key_lines.get(key, '?')}: unknown top-level key '{key}'{hint} "
                                   f"(a stack file holds {', '.join(STACK_FILE_KEYS)})")


def esc_imports(environment: Any) -> list[str]:
    """What a stack file's `environment:` asks Pulumi ESC for, as Pulumi reads it (sdk/go/common/workspace/
    project.go, `Environment`): a list of environment names, or an inline environment definition whose `imports:`
    entries are names or `{name: {merge: false}}` and whose `values:` are evaluated by ESC too."""
    if isinstance(environment, list):
        return [_import_name(entry) for entry in environment]
    if isinstance(environment, dict):
        imports = environment.get("imports") or []
        names = [_import_name(entry) for entry in (imports if isinstance(imports, list) else [imports])]
        defines = any(value for key, value in environment.items() if key != "imports")  # `values:`, or any other key
        return names + (["(an inline definition)"] if defines else [])
    return [] if environment is None else [_import_name(environment)]


def _import_name(entry: Any) -> str:
    if isinstance(entry, dict) and len(entry) == 1:  # `- auth-core: { merge: false }`
        entry = next(iter(entry))
    return " ".join(str(entry).split())  # the refusal stays one line


def _refuse_esc_environment(path: Path, document: dict[Any, Any]) -> None:
    """Without Pulumi Cloud nothing here can open an ESC environment, and reading the file without it would run the
    program on config the real stack does not have (its `pulumiConfig` values missing or replaced). An empty
    `environment:` imports nothing (Pulumi treats it as none) and is read as usual."""
    names = esc_imports(document.get("environment"))
    if names:
        raise StackConfigError(f"{path.name}: environment: imports Pulumi ESC environment(s) {', '.join(names)}, "
                               "which the offline tools cannot resolve (no Pulumi Cloud here); run pulumi preview, "
                               "or inline the values into the stack file")


def read_stack_config(stack: str, root: Optional[Path] = None, config_file: Optional[Path] = None) -> StackConfig:
    """The stack's config from `root/Pulumi.<stack>.yaml`, or from `config_file` (as `pulumi --config-file`
    takes one: any path, e.g. a stack file outside the project); the project name always from root's Pulumi.yaml."""
    if not STACK_NAME.match(stack):
        raise StackConfigError(f"'{stack}' is not a stack name")
    root = project_root() if root is None else root
    path = Path(config_file) if config_file is not None else root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        if config_file is not None:
            raise StackConfigError(f"config file {path} not found")
        known = ", ".join(available_stacks(root)) or "none"
        raise StackConfigError(f"unknown stack '{stack}': no Pulumi.{stack}.yaml (known stacks: {known})")
    project = project_name(root)
    document, key_lines = _load_yaml_with_lines(path)
    document = document or {}
    if not isinstance(document, dict):
        raise StackConfigError(f"{path.name} must be a mapping with a 'config:' section")
    _refuse_unknown_top_level_keys(path, document, key_lines)
    _refuse_esc_environment(path, document)
    raw = document.get("config") or {}
    if not isinstance(raw, dict):
        raise StackConfigError(f"{path.name}: 'config:' must be a mapping of keys to values")
    secret_keys: list[str] = []
    config = {}
    for key, value in raw.items():
        full_key = str(key) if ":" in str(key) else f"{project}:{key}"
        config[full_key] = _flatten(full_key, value, secret_keys)
    return StackConfig(project=project, stack=stack, config=config, secret_keys=secret_keys, path=path)
