"""Issue 16 target 3: the API keys' and webhooks' policies, rotations and readiness are declared in batches by the
stack program (components/declaration_queue.py, infra/settle.py), never left undeclared, and the stack is the same
as when everything is declared at once. Behaviour only; the peak memory is measured in bench/scale.py."""
from __future__ import annotations

import json
from typing import Any

import pytest

from securestack.components.declaration_queue import DECLARATIONS, DeclarationQueue, UndeclaredResourcesError
from securestack.components.secrets import ApiKey, ScopedApiKeys, ScopedApiKeysArgs, SecretStoreArgs
from securestack.infra import program, settle
from securestack.infra.recording import Recording, record
from tests.support.stacks import shipped_config

API_KEYS = "securestack:apiKeys"
PER_KEY_TYPES = {"aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretPolicy:SecretPolicy",
                 "aws:secretsmanager/secretRotation:SecretRotation",
                 "pulumi-python:dynamic/securestack:SecretReadiness"}
EXTRA_KEYS = 12


def with_extra_keys(config: dict[str, str], count: int) -> dict[str, str]:
    keys = json.loads(config[API_KEYS])
    template = {k: v for k, v in keys[0].items() if k != "name"}
    return {**config, API_KEYS: json.dumps(keys + [{**template, "name": f"extra-{i:03d}"} for i in range(count)])}


def dev_with_keys(count: int = EXTRA_KEYS) -> Recording:
    return record(program.build, stack="dev", config=with_extra_keys(shipped_config("dev"), count), preview=True)


def by_urn(recording: Recording) -> dict[str, dict[str, Any]]:
    resources = {}
    for resource in recording.resources:
        shown = resource.to_json()
        shown.update(dependencies=sorted(shown["dependencies"]), provider=resource.provider, custom=resource.custom,
                     aliases=resource.aliases,
                     propertyDependencies={k: sorted(v) for k, v in shown["propertyDependencies"].items()})
        resources[resource.urn] = shown
    return resources


@pytest.fixture
def rounds(monkeypatch):
    """Per drain round: (Outputs still pending when the round starts, declarations it made)."""
    seen: list[tuple[int, int]] = []
    original = DeclarationQueue.declare_next

    def observed(self: DeclarationQueue, count: int) -> int:
        pending = len(settle.pending_outputs())
        made = original(self, count)
        seen.append((pending, made))
        return made

    monkeypatch.setattr(DeclarationQueue, "declare_next", observed)
    return seen


@pytest.mark.records_fresh  # compares two recordings of the same config on purpose
def test_the_program_drains_in_settled_batches_and_declares_the_same_stack(monkeypatch, rounds):
    monkeypatch.setattr(settle, "DECLARATION_BATCH", 5)
    batched = dev_with_keys()
    keys = len(json.loads(with_extra_keys(shipped_config("dev"), EXTRA_KEYS)[API_KEYS]))
    # One entry per key and webhook, then each component's register_outputs: at most 5 a round, each round
    # starting with nothing pending, the last finding the queue empty.
    made = [count for _, count in rounds]
    assert all(pending == 0 for pending, _ in rounds) and all(count <= 5 for count in made)
    assert made[-1] == 0 and sum(made) > keys and len(made) > 3
    assert len(DECLARATIONS) == 0 and not DECLARATIONS.armed

    monkeypatch.setattr(program, "arm_declarations", lambda: None)  # unarmed: every component declares inline
    rounds.clear()
    at_once = dev_with_keys()
    assert rounds == []
    # Same resources, names, parents, inputs, options and dependencies; only the order of registration differs.
    assert by_urn(batched) == by_urn(at_once)
    assert batched.stack_outputs == at_once.stack_outputs
    per_key = [r for r in batched.resources if "extra-007" in r.name]
    assert {r.type for r in per_key} == PER_KEY_TYPES and len(per_key) == 6


def test_a_component_used_without_the_program_declares_everything_at_once():
    def bare_program() -> None:
        store = SecretStoreArgs(environment="lib", secrets_key_arn="arn:aws:kms:us-east-1:111111111111:key/k",
                                rotator_arn="arn:aws:lambda:us-east-1:111111111111:function:rotator",
                                rotator_role_arn="arn:aws:iam::111111111111:role/rotator")
        ScopedApiKeys("keys", ScopedApiKeysArgs(store=store, keys=[
            ApiKey(name="one", scopes=["products:read"]), ApiKey(name="two", scopes=["products:read"])],
            verifier_reader_arns={"one": ["arn:aws:iam::111111111111:role/app"]}))

    recording = record(bare_program, stack="dev", config={"aws:region": "us-east-1"})
    types = [r.type for r in recording.resources if r.parent and r.parent.endswith("::keys")]
    # Per key: secret and its policy, verifier record and its policy, rotation, readiness.
    assert types.count("aws:secretsmanager/secret:Secret") == 4
    assert types.count("aws:secretsmanager/secretPolicy:SecretPolicy") == 4
    assert types.count("aws:secretsmanager/secretRotation:SecretRotation") == 2
    assert types.count("pulumi-python:dynamic/securestack:SecretReadiness") == 2
    assert len(DECLARATIONS) == 0 and not DECLARATIONS.armed


def test_an_armed_queue_left_undrained_fails_loudly_naming_what_it_holds():
    queue, declared = DeclarationQueue(), []
    queue.arm()
    queue.defer("keys-one-policy", lambda: declared.append("one"))
    queue.defer("keys-two-policy", lambda: declared.append("two"))
    with pytest.raises(UndeclaredResourcesError, match=r"2 queued .*keys-one-policy first.* armed again"):
        queue.arm()
    queue.arm()
    queue.defer("keys-three-policy", lambda: declared.append("three"))
    with pytest.raises(UndeclaredResourcesError, match=r"1 queued .*keys-three-policy first.* closed"):
        queue.close()
    assert declared == [] and not queue.armed and len(queue) == 0


def test_an_unarmed_queue_declares_at_once_and_an_armed_one_in_order():
    queue, declared = DeclarationQueue(), []
    queue.defer("now", lambda: declared.append("now"))
    assert declared == ["now"]
    queue.arm()
    for name in ("a", "b", "c"):
        queue.defer(name, lambda name=name: declared.append(name))
    assert declared == ["now"] and queue.declare_next(2) == 2 and declared == ["now", "a", "b"]
    queue.declare_all()
    queue.close()
    assert declared == ["now", "a", "b", "c"]


def test_a_failing_declaration_fails_the_program_and_the_next_program_runs():
    def failing() -> None:
        declarations = settle.arm_declarations()
        assert declarations is DECLARATIONS

        def broken() -> None:
            raise ValueError("keys-one-policy: broken on purpose")

        declarations.defer("keys-one-policy", broken)
        declarations.defer("keys-two-policy", lambda: None)
        settle.settle_after_program(declarations=declarations)

    with pytest.raises(Exception, match="broken on purpose"):
        record(failing, stack="dev", config={"aws:region": "us-east-1"}, preview=True)
    assert len(DECLARATIONS) == 0 and not DECLARATIONS.armed  # the rest went with the failed program
    assert settle.arm_declarations(preview=True) is DECLARATIONS
    DECLARATIONS.close()


def test_only_a_preview_queues_an_update_declares_everything_at_once(monkeypatch):
    # An update's Outputs wait for cloud operations: batches would deploy thousands of keys in waves.
    assert settle.arm_declarations(DeclarationQueue(), preview=False) is None
    monkeypatch.setattr(settle.pulumi.runtime, "is_dry_run", lambda: False)
    assert settle.arm_declarations(DeclarationQueue()) is None
    monkeypatch.setattr(settle.pulumi.runtime, "is_dry_run", lambda: True)
    queue = DeclarationQueue()
    assert settle.arm_declarations(queue) is queue and queue.armed
    queue.close()


def test_without_an_async_entry_point_the_queue_is_made_before_the_program_returns(monkeypatch):
    queue, declared = DeclarationQueue(), []
    queue.arm()
    queue.defer("keys-one-policy", lambda: declared.append("one"))
    monkeypatch.setattr(settle, "supported", lambda: False)
    assert settle.arm_declarations(DeclarationQueue()) is None  # nothing armed where nothing drains
    assert not settle.settle_after_program(declarations=queue)
    assert declared == ["one"] and not queue.armed


@pytest.mark.records_fresh  # a run that fails on purpose after declaring the whole stack
def test_a_stack_program_that_fails_after_queuing_leaves_no_queue_behind(monkeypatch):
    declare_stack = program.declare_stack
    queued: list[int] = []

    def fails_after_declaring(settings) -> None:
        declare_stack(settings)
        queued.append(len(DECLARATIONS))
        raise ValueError("failed after declaring on purpose")

    monkeypatch.setattr(program, "declare_stack", fails_after_declaring)
    with pytest.raises(ValueError, match="on purpose"):
        record(program.build, stack="dev", config=shipped_config("dev"), preview=True)
    assert queued[0] > 0  # the keys' policies, rotations and readiness were queued, then dropped with the run
    assert len(DECLARATIONS) == 0 and not DECLARATIONS.armed
