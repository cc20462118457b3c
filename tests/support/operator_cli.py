"""Running `python -m infra.secrets` as an operator does, for the tests of its commands: a subprocess with the boto3
default chain fed from the environment and nothing else from the machine running the tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Optional, Sequence


def credentials_env() -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def no_aws_config() -> dict[str, str]:
    # Nothing from the machine running the tests: no profile, no files, no instance metadata.
    return {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def run_secrets_cli(cwd: Path, args: Sequence[str], endpoint: Optional[str], stdin: Optional[str] = None,
                    extra_env: Optional[Mapping[str, str]] = None, credentials: bool = True,
                    timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**no_aws_config(), **(credentials_env() if credentials else {}), **(extra_env or {})}
    command = [sys.executable, "-m", "infra.secrets", *args, *(["--endpoint-url", endpoint] if endpoint else [])]
    return subprocess.run(command, cwd=cwd, env=env, input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=timeout)


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
