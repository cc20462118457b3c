"""Fixtures for the rotation functions' tests: moto, the rotation service, log checks."""

import json
import logging
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

# The functions import their shared code as the top-level package `rotation_common`, as it sits
# at the root of their Lambda archives.
LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"
if str(LAMBDAS_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDAS_DIR))

from rotation_common.logging_json import LOGGER_NAME  # noqa: E402
from tests.lambdas.harness import REGION, AwsCalls, RotationService  # noqa: E402


class SecretValues(logging.Handler):
    """Collects every log line of a test and the secret values it saw; none may be in the other."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))  # + tracebacks
        self.values = set()
        self.lines = []

    def add(self, *values):
        self.values.update(str(value) for value in values if value)

    def emit(self, record):
        self.lines.append((record.name, self.format(record)))

    def rotation_lines(self):
        prefix = f"{LOGGER_NAME} "
        return [json.loads(text.split(" ", 2)[2]) for name, text in self.lines if name == LOGGER_NAME and text.startswith(prefix)]


@pytest.fixture(autouse=True)
def secret_values(capsys):
    """Issue check 9, for every test here: no secret value in any log line or output it produced.

    Captures the root logger at INFO (what a deployed function would emit; botocore's DEBUG
    logs request bodies and is never enabled) and the rotation logger at DEBUG.
    """
    seen = SecretValues()
    root, rotation_logger = logging.getLogger(), logging.getLogger(LOGGER_NAME)
    levels = root.level, rotation_logger.level
    root.setLevel(logging.INFO)
    rotation_logger.setLevel(logging.DEBUG)
    root.addHandler(seen)
    rotation_logger.addHandler(seen)
    yield seen
    root.removeHandler(seen)
    rotation_logger.removeHandler(seen)
    root.setLevel(levels[0])
    rotation_logger.setLevel(levels[1])
    captured = "\n".join(text for _, text in seen.lines) + "".join(capsys.readouterr())
    leaked = sum(1 for value in seen.values if value in captured)
    # Never print the values themselves: the assertion message would leak them in turn.
    assert leaked == 0, f"{leaked} secret value(s) appeared in captured logs or output"


@pytest.fixture
def rotation_log_lines(secret_values):
    """The rotation functions' JSON log lines of the test so far, parsed."""
    return secret_values.rotation_lines


@pytest.fixture
def rotation(monkeypatch, secret_values):
    """The rotation service on moto (every AWS call mocked), with a fresh default boto3 session
    so that call hooks never leak from one test to another."""
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
        service = RotationService()
        yield service
        secret_values.add(*service.all_secret_values())
    boto3.DEFAULT_SESSION = None


@pytest.fixture
def aws_calls(rotation):
    """Counts (and can break) the calls of clients created after it: the handlers' clients."""
    return AwsCalls(boto3.DEFAULT_SESSION)
