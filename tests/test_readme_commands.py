"""Every command README shows is written as it runs from a fresh checkout: the project's own interpreter.

A bare `python -m infra.preview` (or `pytest`) runs whatever `python` is first on PATH, which lacks the project's
packages: a traceback instead of the documented behaviour. README's first command creates `.venv`; every later
one runs `.venv/bin/python -m ...`. Only `python3 -m venv` (which makes that venv) may use the system interpreter.
"""
from __future__ import annotations

import re

import pytest

from tests.support.readme import code_spans, fenced_blocks, readme_text

# A bare interpreter or test runner in command position: not `.venv/bin/python`, not `python3 -m venv`, not a
# mention like `pytest.ini` or a layout line `pytest: ...`.
BARE_COMMAND = re.compile(r"(?<![\w./-])(?:python3?\s+-m\s+(?!venv\b)\S+|python3?\s+\S+\.py\b|(?<!-m )pytest(?![\w.:-]))")


def bare_commands(code: str) -> list[str]:
    return [match.group(0) for match in BARE_COMMAND.finditer(code)]


def readme_code() -> list[str]:
    text = readme_text()
    return [line for _, body in fenced_blocks(text) for line in body.splitlines()] + code_spans(text)


def test_readme_writes_every_command_with_the_projects_interpreter():
    found = [(line.strip(), bare) for line in readme_code() for bare in bare_commands(line)]
    assert found == [], "\n".join(f"{bare!r} in: {line}" for line, bare in found)


def test_readme_shows_commands_in_both_blocks_and_spans():
    # The scan above proves nothing if it reads no code: README runs its CLIs in blocks and in inline spans.
    code = readme_code()
    assert sum(".venv/bin/python -m infra.preview" in line for line in code) >= 5
    assert any(line.startswith(".venv/bin/python -m pytest") for line in code)


@pytest.mark.parametrize("command", [
    "python -m infra.preview dev",
    "python3 -m infra.verify prod",
    "pulumi stack output --json | python -m infra.verify prod",
    "python bench/preview.py",
    "pytest -q tests/test_settings.py",
    "pytest",
    "cd repo && python -m pytest",
])
def test_bare_commands_are_found(command):
    assert bare_commands(command)


@pytest.mark.parametrize("text", [
    ".venv/bin/python -m infra.preview dev",
    ".venv/bin/python -m pytest -q",
    "python3 -m venv .venv && .venv/bin/pip install -q -r requirements-dev.txt",
    "tests/        pytest: settings, components, stacks, policies, lambdas",
    "pytest.ini",
    "python <repo> <engine>",
])
def test_commands_written_as_they_run_pass(text):
    assert bare_commands(text) == []
