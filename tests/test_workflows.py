"""The GitHub Actions workflows, parsed: what they run, for which stacks, with which credentials and permissions.

`.ci/run` checks them against the workflow schema and with zizmor; these tests hold what neither knows: every stack
matrix comes from `python -m infra.stacks` (no stack name written in a workflow), deploys refresh, the drift check
expects no changes and reports per stack, every Pulumi run gets the policy pack and the stack's policy config, deploys
are never cancelled while PR runs are, and each job has only the permissions it uses. The drift report's script runs
against a stand-in `gh` that answers as GitHub's API does.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.support.stacks import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
FROM_STACKS_JOB = "${{ fromJSON(needs.stacks.outputs.matrix) }}"
HAS_STACKS = "needs.stacks.outputs.count != '0'"
PULUMI_ACTION = "pulumi/actions@"
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"
STACK_LITERAL = re.compile(r"(?<![\w-])(dev|prod)(?![\w-])")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def workflow(name: str) -> dict[str, Any]:
    flow = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    flow["on"] = flow.pop(True, flow.get("on"))  # YAML 1.1 reads the key `on` as true
    return flow


FLOWS = {name: workflow(name) for name in ("pull-request.yml", "deploy.yml", "drift.yml")}


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, flow in FLOWS.items():
        for job_id, job in flow["jobs"].items():
            yield name, job_id, job


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(action)]


def script(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_the_three_workflows_exist_and_nothing_else():
    assert sorted(path.name for path in WORKFLOWS.glob("*.y*ml")) == sorted(FLOWS)


@pytest.mark.parametrize("name", FLOWS)
def test_every_matrix_comes_from_the_stacks_job(name):
    flow = FLOWS[name]
    matrix_jobs = {job_id: job for job_id, job in flow["jobs"].items() if "strategy" in job}
    assert matrix_jobs, name
    for job_id, job in matrix_jobs.items():
        assert job["strategy"]["matrix"] == FROM_STACKS_JOB, (name, job_id)
        assert "stacks" in job["needs"] and HAS_STACKS in job["if"], (name, job_id)


@pytest.mark.parametrize("name", FLOWS)
def test_stacks_job_lists_them_with_no_credentials(name):
    job = FLOWS[name]["jobs"]["stacks"]
    assert job["permissions"] == {"contents": "read"}
    assert not steps_using(job, CREDENTIALS_ACTION) and "secrets." not in json.dumps(job)
    (listing,) = [step for step in job["steps"] if "-m infra.stacks" in step.get("run", "")]
    assert listing["run"].startswith(".venv/bin/python -m infra.stacks ")
    assert listing["run"].endswith('--github-output >> "${GITHUB_OUTPUT}"')
    assert job["outputs"] == {key: f"${{{{ steps.{listing['id']}.outputs.{key} }}}}" for key in ("matrix", "count")}


def test_deploy_lists_the_tier_of_its_event():
    listing = next(step for step in FLOWS["deploy.yml"]["jobs"]["stacks"]["steps"] if step.get("id") == "stacks")
    assert '--tier "${TIER}"' in listing["run"]
    assert listing["env"]["TIER"] == "${{ github.event_name == 'release' && 'production' || 'non-production' }}"
    assert FLOWS["deploy.yml"]["on"] == {"push": {"branches": ["main"]}, "release": {"types": ["published"]}}


def test_production_stacks_deploy_one_at_a_time_and_stop_at_the_first_failure():
    strategy = FLOWS["deploy.yml"]["jobs"]["deploy"]["strategy"]
    assert strategy["max-parallel"] == "${{ github.event_name == 'release' && 1 || 8 }}"
    assert strategy["fail-fast"] == "${{ github.event_name == 'release' }}"


@pytest.mark.parametrize("name", FLOWS)
def test_no_stack_is_named_in_matrices_conditions_environments_or_inputs(name):
    for job_id, job in FLOWS[name]["jobs"].items():
        decisive = {key: job.get(key) for key in ("strategy", "if", "environment", "concurrency", "env", "outputs")}
        decisive["with"] = [step.get("with") for step in job["steps"]]
        decisive["if-steps"] = [step.get("if") for step in job["steps"]]
        assert STACK_LITERAL.findall(json.dumps(decisive)) == [], (name, job_id)


@pytest.mark.parametrize("name, job_id, environment", [
    ("pull-request.yml", "preview", "${{ matrix.stack }}-preview"),
    ("deploy.yml", "deploy", "${{ matrix.stack }}"),
    ("drift.yml", "drift", "${{ matrix.stack }}-preview"),
])
def test_credentials_only_in_the_stacks_github_environment(name, job_id, environment):
    job = FLOWS[name]["jobs"][job_id]
    assert job["environment"] == environment
    (credentials,) = steps_using(job, CREDENTIALS_ACTION)
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"


@pytest.mark.parametrize("name, job_id, command", [
    ("pull-request.yml", "preview", "preview"),
    ("deploy.yml", "deploy", "up"),
    ("drift.yml", "drift", "preview"),
])
def test_every_pulumi_run_gets_the_pack_and_the_stacks_policy_config(name, job_id, command):
    (pulumi,) = steps_using(FLOWS[name]["jobs"][job_id], PULUMI_ACTION)
    inputs = pulumi["with"]
    assert (inputs["command"], inputs["stack-name"]) == (command, "${{ matrix.stack }}")
    assert inputs["policyPacks"] == "policy" and inputs["policyPackConfigs"] == "${{ matrix.policyConfig }}"


def test_deploys_refresh_and_drift_expects_no_changes():
    (up,) = steps_using(FLOWS["deploy.yml"]["jobs"]["deploy"], PULUMI_ACTION)
    assert up["with"]["refresh"] is True and "expect-no-changes" not in up["with"]
    (drift,) = steps_using(FLOWS["drift.yml"]["jobs"]["drift"], PULUMI_ACTION)
    assert drift["with"]["refresh"] is True and drift["with"]["expect-no-changes"] is True
    (pr,) = steps_using(FLOWS["pull-request.yml"]["jobs"]["preview"], PULUMI_ACTION)
    assert "expect-no-changes" not in pr["with"]  # a PR is expected to change things


def test_verify_follows_every_deploy_and_drift_check():
    deploy, drift = script(FLOWS["deploy.yml"]["jobs"]["deploy"]), script(FLOWS["drift.yml"]["jobs"]["drift"])
    for text in (deploy, drift):
        assert 'pulumi stack output --json --stack "${STACK}" > stack-outputs.json' in text
    assert '.venv/bin/python -m infra.verify "${STACK}" --outputs stack-outputs.json 2>&1 |' in deploy  # default settle
    assert '.venv/bin/python -m infra.verify "${STACK}" --outputs stack-outputs.json --settle-seconds 0' in drift
    (verify,) = [step for step in FLOWS["drift.yml"]["jobs"]["drift"]["steps"] if "infra.verify" in step.get("run", "")]
    assert "!cancelled()" in verify["if"]  # also after a preview that found drift


@pytest.mark.parametrize("name", FLOWS)
def test_scripts_run_with_pipefail(name):
    """Unspecified, GitHub runs `bash -e {0}`: `infra.verify ... | tee` would pass with a failed check."""
    assert FLOWS[name]["defaults"] == {"run": {"shell": "bash"}}


FAKE_VERIFY = """#!/usr/bin/env bash
echo "FAIL load-balancer.tls-policy [arn:listener]: TLS policy is ELBSecurityPolicy-2016-08"
echo "error: something on stderr" >&2
exit 1
"""


@pytest.mark.parametrize("name, job_id", [("deploy.yml", "deploy"), ("drift.yml", "drift")])
def test_a_failed_verification_fails_the_step_and_still_reaches_the_summary(tmp_path, name, job_id):
    (verify,) = [step for step in FLOWS[name]["jobs"][job_id]["steps"] if "infra.verify" in step.get("run", "")]
    for path, text in ((tmp_path / ".venv" / "bin" / "python", FAKE_VERIFY),
                       (tmp_path / "bin" / "pulumi", "#!/usr/bin/env bash\necho '{}'\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    summary = tmp_path / "summary.md"
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", "STACK": "staging",
           "GITHUB_STEP_SUMMARY": str(summary)}
    # What `shell: bash` runs (GitHub's workflow syntax: bash --noprofile --norc -eo pipefail {0}).
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", verify["run"]], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    report = summary.read_text(encoding="utf-8")
    assert "### infra.verify staging" in report and "FAIL load-balancer.tls-policy" in report
    assert "error: something on stderr" in report


def test_drift_runs_daily_and_on_demand():
    triggers = FLOWS["drift.yml"]["on"]
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    (schedule,) = triggers["schedule"]
    minute, hour, *every_day = schedule["cron"].split()
    assert every_day == ["*", "*", "*"] and minute.isdigit() and hour.isdigit()


def test_concurrency_prs_cancel_deploys_and_drift_never():
    pr = FLOWS["pull-request.yml"]["concurrency"]
    assert pr == {"group": "pull-request-${{ github.event.pull_request.number }}", "cancel-in-progress": True}
    assert FLOWS["deploy.yml"]["jobs"]["deploy"]["concurrency"] == {"group": "deploy-${{ matrix.stack }}",
                                                                  "cancel-in-progress": False}
    drift_group = FLOWS["drift.yml"]["jobs"]["drift"]["concurrency"]["group"]
    assert drift_group == "drift-${{ matrix.stack }}"  # its own: a waiting drift check never replaces a waiting deploy
    for name in ("deploy.yml", "drift.yml"):
        assert "concurrency" not in FLOWS[name]
        for job_id, job in FLOWS[name]["jobs"].items():
            assert job["concurrency"]["cancel-in-progress"] is False, (name, job_id)


# What each job may hold beyond `contents: read`, and why: the OIDC token where a role is assumed, the PR comment,
# the drift issues (on the one job that runs no code of the repository).
EXTRA_PERMISSIONS = {
    ("pull-request.yml", "preview"): {"id-token": "write", "pull-requests": "write"},
    ("deploy.yml", "deploy"): {"id-token": "write"},
    ("drift.yml", "drift"): {"id-token": "write"},
}
REPORT_PERMISSIONS = {"actions": "read", "issues": "write"}


@pytest.mark.parametrize("name", FLOWS)
def test_permissions_are_per_job_and_minimal(name):
    assert FLOWS[name]["permissions"] == {}
    for job_id, job in FLOWS[name]["jobs"].items():
        if (name, job_id) == ("drift.yml", "report"):
            assert job["permissions"] == REPORT_PERMISSIONS
            continue
        assert job["permissions"] == {"contents": "read", **EXTRA_PERMISSIONS.get((name, job_id), {})}, job_id
        assert bool(steps_using(job, CREDENTIALS_ACTION)) == ("id-token" in job["permissions"]), job_id


def test_the_issue_writer_runs_no_repository_code_and_no_action():
    report = FLOWS["drift.yml"]["jobs"]["report"]
    assert all("uses" not in step for step in report["steps"])
    assert report["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert report["needs"] == ["stacks", "drift"] and report["if"].startswith("${{ !cancelled() &&")
    # The script finds each stack's job by the name the drift job gives itself.
    assert FLOWS["drift.yml"]["jobs"]["drift"]["name"] == "drift (${{ matrix.stack }})"
    assert 'select(.name | startswith("drift ("))' in script(report)


def test_every_action_is_pinned_to_a_commit():
    uses = [step["uses"] for _, _, job in jobs() for step in job["steps"] if "uses" in step]
    assert uses and [use for use in uses if not PINNED.match(use.split(" ")[0])] == []


# -- the drift report's script, against a stand-in `gh` -------------------------------------------------------

FAKE_GH = r"""#!/usr/bin/env bash
# Answers as GitHub's API would from $GH_STATE; every call is logged, one line each.
echo "gh $*" >> "${GH_STATE}/calls"
case "$1 $2" in
  "api "*) cat "${GH_STATE}/jobs.json" | jq -r "${@: -1}" ;;
  "issue list") cat "${GH_STATE}/issues.json" ;;
  *) ;;
esac
"""


@pytest.fixture
def run_report(tmp_path):
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed: the stand-in gh evaluates the report's --jq filters with it, as gh does "
                    "(.ci/run installs it)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(FAKE_GH, encoding="utf-8")
    gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
    (report_step,) = FLOWS["drift.yml"]["jobs"]["report"]["steps"]

    def run(conclusions: dict[str, str], open_issues: list[dict[str, Any]], status: int = 0) -> list[str]:
        jobs_answer = {"jobs": [{"name": f"drift ({stack})", "conclusion": c} for stack, c in conclusions.items()
                                if c != "no such job"]
                       + [{"name": "list the stacks (python -m infra.stacks)", "conclusion": "success"}]}
        (tmp_path / "jobs.json").write_text(json.dumps(jobs_answer), encoding="utf-8")
        (tmp_path / "issues.json").write_text(json.dumps(open_issues), encoding="utf-8")
        (tmp_path / "calls").write_text("", encoding="utf-8")
        matrix = {"include": [{"stack": stack, "tier": "non-production", "policyConfig": ""} for stack in conclusions]}
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GH_STATE": str(tmp_path),
               "MATRIX": json.dumps(matrix), "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r",
               "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "1"}
        done = subprocess.run(["bash", "-c", report_step["run"]], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == status, done.stderr
        if status:
            assert "::error::no job 'drift (" in done.stdout
        return [line for line in (tmp_path / "calls").read_text().splitlines() if not line.startswith("gh api")]

    return run


def test_report_opens_an_issue_for_a_drifted_stack_without_one(run_report):
    calls = run_report({"staging": "failure", "prod-eu": "success"}, open_issues=[])
    created = [call for call in calls if call.startswith("gh issue create")]
    assert len(created) == 1 and "--title drift: staging --body" in created[0]
    assert "https://github.com/o/r/actions/runs/42" in created[0]
    assert not any(call.startswith(("gh issue comment", "gh issue close")) for call in calls)


def test_report_comments_on_the_open_issue_and_closes_a_fixed_one(run_report):
    calls = run_report({"staging": "failure", "prod-eu": "success"}, open_issues=[
        {"number": 7, "title": "drift: staging"}, {"number": 8, "title": "drift: prod-eu"},
        {"number": 9, "title": "drift: staging-2"}])
    assert [call.split(" --")[0] for call in calls if not call.startswith("gh issue list")] == [
        "gh issue comment 7", "gh issue close 8"]


def test_report_leaves_issues_of_a_job_that_did_not_conclude(run_report):
    calls = run_report({"staging": "cancelled"}, open_issues=[{"number": 7, "title": "drift: staging"}])
    assert [call for call in calls if not call.startswith("gh issue list")] == []


def test_report_fails_when_a_stacks_job_is_not_found_by_name(run_report):
    """The script finds each stack's job by its name `drift (<stack>)`: a renamed job must fail it, not pass."""
    calls = run_report({"staging": "failure", "prod-eu": "no such job"}, open_issues=[], status=1)
    assert len([call for call in calls if call.startswith("gh issue create")]) == 1
