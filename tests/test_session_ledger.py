"""The session ledger (tests/support/session_ledger.py) that makes issue 16 target 5 checkable: every recording of
the stack program and every `infra.preview` subprocess is written down with its test, and a session in which one
is made twice (outside `records_fresh` tests) fails, naming the tests."""
from __future__ import annotations

import json
import secrets
import subprocess
import sys

import pytest

import securestack.infra.recording as recording
from tests.support import session_ledger


def entries_of(test: str) -> list[dict]:
    ledger = session_ledger.shared_directory() / "ledger.jsonl"
    return [entry for entry in map(json.loads, ledger.read_text().splitlines()) if entry["test"] == test]


def as_counted(entries: list[dict]) -> list[str]:
    """The entries as a test without the marker would have written them."""
    return [json.dumps({**entry, "fresh": False}) for entry in entries]


def stack_program() -> None:
    """Named as the real stack program is (the ledger knows it by module and name); registers nothing."""


stack_program.__module__, stack_program.__qualname__ = session_ledger.STACK_PROGRAM


@pytest.mark.records_fresh  # records the same stack twice on purpose, to see the ledger catch it
def test_a_stack_recorded_twice_is_written_down_twice_and_reported(request):
    config = {"aws:region": "us-east-1", "securestack:probe": secrets.token_hex(4)}
    for _ in range(2):
        recording.record(stack_program, stack="ledger-probe", config=config)
    recording.record(lambda: None, stack="ledger-probe", config=config)  # not the stack program: not counted
    entries = entries_of(request.node.nodeid)
    assert [(e["kind"], e["stack"], e["fresh"]) for e in entries] == [("recording", "ledger-probe", True)] * 2
    assert entries[0]["key"] == entries[1]["key"]
    assert session_ledger.duplicates(json.dumps(e) for e in entries) == []  # marked: not a duplicate
    [message] = session_ledger.duplicates(as_counted(entries))
    assert message == f"recording of ledger-probe made 2 times, by: {request.node.nodeid}"


@pytest.mark.records_fresh  # starts the same preview command line twice on purpose
def test_a_preview_subprocess_started_twice_is_reported_and_another_directory_is_another_run(request, tmp_path):
    # `-c pass` runs nothing: the ledger reads the command line Popen is given, not what the process does.
    probe = [sys.executable, "-c", "pass", "-m", "infra.preview", "ledger-probe"]
    for cwd in (None, None, tmp_path):
        subprocess.run(probe, cwd=cwd, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", "pass", "-m", "infra.verify", "ledger-probe"], check=True)
    entries = entries_of(request.node.nodeid)
    assert [(e["kind"], e["stack"]) for e in entries] == [("preview", "infra.preview ledger-probe")] * 3
    [message] = session_ledger.duplicates(as_counted(entries))
    assert message.startswith("preview of infra.preview ledger-probe made 2 times")


def test_two_runs_differ_by_stack_config_secret_keys_or_mode():
    base = session_ledger.config_digest("dev", "securestack", {"a": "1"}, [], preview=False)
    assert base == session_ledger.config_digest("dev", "securestack", {"a": "1"}, None, preview=False)
    assert len({base, session_ledger.config_digest("prod", "securestack", {"a": "1"}, [], preview=False),
                session_ledger.config_digest("dev", "securestack", {"a": "2"}, [], preview=False),
                session_ledger.config_digest("dev", "securestack", {"a": "1"}, ["a"], preview=False),
                session_ledger.config_digest("dev", "securestack", {"a": "1"}, [], preview=True)}) == 5
