"""Running `python -m infra.secrets` as an operator does, for the tests of its commands: a subprocess with the boto3
default chain fed from the environment and nothing else from the machine running the tests."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence


def credentials_env() -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def no_aws_config() -> dict[str, str]:
    # Nothing from the machine running the tests: no profile, no files, no instance metadata.
    return {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def run_secrets_cli(cwd: Path, args: Sequence[str], endpoint: Optional[str], stdin: Optional[str] = None,
                    extra_env: Optional[Mapping[str, str]] = None, credentials: bool = True,
                    timeout: float = 120, in_process: bool = True) -> subprocess.CompletedProcess[str]:
    """The command with exactly `env` as its environment, `cwd` as its directory and `stdin` piped in.

    In-process by default: the command's entry point (`cli.run`, exit code and all) with the environment, directory
    and standard streams swapped for the call, since a fresh interpreter spends about 3 s importing the settings
    (pydantic, the components, pulumi_aws) and this file runs some 70 commands; `in_process=False` runs the real
    subprocess, which the end-to-end runbook tests keep."""
    env = {**no_aws_config(), **(credentials_env() if credentials else {}), **(extra_env or {})}
    options = [*args, *(["--endpoint-url", endpoint] if endpoint else [])]
    if in_process:
        return _in_process(cwd, options, env, stdin or "")
    command = [sys.executable, "-m", "infra.secrets", *options]
    return subprocess.run(command, cwd=cwd, env=env, input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=timeout)


def _in_process(cwd: Path, options: list[str], env: Mapping[str, str], stdin: str
                ) -> subprocess.CompletedProcess[str]:
    from securestack.infra.secrets.cli import main

    return run_entry_point(main, "infra.secrets", options, cwd, env, stdin)


def run_entry_point(main, module: str, options: Sequence[str], cwd: Path, env: Mapping[str, str], stdin: str = ""
                    ) -> subprocess.CompletedProcess[str]:
    """`python -m <module> <options>` without the fresh interpreter: the module's `main` through its entry point
    (`cli.run`, exit code, Ctrl-C and last-resort handling), with os.environ, the directory, sys.argv and the
    standard streams swapped for the call as a subprocess would have them."""
    from securestack.components import cli

    out, err = io.StringIO(), io.StringIO()
    piped = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    with _environment(env), contextlib.chdir(cwd), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err), _stdin(piped), _argv([module, *options]):
        try:
            cli.run(main, list(options))
            code = 0
        except SystemExit as exited:
            code = exited.code if isinstance(exited.code, int) else 1
    return subprocess.CompletedProcess([module, *options], code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    saved, sys.argv = sys.argv, argv
    try:
        yield
    finally:
        sys.argv = saved


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ is exactly `env` for the call (as a subprocess's would be), except moto's own settings: the
    in-process moto server reads them while it answers."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({k: v for k, v in saved.items() if k.startswith("MOTO_")}, **env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _stdin(stream: io.TextIOWrapper) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, stream
    try:
        yield
    finally:
        sys.stdin = saved


def run_at_terminal(cwd: Path, args: Sequence[str], endpoint: str, answers: Sequence[tuple[str, str]],
                    extra_env: Optional[Mapping[str, str]] = None, timeout: float = 120) -> tuple[int, str]:
    """The command on a pseudo-terminal (its stdin, stdout, stderr and controlling terminal, as an operator's shell
    gives it), answering each prompt as it appears: (prompt fragment, answer) in order. Returns the exit status and
    everything the terminal showed (with getpass's echo off, a typed value is not in it)."""
    import pty
    import select
    import time

    env = {**no_aws_config(), **credentials_env(), **(extra_env or {}), "TERM": "dumb"}
    command = [sys.executable, "-m", "infra.secrets", *args, "--endpoint-url", endpoint]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: only exec (the test process has threads: nothing else is safe after fork)
        os.chdir(cwd)
        os.execve(sys.executable, command, env)
    shown, position, pending = b"", 0, list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if pending and pending[0][0].encode() in shown[position:]:
                os.write(terminal, pending.pop(0)[1].encode() + b"\n")
                position = len(shown)
            ready, _, _ = select.select([terminal], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # EIO: the child closed the terminal (it exited)
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(terminal)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")
