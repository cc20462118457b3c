"""The pack itself: well-formed policies written against pulumi-aws v7 type tokens, the files the Pulumi CLI loads,
CONTROLS.md in step with POLICIES, and both shipped stacks passing the whole pack."""
from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pulumi_aws
import pytest
import yaml
from pulumi_policy import EnforcementLevel

from securestack.infra.stack_config import read_stack_config
from securestack.policy import controls
from securestack.policy.claims import CLAIMS
from securestack.policy.harness import evaluate, pack_version
from securestack.policy.scanner_findings import render_section
from securestack.policy.policies import PACK_NAME, POLICIES
from securestack.policy.policies.support import ResourcePolicy
from tests.support.stacks import STACK_FILES, shipped_recording

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CONTROL_ID = re.compile(r"^([A-Za-z][A-Za-z0-9]*\.\d+|CKV2?_AWS_\d+)$")


def pulumi_aws_type_tokens() -> set:
    """Every resource type token pulumi-aws (the installed v7) registers."""
    root = Path(pulumi_aws.__file__).parent
    tokens = set()
    for source in root.rglob("*.py"):
        tokens.update(re.findall(r'@pulumi\.type_token\("([^"]+)"\)', source.read_text()))
    return tokens


def test_policy_names_are_unique_and_kebab_case():
    names = [policy.name for policy in POLICIES]
    assert len(names) == len(set(names))
    assert all(NAME.match(name) for name in names)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_policy_is_mandatory_and_cites_its_controls(policy):
    assert policy.enforcement_level is EnforcementLevel.MANDATORY
    cited = policy.controls.fsbp + policy.controls.checkov
    assert cited or policy.controls.sources, "a policy names the control or guide it implements"
    assert all(CONTROL_ID.match(control) for control in cited)
    assert all(control in policy.description for control in cited)
    assert policy.severity is not None


def test_policies_name_real_pulumi_aws_v7_types():
    tokens = pulumi_aws_type_tokens()
    named = {t for policy in POLICIES for t in policy.resource_types if t.startswith("aws:") and "*" not in t}
    assert named - tokens == set(), "type tokens pulumi-aws does not have"


def test_load_balancer_policies_match_both_lb_and_alb_tokens():
    for policy in POLICIES:
        types = set(policy.resource_types)
        for token in types:
            if token.startswith(("aws:lb/", "aws:alb/")):
                twin = token.replace("aws:lb/", "aws:alb/", 1) if token.startswith("aws:lb/") else \
                    token.replace("aws:alb/", "aws:lb/", 1)
                assert twin in types, f"{policy.name} matches {token} but not {twin}"


def test_pulumi_policy_yaml_is_a_python_pack_with_a_version():
    document = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert document["runtime"]["name"] == "python"
    assert re.match(r"^\d+\.\d+\.\d+$", str(document["version"]))
    assert pack_version() == str(document["version"])


def test_main_only_builds_the_pack_from_policies():
    """__main__ is what the CLI runs (it blocks serving gRPC), so it is read here, never imported."""
    tree = ast.parse((POLICY_DIR / "__main__.py").read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Name) and node.func.id == "PolicyPack"]
    assert len(calls) == 1
    keywords = {k.arg: k.value for k in calls[0].keywords}
    assert isinstance(keywords["policies"], ast.Name) and keywords["policies"].id == "POLICIES"
    assert isinstance(keywords["name"], ast.Name) and keywords["name"].id == "PACK_NAME"
    assert ast.unparse(keywords["enforcement_level"]) == "EnforcementLevel.MANDATORY"


def test_importing_the_policies_and_harness_does_not_block():
    result = subprocess.run([sys.executable, "-c", "import policy.policies, policy.harness, pulumi_policy"],
                            cwd=POLICY_DIR.parent, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_controls_md_is_generated_from_policies():
    assert controls.CONTROLS_FILE.read_text() == controls.render(), "run: python -m policy.controls"
    assert controls.main(["--check"]) == 0


def test_controls_md_has_one_row_per_policy_with_its_ids_and_enforcement():
    rows = [line for line in controls.render().splitlines() if line.startswith("| `")]
    assert len(rows) == len(POLICIES)
    for policy, row in zip(POLICIES, rows):
        assert row.startswith(f"| `{policy.name}` |")
        assert all(control in row for control in policy.controls.fsbp + policy.controls.checkov)
        assert "| mandatory |" in row
    assert PACK_NAME in controls.render()


def test_controls_md_lists_each_claim_next_to_its_policies():
    rendered = controls.render()
    claims_part = rendered.split(controls.CLAIMS_HEADER, 1)[1].split(render_section(), 1)[0]
    rows = [line for line in claims_part.splitlines() if line.startswith("| ")]
    assert len(rows) == len(CLAIMS)
    for number, (claim, row) in enumerate(zip(CLAIMS, rows), start=1):
        assert row.startswith(f"| {number} | {claim.text.replace('|', chr(92) + '|')} |")
        assert all(f"`{name}`" in row for name in claim.policies)
    policy_rows = {line.split(" | ")[0][3:-1]: line for line in rendered.split(controls.CLAIMS_HEADER)[0].splitlines()
                   if line.startswith("| `")}
    for number, claim in enumerate(CLAIMS, start=1):
        assert all(f"#{number}" in policy_rows[name].rsplit(" | ", 1)[1] for name in claim.policies)


def test_controls_check_fails_when_the_claims_table_is_stale(monkeypatch, tmp_path):
    stale = tmp_path / "CONTROLS.md"
    stale.write_text(controls.render(claims=CLAIMS[:-1]))  # written before the last claim was added
    monkeypatch.setattr(controls, "CONTROLS_FILE", stale)
    assert controls.main(["--check"]) == 1


@pytest.mark.parametrize("stack", STACK_FILES)
def test_every_stack_passes_the_whole_pack(stack):
    violations = evaluate(shipped_recording(stack), read_stack_config(stack))
    assert violations == [], "\n".join(f"{v['enforcementLevel']} {v['policyName']}: {v['message']} ({v['urn']})"
                                       for v in violations)


def input_properties(token: str) -> set:
    """The engine (camelCase) names of a pulumi-aws resource's inputs: its `@pulumi.input_type` Args class."""
    root = Path(pulumi_aws.__file__).parent
    source = next(s.read_text() for s in root.rglob("*.py") if f'@pulumi.type_token("{token}")' in s.read_text())
    args_class = re.search(r"@pulumi\.input_type\nclass \w+Args:(.*?)\n(?:@|class )", source, re.S).group(1)
    return {camel or snake for camel, snake in
            re.findall(r'@pulumi\.getter(?:\(name="(\w+)"\))?\s*\n\s*def (\w+)\(self\)', args_class)}


def properties_read(policy) -> set:
    """Top-level properties a resource policy's check reads literally: get/peek/present(args.props, "<name>", ...)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(policy.check)))
    return {call.args[1].value for call in ast.walk(tree)
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) in ("get", "peek", "present")
            and len(call.args) > 1 and ast.unparse(call.args[0]) == "args.props"
            and isinstance(call.args[1], ast.Constant)}


RESOURCE_POLICIES = [p for p in POLICIES if isinstance(p, ResourcePolicy)
                     and all(t.startswith("aws:") and "*" not in t for t in p.resource_types)]


@pytest.mark.parametrize("policy", RESOURCE_POLICIES, ids=lambda p: p.name)
def test_resource_policies_read_inputs_the_v7_schema_has(policy):
    known = set().union(*(input_properties(token) for token in policy.resource_types))
    assert properties_read(policy) - known == set(), f"not inputs of {policy.resource_types} in pulumi-aws"


def test_most_resource_policies_read_their_inputs_literally():
    """Keeps the schema test above meaningful (the rest read through helpers: JSON documents, tags)."""
    assert sum(1 for policy in RESOURCE_POLICIES if properties_read(policy)) >= 40
