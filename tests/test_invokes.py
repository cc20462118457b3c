"""The program asks the provider who it deploys as once per run, not once per component."""
from collections import Counter

import pytest

import securestack.infra.recording as recording
from securestack.infra.preview import run_stack
from securestack.infra.stack_config import read_stack_config
from tests.support.stacks import STACK_FILES

IDENTITY_INVOKES = ("aws:index/getCallerIdentity:getCallerIdentity", "aws:index/getPartition:getPartition",
                    "aws:index/getRegion:getRegion")


@pytest.mark.records_fresh  # counts the invokes one recording makes
@pytest.mark.parametrize("stack", STACK_FILES)
def test_identity_is_looked_up_once_per_provider(stack, monkeypatch):
    tokens: Counter[str] = Counter()
    answer = recording.RecordingMocks.call

    def counting(self, args):
        tokens[args.token] += 1
        return answer(self, args)

    monkeypatch.setattr(recording.RecordingMocks, "call", counting)
    run_stack(read_stack_config(stack))
    for token in IDENTITY_INVOKES:
        assert tokens[token] <= 1, f"{token} invoked {tokens[token]} times"
    assert tokens["aws:index/getCallerIdentity:getCallerIdentity"] == 1
