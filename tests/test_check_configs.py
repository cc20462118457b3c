"""Issue 17 item 3: `python -m policy.check_configs` refuses every policy config the offline harness refuses, so the
pack CI runs with `--policy-pack-config policy/policy-config.<stack>.json` never gets a file the offline gate would
reject (the engine itself takes `disabled`, `all` and unknown names: pulumi/pulumi pkg/resource/analyzer/config.go).

Each case runs the command's entry point in-process (tests/support/operator_cli.run_entry_point) on a temporary
project: the shipped Pulumi.yaml and stack files, and the policy configs the case writes."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from securestack.infra.stack_config import read_stack_config
from securestack.policy.check_configs import main
from securestack.policy.harness import PolicyConfigError, enforcement_levels, read_policy_config
from securestack.policy.policies import POLICIES
from tests.support.operator_cli import no_aws_config, run_entry_point
from tests.support.stacks import PROJECT_ROOT, STACK_FILES, absent_stack

A_POLICY, ANOTHER = POLICIES[0].name, POLICIES[1].name


def project(root: Path, configs: dict[str, Callable[[Path], None]]) -> Path:
    """Pulumi.yaml and every stack file of the repository under root, and `policy/policy-config.<stack>.json`
    made by each maker."""
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    for stack in STACK_FILES:
        shutil.copy(PROJECT_ROOT / f"Pulumi.{stack}.yaml", root / f"Pulumi.{stack}.yaml")
    (root / "policy").mkdir()
    for stack, make in configs.items():
        make(root / "policy" / f"policy-config.{stack}.json")
    return root


def text(content: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(content, encoding="utf-8")


def document(value: object) -> Callable[[Path], None]:
    return text(json.dumps(value))


def check(root: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return run_entry_point(main, "policy.check_configs", list(options), root, no_aws_config())


STACK = STACK_FILES[0]  # any stack the repository has a file for
BAD_CONFIGS = [
    pytest.param(text("{not json"), "is not valid JSON: Expecting property name enclosed in double quotes: line 1 "
                 "column 2 (char 1)", id="invalid JSON"),
    pytest.param(document([A_POLICY]), "must be an object of policy name -> enforcement level", id="not an object"),
    pytest.param(document({"no-such-policy": "advisory"}),
                 "no-such-policy: is not a policy of the pack (see policy/CONTROLS.md)", id="unknown policy"),
    pytest.param(document({"all": "advisory"}), "all: is not a policy of the pack (see policy/CONTROLS.md)",
                 id="all (every policy at once) is refused as by the harness"),
    pytest.param(document({A_POLICY: "disabled"}), f"{A_POLICY}: enforcement level 'disabled'; a stack may only set "
                 "advisory or mandatory (never disable a policy)", id="disabled as a string"),
    pytest.param(document({A_POLICY: {"enforcementLevel": "disabled"}}), f"{A_POLICY}: enforcement level 'disabled'; "
                 "a stack may only set advisory or mandatory (never disable a policy)", id="disabled as an object"),
    pytest.param(document({A_POLICY: "warn"}), f"{A_POLICY}: enforcement level 'warn'; a stack may only set advisory "
                 "or mandatory (never disable a policy)", id="unknown level"),
    pytest.param(document({A_POLICY: {"enforcementLevel": ["advisory"]}}), f"{A_POLICY}: enforcement level "
                 "['advisory']; a stack may only set advisory or mandatory (never disable a policy)",
                 id="a level that is a list"),
    pytest.param(lambda path: path.write_bytes(b'{"r\xe9vis\xe9": "advisory"}'), "is not UTF-8 text", id="not UTF-8"),
    pytest.param(lambda path: path.symlink_to(path.parent / "moved-away.json"),
                 "cannot be read: No such file or directory", id="dangling link"),
    pytest.param(lambda path: path.mkdir(), "cannot be read: Is a directory", id="a directory"),
]


@pytest.mark.parametrize("make, problem", BAD_CONFIGS)
def test_each_bad_config_is_refused_with_one_line_and_exit_1(tmp_path, make, problem):
    done = check(project(tmp_path, {STACK: make}))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == ["error: 1 policy config problem(s) in 1 file(s):",
                                        f"policy/policy-config.{STACK}.json: {problem}"]


@pytest.mark.parametrize("make, problem", BAD_CONFIGS)
def test_the_offline_harness_refuses_the_same_files(tmp_path, make, problem):
    """One gate: what the check refuses, `python -m infra.preview` refuses too (exit 2 before the program runs)."""
    root = project(tmp_path, {STACK: make})
    with pytest.raises(PolicyConfigError) as refused:
        enforcement_levels(read_policy_config(read_stack_config(STACK, root=root)))
    error = refused.value
    assert (f"{error.key}: {error.problem}" if error.key else error.problem) == problem


def test_a_config_for_a_stack_without_a_stack_file_is_refused(tmp_path):
    ghost = absent_stack()
    done = check(project(tmp_path, {ghost: document({A_POLICY: "advisory"})}), "--root", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.splitlines()[1:] == [
        f"policy/policy-config.{ghost}.json: stack: no Pulumi.{ghost}.yaml in {tmp_path}, so no stack uses this file "
        "(renamed or removed?)"]


def test_every_problem_of_every_file_is_listed_in_order(tmp_path):
    root = project(tmp_path, {STACK: document({"no-such-policy": "advisory", A_POLICY: "disabled",
                                               ANOTHER: "advisory"}),
                              absent_stack(): text("[]")})
    done = check(root)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0] == "error: 4 policy config problem(s) in 2 file(s):"
    assert [line.split(": ")[1] for line in lines[1:]
            if line.startswith(f"policy/policy-config.{STACK}.json: ")] == ["no-such-policy", A_POLICY]
    assert len(lines) == 5 and "Traceback" not in done.stderr


def test_a_policy_name_holding_a_newline_stays_on_one_line(tmp_path):
    done = check(project(tmp_path, {STACK: document({"a\nb": "advisory"})}))
    assert done.stderr.splitlines()[1] == f"policy/policy-config.{STACK}.json: a b: is not a policy of the pack (see " \
                                          "policy/CONTROLS.md)"


@pytest.mark.parametrize("setting", ["advisory", "mandatory", {"enforcementLevel": "advisory"}])
def test_good_configs_are_accepted_with_exit_0(tmp_path, setting):
    root = project(tmp_path, {stack: document({A_POLICY: setting, ANOTHER: "mandatory"}) for stack in STACK_FILES})
    done = check(root)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"policy configs: {len(STACK_FILES)} checked, all valid\n"


def test_no_policy_configs_is_valid(tmp_path):
    done = check(project(tmp_path, {}))
    assert (done.returncode, done.stdout, done.stderr) == (0, "policy configs: 0 checked, all valid\n", "")


def test_the_repository_policy_configs_are_valid():
    """What `.ci/run` runs: the repository's own configs pass."""
    done = check(PROJECT_ROOT)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("options, problem", [
    (["--root", "/no-such-directory-for-check-configs"], "error: --root /no-such-directory-for-check-configs: not a "
                                                          "directory"),
    (["--stack", "dev"], "error: unrecognized arguments: --stack dev (see `python -m policy.check_configs --help`)"),
])
def test_a_check_that_cannot_run_exits_2_with_one_line(tmp_path, options, problem):
    done = check(tmp_path, *options)
    assert (done.returncode, done.stdout, done.stderr.splitlines()) == (2, "", [problem])


def test_outside_a_project_without_root_exits_2(tmp_path):
    done = check(tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("error: Pulumi.yaml not found in ")
    assert len(done.stderr.splitlines()) == 1


def test_ci_runs_the_check_before_the_tests():
    script = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ".venv/bin/python -m policy.check_configs\n" in script
    assert script.index("-m policy.check_configs") < script.index("-m pytest")


def test_the_command_runs_from_the_repository_root_as_ci_runs_it():
    done = subprocess.run([sys.executable, "-m", "policy.check_configs"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("policy configs: ") and done.stdout.endswith(" checked, all valid\n")
