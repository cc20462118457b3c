"""Every policy on a compliant stack (no violation) and on violating stacks (a mandatory violation each), run through
the harness, i.e. inside pulumi_policy's analyzer exactly as `pulumi preview --policy-pack policy` runs it."""
from __future__ import annotations

import pytest

from securestack.policy.harness import evaluate
from securestack.policy.policies import POLICIES
from tests.policy.builders import recording_of, stack_config
from tests.policy.cases import CASES, Case, Stack

POLICY_BY_NAME = {policy.name: policy for policy in POLICIES}


def violations_of(policy_name: str, stack: Stack) -> list[dict]:
    recording = recording_of(stack.resources, accounts=stack.accounts, environment_tag=stack.environment_tag)
    config = stack_config(tier=stack.tier, accounts=stack.config_accounts)
    found = evaluate(recording, config, policy_config={}, policies=[POLICY_BY_NAME[policy_name]])
    assert all(v["policyName"] == policy_name for v in found)
    return found


def case_id(case: Case) -> str:
    return case.policy


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_compliant_stack_passes(case: Case):
    assert violations_of(case.policy, case.compliant) == []


VIOLATING = [(case.policy, index, stack) for case in CASES for index, stack in enumerate(case.violating)]


@pytest.mark.parametrize("policy_name,index,stack", VIOLATING, ids=[f"{p}-{i}" for p, i, _ in VIOLATING])
def test_violating_stack_is_reported(policy_name: str, index: int, stack: Stack):
    found = violations_of(policy_name, stack)
    assert found, f"{policy_name} did not report violating stack #{index}"
    assert {v["enforcementLevel"] for v in found} == {"mandatory"}
    assert all(v["message"] and "can't run policy" not in v["message"] for v in found)


def test_every_policy_has_a_compliant_and_a_violating_case():
    with_compliant = {case.policy for case in CASES}
    with_violating = {case.policy for case in CASES if case.violating}
    names = set(POLICY_BY_NAME)
    assert names - with_compliant == set(), "policies without a compliant case"
    assert names - with_violating == set(), "policies without a violating case"
    assert with_compliant - names == set(), "cases for policies that do not exist"
