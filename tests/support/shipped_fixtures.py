"""Fixtures over every stack file (tests/support/stacks.STACK_FILES) for the mock-engine tests of secrets, rotation
and app.

Import them into a test module (`from tests.support.shipped_fixtures import recording, settings, stack`):
each test then runs once per stack file on the session-cached recording, so a new environment gets the same checks.
"""
from __future__ import annotations

import pytest

from tests.support.stacks import STACK_FILES, settings_of, shipped_recording


@pytest.fixture(params=STACK_FILES)
def stack(request) -> str:
    return request.param


@pytest.fixture
def recording(stack):
    return shipped_recording(stack)


@pytest.fixture
def settings(stack):
    return settings_of(stack)


def key_arn(recording, purpose: str) -> str:
    """ARN of the environment's CMK for one purpose (data, secrets, logs)."""
    return next(k.outputs["arn"] for k in recording.of_type("aws:kms/key:Key")
                if k.inputs["tags"].get("securestack:key-purpose") == purpose)
