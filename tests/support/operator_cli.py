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
