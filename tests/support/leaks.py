"""A fixture that fails a test when a secret value it registered shows up in what the test or its subprocesses
printed or logged: the operator CLI's promise "never a value in stdout, stderr, logs or exceptions", checked on
every test that handles one rather than by a few asserts.

Usage: `leak_guard.register(value)` for each value the test handles, `leak_guard.observe(label, text)` for output
the test captured itself (a subprocess's stdout/stderr); the test's own stdout/stderr (file-descriptor level, so
child processes that inherit them are included) and log records are read at teardown. A part of a value counts: any
12-character piece of it, so a message quoting "the first characters" is caught too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import pytest

PIECE = 12  # the shortest run of a value that counts as leaking it (test values are random after their prefix)


@dataclass
class LeakGuard:
    values: list[str] = field(default_factory=list)
    observed: list[tuple[str, str]] = field(default_factory=list)

    def register(self, value: str) -> str:
        self.values.append(value)
        return value

    def observe(self, label: str, text: str | bytes | None) -> None:
        if text:
            self.observed.append((label, text.decode(errors="replace") if isinstance(text, bytes) else text))

    def leaks(self, extra: list[tuple[str, str]]) -> list[str]:
        """Where a registered value (or a piece of it) appeared: "value #n in <label>", never the value itself."""
        found = []
        for number, value in enumerate(self.values, 1):
            pieces = {value[i:i + PIECE] for i in range(max(1, len(value) - PIECE + 1))}
            for label, text in [*self.observed, *extra]:
                if any(piece in text for piece in pieces):
                    found.append(f"registered value #{number} in {label}")
        return found


@pytest.fixture
def leak_guard(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[LeakGuard]:
    guard = LeakGuard()
    yield guard
    out, err = capfd.readouterr()
    found = guard.leaks([("the test's stdout", out), ("the test's stderr", err), ("the test's logs", caplog.text)])
    if found:
        pytest.fail("a secret value leaked: " + "; ".join(found), pytrace=False)
