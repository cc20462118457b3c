"""Issue 16 (found measuring target 3): pulumi's `serialize_provider` (pulumi/dynamic/dynamic.py) wraps
`pickle._Pickler._batch_setitems` again for every dynamic resource and never unwraps it, so a stack with a few
hundred SecretReadiness resources died with RecursionError. Each construction now leaves the pickler as it was."""
from __future__ import annotations

import pickle

import pytest

from tests.support.stacks import record_config, shipped_config

READINESS = "pulumi-python:dynamic/securestack:SecretReadiness"


@pytest.mark.records_fresh  # what one recording does to the pickler: the session's cached one would show nothing
def test_recording_a_stack_leaves_the_pickler_as_it_found_it():
    before = (pickle._Pickler._batch_setitems, pickle._Pickler.save_dict)
    recording = record_config(shipped_config("dev"), "dev")
    readiness = recording.of_type(READINESS)
    assert len(readiness) >= 5  # the stack did construct dynamic resources
    assert (pickle._Pickler._batch_setitems, pickle._Pickler.save_dict) == before
    # Still deterministic: every check serializes the same provider to the same text.
    providers = {resource.inputs.get("__provider") for resource in readiness}
    assert len(providers) == 1, "the serialized provider differs between resources"
