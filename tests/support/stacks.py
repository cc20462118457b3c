"""The shipped stacks and variants of their config on the recording engine, for the mock-engine tests.

Recordings of the shipped stacks are cached for the whole test session (one program run per stack, shared by
pytest-xdist's workers); variants are recorded per test. Config edits work on the flat `namespace:key -> text` map the engine
hands to the program (structured sections are JSON text, as the Pulumi CLI passes them).
"""
from __future__ import annotations

import functools
import json
import pickle
import secrets
from pathlib import Path
from typing import Any, Iterator, Mapping

from filelock import FileLock

from securestack.infra.preview import run_stack
from securestack.infra.program import build
from securestack.infra.recording import RecordedResource, Recording, Secret, record
from securestack.infra.stack_config import available_stacks, read_stack_config
from tests.support.session_ledger import config_digest, shared_directory

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The two stacks this repository ships, for tests of what their files say (dev's account, prod's domain, ...).
SHIPPED_STACKS = ("dev", "prod")
# Every stack file at the repo root (the shipped ones and any a user adds, e.g. staging or a restore stack): every
# stack-level test is parametrized over these, so a new environment gets the same checks. Recorded through the
# same cache as the shipped stacks, so no stack is recorded twice.
STACK_FILES = tuple(available_stacks(PROJECT_ROOT))
DELETE = object()  # as a field value in `edited(...)`: remove that field


def absent_stack() -> str:
    """A stack name no project has: tests of an unknown stack never depend on a name (`staging`) being unused."""
    return f"no-such-stack-{secrets.token_hex(4)}"


@functools.lru_cache(maxsize=None)
def shipped_recording(stack: str, preview: bool = False) -> Recording:
    """The stack (any in STACK_FILES) exactly as `python -m infra.preview <stack>` runs it (`preview`: as
    `--mode=preview` runs it), recorded once per session.

    One recording for all of pytest-xdist's workers: the first to ask records it into the session's shared
    directory under a lock (the FileLock pattern of pytest-xdist's docs, "Making session-scoped fixtures execute
    only once"); the others wait for it and read the file. Every caller shares the returned value: copy before
    editing it (tests/policy/test_policy_mutations.py's `mutable_copy`)."""
    stack_config = read_stack_config(stack)
    key = config_digest(stack_config.stack, stack_config.project, stack_config.config, stack_config.secret_keys,
                        preview)
    cached = shared_directory() / "recordings" / f"{stack}-{key[:16]}.pickle"
    cached.parent.mkdir(exist_ok=True)
    with FileLock(str(cached) + ".lock"):
        if cached.exists():
            # Written by this session's own processes a moment ago (never read from outside the session).
            return pickle.loads(cached.read_bytes())
        recording = run_stack(stack_config, preview=preview)
        partial = cached.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(recording, protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(cached)
        return recording


def shipped_config(stack: str) -> dict[str, str]:
    return dict(read_stack_config(stack).config)


def section(config: Mapping[str, str], key: str) -> dict[str, Any]:
    raw = config.get(key)
    return json.loads(raw) if raw else {}


def edited(config: Mapping[str, str], key: str, **fields: Any) -> dict[str, str]:
    """A copy of `config` whose structured entry `key` has `fields` set (or removed with DELETE)."""
    value = section(config, key)
    for name, field_value in fields.items():
        if field_value is DELETE:
            value.pop(name, None)
        else:
            value[name] = field_value
    return {**config, key: json.dumps(value)}


def replaced(config: Mapping[str, str], key: str, value: Any = DELETE) -> dict[str, str]:
    """A copy of `config` with `key` removed (no value) or set; non-text values are written as JSON."""
    changed = {k: v for k, v in config.items() if k != key}
    if value is not DELETE:
        changed[key] = value if isinstance(value, str) else json.dumps(value)
    return changed


def record_config(config: Mapping[str, str], stack: str) -> Recording:
    """The real stack program on the recording engine with `config`."""
    return record(build, stack=stack, config=config)


def settings_of(stack: str):
    from securestack.infra.settings import build_settings

    return build_settings(shipped_config(stack), stack)


def account_of(stack: str) -> str:
    """The account a stack deploys to (the first of its aws:allowedAccountIds): what its ARNs and policies name."""
    return settings_of(stack).allowed_account_ids[0]


def walk(value: Any) -> Iterator[Any]:
    """Every nested value (dict values, list items) including `value` itself."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from walk(item)


def contains_secret(value: Any) -> bool:
    return any(isinstance(item, Secret) for item in walk(value))


def by_output_id(recording: Recording, type_: str) -> dict[str, RecordedResource]:
    """Resources of one type keyed by the id the engine gave them (what other resources' inputs hold)."""
    return {r.id: r for r in recording.of_type(type_)}


def by_output(recording: Recording, output: str, type_: str) -> dict[Any, RecordedResource]:
    """Resources of one type keyed by one of their outputs (e.g. `arn`)."""
    return {r.outputs.get(output): r for r in recording.of_type(type_)}


def children_of(recording: Recording, parent: RecordedResource) -> list[RecordedResource]:
    return [r for r in recording.resources if r.parent == parent.urn]


def policy_statements(document: str) -> list[dict[str, Any]]:
    statements = json.loads(document)["Statement"]
    return statements if isinstance(statements, list) else [statements]
