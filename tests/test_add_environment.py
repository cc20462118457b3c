"""README's "Add an environment" procedure, followed as written, in a temporary copy of the project.

The temporary project holds Pulumi.yaml and the shipped stack files (so the policy pack knows the other
environments' names, as it does in the repository). README's copy command and its YAML edit make the new stack
file there; README's preview commands then run from that directory exactly as written (the interpreter is this
venv's, and the checkout is on PYTHONPATH so `-m infra.preview` resolves as it does at the repository root). The
new file never lands in the project root, which other tests glob.

The CI paragraph is held to the workflows: what a new `Pulumi.<stack>.yaml` gets from each of them.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.readme import PROJECT_ROOT, fenced_blocks, merged, readme_section

README_SECTION = "## Add an environment"
PREVIEW_COMMAND = ".venv/bin/python -m infra.preview "
WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
# The loop both workflows' `checks` job runs: every stack file at the root, in both modes.
EVERY_STACK_FILE_LOOP = "for stack_file in Pulumi.*.yaml; do"


def procedure() -> dict[str, Any]:
    """README's steps: the copy command, the YAML edit, the preview commands, the source and new stack names."""
    blocks = fenced_blocks(readme_section(README_SECTION))
    (copy,) = [body for language, body in blocks if language == "bash" and "> Pulumi." in body]
    (edit,) = [yaml.safe_load(body) for language, body in blocks if language == "yaml"]
    previews = [line.strip() for language, body in blocks if language == "bash"
                for line in body.splitlines() if line.strip().startswith(PREVIEW_COMMAND)]
    source = re.search(r"(Pulumi\.[a-z0-9-]+\.yaml) >", copy).group(1)
    stack = re.search(r"> Pulumi\.([a-z0-9-]+)\.yaml", copy).group(1)
    return {"copy": copy, "edit": edit, "previews": previews, "source": source, "stack": stack}


@pytest.fixture(scope="module")
def steps() -> dict[str, Any]:
    return procedure()


@pytest.fixture(scope="module")
def project(steps, tmp_path_factory) -> Path:
    """A temporary project with README's steps 1 and 2 applied."""
    directory = tmp_path_factory.mktemp("add-environment")
    for name in ("Pulumi.yaml", *(f"Pulumi.{stack}.yaml" for stack in ("dev", "prod"))):
        shutil.copy(PROJECT_ROOT / name, directory)
    subprocess.run(["bash", "-ec", steps["copy"]], cwd=directory, check=True)
    stack_file = directory / f"Pulumi.{steps['stack']}.yaml"
    document = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    stack_file.write_text(yaml.safe_dump(merged(document, steps["edit"]), sort_keys=False), encoding="utf-8")
    return directory


def run_as_written(command: str, directory: Path) -> subprocess.CompletedProcess:
    """README's command from `directory`, with `--json` added so the verdict can be read, not just the exit code."""
    argv = shlex.split(command)
    assert argv[:3] == [".venv/bin/python", "-m", "infra.preview"], command
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, *argv[1:], "--json"], cwd=directory, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def previews(steps, project) -> dict[str, tuple[subprocess.CompletedProcess, dict[str, Any]]]:
    runs = {}
    for command in steps["previews"]:
        run = run_as_written(command, project)
        runs[command] = (run, json.loads(run.stdout) if run.stdout.strip() else {})
    return runs


def config_of(directory: Path, stack: str) -> dict[str, Any]:
    return yaml.safe_load((directory / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def test_readme_shows_both_preview_modes_of_the_new_stack(steps):
    assert steps["stack"] not in ("dev", "prod") and steps["source"] == "Pulumi.dev.yaml"
    assert steps["previews"] == [f"{PREVIEW_COMMAND}{steps['stack']}",
                                 f"{PREVIEW_COMMAND}{steps['stack']} --mode preview"]


def test_readme_procedure_previews_clean(previews):
    for command, (run, preview) in previews.items():
        assert run.returncode == 0, (command, run.stderr.strip(), preview.get("violations"))
        assert [v for v in preview["violations"] if v["enforcementLevel"] == "mandatory"] == [], command
        assert preview["resources"], command


def test_new_stack_keeps_nothing_of_its_source(steps, project, previews):
    """No account, role, name or address of dev is left anywhere in what the new stack registers."""
    source = config_of(project, "dev")
    (source_account,) = source["aws:allowedAccountIds"]
    run, preview = previews[f"{PREVIEW_COMMAND}{steps['stack']}"]
    registered = [text for resource in preview["resources"] for text in strings(resource["inputs"])]
    dev_named = [text for text in registered
                 if source_account in text or "securestack-dev-" in text or "securestack/dev/" in text
                 or "-dev@" in text]
    assert registered and dev_named == []


def test_new_stack_runs_in_its_own_account_and_address_range(steps, project):
    config = config_of(project, steps["stack"])
    (account,) = config["aws:allowedAccountIds"]
    others = {stack: config_of(project, stack) for stack in ("dev", "prod")}
    assert all(account not in other["aws:allowedAccountIds"] for other in others.values())
    arn_accounts = {m for text in strings(config) for m in re.findall(r"arn:aws:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):", text)}
    assert arn_accounts == {account}
    assert config["securestack:app"]["image"].startswith(f"{account}.dkr.ecr.")
    cidr = ipaddress.ip_network(config["securestack:network"]["vpcCidr"])
    for stack, other in others.items():
        assert not cidr.overlaps(ipaddress.ip_network(other["securestack:network"]["vpcCidr"])), stack
    assert config["securestack:loadBalancer"]["certificateArn"] not in {
        other["securestack:loadBalancer"].get("certificateArn") for other in others.values()}


def workflow(name: str) -> dict[Any, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def step_scripts(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_readme_says_what_ci_gives_a_new_stack():
    """README's CI paragraph against the workflows: the checks cover every stack file, and every other job runs over
    the stacks `infra.stacks` discovers, in the GitHub environments named after the stack."""
    section = " ".join(readme_section(README_SECTION).split())
    pull_request, deploy, drift = workflow("pull-request.yml"), workflow("deploy.yml"), workflow("drift.yml")
    for flow in (pull_request, deploy):
        checks = step_scripts(flow["jobs"]["checks"])
        assert EVERY_STACK_FILE_LOOP in checks and "for mode in up preview" in checks and "bash .ci/run" in checks
    assert "offline preview of every `Pulumi.*.yaml` in both modes" in section
    for flow in (pull_request, deploy, drift):
        assert "-m infra.stacks " in step_scripts(flow["jobs"]["stacks"])
    assert "Every other job takes its stacks from `.venv/bin/python -m infra.stacks`" in section
    assert pull_request["jobs"]["preview"]["environment"] == "${{ matrix.stack }}-preview"
    assert "`pull-request.yml` runs `pulumi preview` of staging in the GitHub environment `staging-preview`" in section
    assert deploy["jobs"]["deploy"]["environment"] == "${{ matrix.stack }}"
    # README's staging is non-production (its step 2), the tier deploy.yml deploys on a push to main.
    assert procedure()["edit"]["config"]["securestack:tier"] == "non-production"
    assert deploy["jobs"]["stacks"]["steps"][-1]["env"]["TIER"].endswith("|| 'non-production' }}")
    assert ("`deploy.yml` deploys it on every push to `main` with the other non-production stacks in the environment "
            "`staging`") in section
    assert "`drift.yml` checks it daily" in section and "schedule" in drift[True]
    assert "dev and prod" not in section and "issue 17" not in section
