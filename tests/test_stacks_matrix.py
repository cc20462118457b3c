"""`python -m infra.stacks`: the CI matrix discovered from a project's `Pulumi.<stack>.yaml` files.

A temporary project holds three stacks of both tiers (one with a policy config); the matrix, its tier filters and
its $GITHUB_OUTPUT form are read back as the workflows read them. A bad stack file stops it with exit 2 and one line
naming the file and the field, so no job runs against an account with a stack nobody can read.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from securestack.infra import stacks
from securestack.infra.settings.common import Tier
from tests.support.stacks import PROJECT_ROOT, STACK_FILES

THREE_STACKS = {"staging": "non-production", "prod-eu": "production", "dev": "non-production"}


def write_project(directory: Path, tiers: dict[str, str]) -> Path:
    (directory / "Pulumi.yaml").write_text("name: securestack\nruntime: python\n", encoding="utf-8")
    for stack, tier in tiers.items():
        (directory / f"Pulumi.{stack}.yaml").write_text(
            f"config:\n  aws:region: us-east-1\n  securestack:tier: {tier}\n", encoding="utf-8")
    return directory


@pytest.fixture
def project(tmp_path) -> Path:
    write_project(tmp_path, THREE_STACKS)
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "policy-config.prod-eu.json").write_text('{"all": "mandatory"}', encoding="utf-8")
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = stacks.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_matrix_lists_every_stack_file_by_name_with_its_tier_and_policy_config(project, capsys):
    status, out, err = run(capsys, "--root", str(project))
    assert (status, err) == (0, "")
    assert json.loads(out) == {"include": [
        {"stack": "dev", "tier": "non-production", "policyConfig": ""},
        {"stack": "prod-eu", "tier": "production", "policyConfig": "policy/policy-config.prod-eu.json"},
        {"stack": "staging", "tier": "non-production", "policyConfig": ""},
    ]}


@pytest.mark.parametrize("tier, expected", [("production", ["prod-eu"]), ("non-production", ["dev", "staging"])])
def test_tier_keeps_that_tiers_stacks_only(project, capsys, tier, expected):
    status, out, _ = run(capsys, "--root", str(project), "--tier", tier)
    assert status == 0
    assert [entry["stack"] for entry in json.loads(out)["include"]] == expected


def test_github_output_is_one_line_per_output(project, capsys):
    status, out, _ = run(capsys, "--root", str(project), "--tier", "non-production", "--github-output")
    assert status == 0
    lines = out.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["matrix", "count"]
    matrix = json.loads(lines[0].split("=", 1)[1])
    assert [entry["stack"] for entry in matrix["include"]] == ["dev", "staging"] and lines[1] == "count=2"


def test_no_stack_of_a_tier_is_an_empty_matrix_the_workflows_skip_on_count(tmp_path, capsys):
    write_project(tmp_path, {"dev": "non-production"})
    status, out, _ = run(capsys, "--root", str(tmp_path), "--tier", "production", "--github-output")
    assert (status, out.splitlines()) == (0, ['matrix={"include":[]}', "count=0"])


@pytest.mark.parametrize("content, expected", [
    ("config:\n  aws:region: us-east-1\n", "Pulumi.staging.yaml: securestack:tier: required key is missing"),
    ("config:\n  securestack:tier: prod\n", "Pulumi.staging.yaml: securestack:tier: 'prod' must be 'production'"),
    ("config:\n  securestack:tier: [production\n", "Pulumi.staging.yaml is not valid YAML at line 3"),
    ("confg:\n  securestack:tier: production\n", "Pulumi.staging.yaml line 1: unknown top-level key 'confg'"),
], ids=["tier-missing", "tier-unknown", "invalid-yaml", "unknown-key"])
def test_a_bad_stack_file_is_one_line_naming_file_and_field_and_exit_2(project, capsys, content, expected):
    (project / "Pulumi.staging.yaml").write_text(content, encoding="utf-8")
    status, out, err = run(capsys, "--root", str(project))
    assert (status, out) == (2, "")
    assert err.startswith(f"error: {expected}") and err.count("\n") == 1, err


def test_a_stack_named_like_a_preview_environment_is_refused(project, capsys):
    """`x-preview` would deploy in the GitHub environment where stack x previews, with x's read-only role, and a PR
    adding `Pulumi.x.yaml` would preview in its deploy environment."""
    (project / "Pulumi.staging-preview.yaml").write_text("config:\n  securestack:tier: production\n", encoding="utf-8")
    status, out, err = run(capsys, "--root", str(project))
    assert (status, out) == (2, "")
    assert err.startswith("error: Pulumi.staging-preview.yaml: stack name 'staging-preview' ends in '-preview'")
    assert "stack 'staging''s read-only preview environment" in err and err.count("\n") == 1


def test_root_without_pulumi_yaml_is_refused(tmp_path, capsys):
    status, out, err = run(capsys, "--root", str(tmp_path))
    assert (status, out) == (2, "") and err.startswith("error: Pulumi.yaml not found in") and err.count("\n") == 1


def test_default_root_is_the_project_of_the_current_directory(project):
    """As the workflows run it: `python -m infra.stacks` from the checkout, no --root."""
    (project / "policy" / "nested").mkdir()
    run = subprocess.run([sys.executable, "-m", "securestack.infra.stacks", "--tier", "production"],
                         cwd=project / "policy" / "nested", capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert [entry["stack"] for entry in json.loads(run.stdout)["include"]] == ["prod-eu"]


def test_tiers_are_the_settings_tiers():
    assert set(stacks.TIERS) == {tier.value for tier in Tier}


def test_repository_matrix_holds_every_stack_file(capsys):
    """The workflows' matrix is every stack file at the root: a committed Pulumi.staging.yaml joins it."""
    status, out, _ = run(capsys, "--root", str(PROJECT_ROOT))
    assert status == 0
    assert [entry["stack"] for entry in json.loads(out)["include"]] == list(STACK_FILES)
