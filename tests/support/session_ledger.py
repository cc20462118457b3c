"""Issue 16 target 5, made checkable: no stack is recorded twice in a session and no preview subprocess runs twice.

Every recording of the real stack program (`securestack.infra.program.build`, what `infra.preview` runs) and every
`python -m infra.preview` subprocess is written to a ledger with the test that caused it. At the end of the session
the ledger is read (all pytest-xdist workers' entries: the ledger lives in the session's shared directory) and the
session fails, naming the tests, when the same stack and config was recorded twice, or the same preview argv ran
twice in the same directory. A test that must record or preview afresh on purpose (it counts what a recording does,
or compares two recordings) says so with `@pytest.mark.records_fresh`; its entries are not counted.

The shared directory is also where tests/support/stacks.py keeps the recordings every worker reads
(`shared_directory()`).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

import pytest

FRESH_MARKER = "records_fresh"
# The controller creates the directory and hands it to each pytest-xdist worker in `workerinput` (xdist's
# pytest_configure_node hook); without xdist the single process is its own controller.
WORKER_INPUT_KEY = "securestack_session_directory"
PREVIEW_MODULES = ("infra.preview", "securestack.infra.preview")
STACK_PROGRAM = ("securestack.infra.program", "build")

_state: dict[str, Any] = {"directory": None, "test": None, "fresh": False}


def shared_directory() -> Path:
    """The directory this session's processes share (created by the controller, removed when it ends)."""
    directory = _state["directory"]
    if directory is None:
        raise RuntimeError("the session ledger is not configured (tests/conftest.py registers it)")
    return directory


def config_digest(stack: str, project: str, config: Mapping[str, Any], secret_keys: Optional[Iterable[str]],
                  preview: bool) -> str:
    """What a recording of the stack program depends on besides the code: one digest per distinct run."""
    described = json.dumps({"stack": stack, "project": project, "config": dict(config),
                            "secretKeys": sorted(secret_keys or ()), "preview": preview}, sort_keys=True)
    return hashlib.sha256(described.encode()).hexdigest()


def _write(entry: dict[str, Any]) -> None:
    directory = _state["directory"]
    if directory is None:  # a recording outside a test session (never here)
        return
    entry = {**entry, "test": _state["test"], "fresh": _state["fresh"], "pid": os.getpid()}
    # One short line per write with O_APPEND: the workers' lines never interleave (POSIX append semantics).
    with open(directory / "ledger.jsonl", "a", encoding="utf-8") as ledger:
        ledger.write(json.dumps(entry) + "\n")


def _is_stack_program(program: Callable[..., Any]) -> bool:
    return (getattr(program, "__module__", None), getattr(program, "__qualname__", None)) == STACK_PROGRAM


def _counting_record(record: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(record)
    def counted(program: Callable[[], Any], *, stack: str, config: Mapping[str, str], project: str = "securestack",
                secret_keys: Optional[list[str]] = None, preview: bool = False, **rest: Any) -> Any:
        if _is_stack_program(program):
            _write({"kind": "recording", "stack": stack,
                    "key": config_digest(stack, project, config, secret_keys, preview)})
        return record(program, stack=stack, config=config, project=project, secret_keys=secret_keys,
                      preview=preview, **rest)

    return counted


def _preview_argv(args: Any) -> Optional[list[str]]:
    argv = [str(part) for part in args] if isinstance(args, (list, tuple)) else None
    if not argv or "-m" not in argv[:-1]:
        return None
    module = argv[argv.index("-m") + 1]
    return argv[argv.index("-m") + 1:] if module in PREVIEW_MODULES else None


def _stream(target: Any) -> str:
    if target in (None, subprocess.PIPE, subprocess.DEVNULL, subprocess.STDOUT):
        return {None: "inherited", subprocess.PIPE: "pipe", subprocess.DEVNULL: "null", subprocess.STDOUT: "stdout"}[
            target]
    return "terminal" if isinstance(target, int) and os.isatty(target) else "file"


def _preview_run(argv: list[str], keywords: Mapping[str, Any]) -> list[Any]:
    """What makes two preview subprocesses the same run: argv, directory, the code on PYTHONPATH (a project copy's
    or a shadowing package) and where its streams go (a status line shows only on a terminal)."""
    environment = keywords.get("env") or os.environ
    streams = [_stream(keywords.get(name)) for name in ("stdin", "stdout", "stderr")]
    return [argv, str(Path(keywords.get("cwd") or os.getcwd()).resolve()), environment.get("PYTHONPATH", ""),
            streams]


def _counting_popen(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def counted(self: subprocess.Popen, args: Any, *positional: Any, **keywords: Any) -> None:
        argv = _preview_argv(args)
        if argv is not None:
            _write({"kind": "preview", "stack": " ".join(argv), "key": json.dumps(_preview_run(argv, keywords))})
        init(self, args, *positional, **keywords)

    return counted


def install() -> None:
    """Wraps the recording engine's `record` and `subprocess.Popen` before any test module imports them.

    Must run before `securestack.infra.preview` (which binds `record` by name) is imported: tests/conftest.py
    calls it first thing."""
    import securestack.infra.recording as recording

    if not getattr(recording.record, "_securestack_counted", False):
        recording.record = _counting_record(recording.record)
        recording.record._securestack_counted = True  # type: ignore[attr-defined]
        subprocess.Popen.__init__ = _counting_popen(subprocess.Popen.__init__)  # type: ignore[method-assign]


def duplicates(lines: Iterable[str]) -> list[str]:
    """One message per (kind, key) written more than once by tests not marked records_fresh."""
    seen: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        entry = json.loads(line)
        if not entry["fresh"]:
            seen[(entry["kind"], entry["key"])].append(entry)
    return [f"{kind} of {entries[0]['stack']} made {len(entries)} times, by: "
            + ", ".join(sorted({str(entry['test']) for entry in entries}))
            for (kind, _), entries in sorted(seen.items()) if len(entries) > 1]


class SessionLedger:
    """The pytest plugin: sets the ledger up, follows the running test, and checks the ledger at the end."""

    def __init__(self, config: pytest.Config):
        worker_input = getattr(config, "workerinput", None)
        self.controller = worker_input is None
        if self.controller:
            _state["directory"] = Path(tempfile.mkdtemp(prefix="securestack-session-"))
        else:
            _state["directory"] = Path(worker_input[WORKER_INPUT_KEY])

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_INPUT_KEY] = str(_state["directory"])

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Optional[pytest.Item]) -> Any:
        _state["test"], _state["fresh"] = item.nodeid, item.get_closest_marker(FRESH_MARKER) is not None
        try:
            return (yield)
        finally:
            _state["test"], _state["fresh"] = None, False

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.controller:
            return
        ledger = _state["directory"] / "ledger.jsonl"
        found = duplicates(ledger.read_text(encoding="utf-8").splitlines()) if ledger.exists() else []
        if found:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_sep("=", "session ledger: made twice in this session", red=True)
                for message in found:
                    reporter.write_line(f"session ledger: {message}", red=True)
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.controller and _state["directory"] is not None:
            shutil.rmtree(_state["directory"], ignore_errors=True)
