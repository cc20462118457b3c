"""Fixtures of the securestack_runtime tests: moto in-process, and the no-value-in-logs check on every test."""

import logging
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

# The real rotation functions import their shared code as the top-level package `rotation_common`.
LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"
if str(LAMBDAS_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDAS_DIR))

from securestack_runtime._failures import LOGGER_NAME  # noqa: E402
from tests.lambdas.harness import REGION, RotationService  # noqa: E402
from tests.runtime.support import app_client, every_stored_secret  # noqa: E402


class CapturedLogs(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))  # tracebacks included
        self.lines = []
        self.values = set()

    def emit(self, record):
        self.lines.append((record.name, record.levelno, self.format(record)))

    def runtime_lines(self):
        return [text for name, _, text in self.lines if name == LOGGER_NAME]


@pytest.fixture(autouse=True)
def captured_logs(capsys):
    """Fails the test if any stored secret value, key, signing secret or digest appears in any log line or output.

    The library's logger is captured at DEBUG, the root logger at INFO (botocore's DEBUG logs carry response
    bodies and are never enabled in an app); the rotation functions print their JSON lines on stdout.
    """
    seen = CapturedLogs()
    root, runtime = logging.getLogger(), logging.getLogger(LOGGER_NAME)
    levels = root.level, runtime.level
    root.setLevel(logging.INFO)
    runtime.setLevel(logging.DEBUG)
    root.addHandler(seen)
    yield seen
    root.removeHandler(seen)
    root.setLevel(levels[0])
    runtime.setLevel(levels[1])
    captured = "\n".join(text for _, _, text in seen.lines) + "".join(capsys.readouterr())
    leaked = sum(1 for value in seen.values if value and value in captured)
    assert leaked == 0, f"{leaked} secret value(s) or digest(s) appeared in captured logs or output"  # never print them


@pytest.fixture
def aws(monkeypatch, captured_logs):
    """Moto for every AWS call; a fresh default session; the values stored are collected for the log check."""
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        boto3.setup_default_session(region_name=REGION)
        yield
        captured_logs.values.update(every_stored_secret())
    boto3.DEFAULT_SESSION = None


@pytest.fixture
def admin(aws):
    """A client playing the stack and the rotator: creates secrets and writes records."""
    return app_client()


@pytest.fixture
def rotation(aws):
    """Secrets Manager's side of a rotation, invoking the real handlers in-process (tests/lambdas/harness.py)."""
    return RotationService()
