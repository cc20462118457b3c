"""bench/preview.py, bench/policy_scaling.py, bench/scale.py and bench/rotation.py's zero-downtime scenario run
(tiny sizes): smoke tests, never a timing assertion."""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PREVIEW_ROW = re.compile(r"^ +0 +(\d+) +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+$", re.MULTILINE)
PREVIEW_TARGET = re.compile(r"^target 1: ([\d.]+) .* (ok|MISSED)$", re.MULTILINE)


def test_preview_bench_replays_the_dev_stack_once():
    result = subprocess.run([sys.executable, "bench/preview.py", "--repeats", "1"], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    resources = PREVIEW_ROW.findall(result.stdout)
    # The whole dev stack, not one component.
    assert len(resources) == 1 and int(resources[0]) > 200, result.stdout + result.stderr
    # The replay registered what the program did, with the same inputs (else the bench names the first).
    assert "differ" not in result.stdout
    (_, verdict), = PREVIEW_TARGET.findall(result.stdout)
    assert result.returncode == (0 if verdict == "ok" else 1), result.stderr


SCENARIO_ROW = re.compile(r"^ +(\d+) +(\d+) +\d+ +(\d+) +(\d+) +(\d+) +(\d+) +[\d.]+ +[\d.]+  (met|MISSED)$", re.MULTILINE)
CALLS_ROW = re.compile(r"^  (\w+) +[\d.]+ Secrets Manager calls/min .* per secret per minute \(target <= 1\)  (met|MISSED)$",
                       re.MULTILINE)


def test_rotation_bench_zero_downtime_scenario_runs_with_one_rotation():
    result = subprocess.run([sys.executable, "bench/rotation.py", "--scenario-only", "--rotations", "1",
                             "--steady-minutes", "2", "--repeat", "1", "--strict"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (requests, refusals, key_rotations, webhook_rotations, webhooks, failed, verdict), = SCENARIO_ROW.findall(
        result.stdout)
    assert int(requests) > 100 and int(webhooks) > 50
    assert (refusals, key_rotations, webhook_rotations, failed, verdict) == ("0", "1", "1", "0", "met")
    assert dict(CALLS_ROW.findall(result.stdout)) == {
        "ApiKeyVerifier": "met", "WebhookSigner": "met", "WebhookVerifier": "met"}


POLICY_ROW = re.compile(r"^ +(\d+) +(\d+) +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+  (yes|NO)$", re.MULTILINE)
POLICY_TARGET = re.compile(r"^target 2: ([\d.]+) .* (ok|MISSED)$", re.MULTILINE)


def test_policy_scaling_bench_runs_for_two_tiny_sizes():
    result = subprocess.run([sys.executable, "bench/policy_scaling.py", "--sizes", "0", "2", "--repeats", "1",
                             "--no-warm-up"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    rows = POLICY_ROW.findall(result.stdout)
    assert [int(keys) for keys, _, _ in rows] == [0, 2], result.stdout + result.stderr
    assert int(rows[1][1]) > int(rows[0][1])  # the extra keys are in the stack the pack analyzed
    (_, verdict), = POLICY_TARGET.findall(result.stdout)
    assert result.returncode == (0 if verdict == "ok" else 1), result.stderr


SUITE_TARGET = re.compile(r"^target 5: ([\d.]+) min wall \(target <= 4(.*)\) (ok|MISSED)$", re.MULTILINE)


def test_suite_bench_reports_the_target_line_for_a_given_pytest_argv():
    """bench/suite.py on one small test file (not the suite: the suite runs it), then on a file that does not exist:
    a failing suite is MISSED whatever its time, exit 1."""
    passing = subprocess.run([sys.executable, "bench/suite.py", "--", "-q", "-p", "no:cacheprovider",
                              "tests/test_readme_commands.py"], cwd=REPO, capture_output=True, text=True, timeout=300)
    (minutes, reason, verdict), = SUITE_TARGET.findall(passing.stdout)
    assert (passing.returncode, reason, verdict) == (0, "", "ok"), passing.stdout + passing.stderr
    assert float(minutes) > 0 and "load average" in passing.stdout
    failing = subprocess.run([sys.executable, "bench/suite.py", "--", "-q", "tests/no_such_test_file.py"], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    (_, reason, verdict), = SUITE_TARGET.findall(failing.stdout)
    assert (failing.returncode, verdict) == (1, "MISSED") and "suite failed (exit 4)" in reason, failing.stdout


SCALE_ROW = re.compile(r"^ +(\d+) +(\d+) +[\d.]+ +[\d.]+ +([\d.]+) +(\d+) +(\d+)$", re.MULTILINE)
SCALE_TARGET = re.compile(r"^target 3: ([\d.]+) s, (\d+) MB .* (ok|MISSED)$", re.MULTILINE)


def test_scale_bench_runs_each_size_in_its_own_process():
    result = subprocess.run([sys.executable, "bench/scale.py", "--sizes", "0", "2"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    rows = SCALE_ROW.findall(result.stdout)
    assert [int(keys) for keys, *_ in rows] == [0, 2], result.stdout + result.stderr
    assert int(rows[1][1]) == int(rows[0][1]) + 2 * 6  # six resources per self-issued key
    (cpu, megabytes, verdict), = SCALE_TARGET.findall(result.stdout)
    assert (float(cpu), int(megabytes)) == (float(rows[1][2]), int(rows[1][4]))  # the largest size's figures
    assert all(int(program_mb) <= int(peak_mb) for *_, program_mb, peak_mb in rows)  # the program phase's peak first
    assert result.returncode == (0 if verdict == "ok" else 1), result.stderr
