"""`python -m infra.preview <stack> [--json]` end to end, in a subprocess, as README tells people to run it.

The shipped stacks run from the repository; the error paths and secret masking run from a throwaway copy
of the project (the preview reads the Pulumi.*.yaml next to its own `infra` package).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from infra.preview import run_stack
from infra.recording import MASK, record
from infra.settings import SettingsError
from infra.stack_config import SECRET_PLACEHOLDER, read_stack_config
from tests.support.stacks import SHIPPED_STACKS

REPO = Path(__file__).resolve().parents[1]
NOT_COPIED = {".git", ".venv", "tests", "bench", "build", "__pycache__", ".pytest_cache"}
RESOURCE_KEYS = {"urn", "type", "name", "parent", "inputs", "options", "dependencies", "propertyDependencies"}
OPTION_KEYS = {"protect", "retainOnDelete", "ignoreChanges", "dependsOn", "additionalSecretOutputs"}
CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")
USER_KEYED_INPUTS = {"tags", "tagsAll", "defaultTags", "variables", "dimensions"}  # keys are data, not names
# The serialized provider of a Python dynamic resource (components/secret_readiness.py), named by the SDK.
DYNAMIC_PROVIDER_INPUT = "__provider"
CIPHERTEXT = "AAABAKcJ7QxvS1w3l0MyF1fnYx2bMOX1fWAGcc0XoLhcbYI+"
PREVIEW_TIMEOUT_SECONDS = 600


def preview_command(stack: str, *flags: str) -> list[str]:
    return [sys.executable, "-m", "infra.preview", stack, *flags]


def clean_environment() -> dict[str, str]:
    """No PYTHONPATH: the copy must import its own `infra`, not this checkout's."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def start(cwd: Path, stack: str, *flags: str) -> subprocess.Popen:
    return subprocess.Popen(preview_command(stack, *flags), cwd=cwd, env=clean_environment(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=PREVIEW_TIMEOUT_SECONDS)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def copy_project(destination: Path) -> Path:
    shutil.copytree(REPO, destination, ignore=lambda _, names: [n for n in names if n in NOT_COPIED])
    return destination


def with_extra_config(stack_file: Path, extra: str) -> None:
    """Appends YAML lines (indented under `config:`) to a stack file."""
    stack_file.write_text(stack_file.read_text().rstrip("\n") + "\n" + extra)


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """A copy of the project with stack files for the masking and error paths."""
    root = copy_project(tmp_path_factory.mktemp("project") / "securestack")
    with_extra_config(root / "Pulumi.dev.yaml", (
        f"  aws:secretKey:\n    secure: {CIPHERTEXT}\n"
        f"  observability:settings:\n    apiKey:\n      secure: {CIPHERTEXT}\n    site: example.com\n"))
    (root / "Pulumi.broken.yaml").write_text("config:\n\taws:region: us-east-1\n")
    (root / "Pulumi.listing.yaml").write_text("- aws:region\n- us-east-1\n")
    (root / "Pulumi.binary.yaml").write_bytes(b"config:\n  aws:region: \xff\xfe\n")
    short_retention = (REPO / "Pulumi.dev.yaml").read_text().replace("backupRetentionDays: 7", "backupRetentionDays: 3")
    assert "backupRetentionDays: 3" in short_retention
    (root / "Pulumi.retention.yaml").write_text(short_retention)
    secret_tier = (REPO / "Pulumi.dev.yaml").read_text().replace(
        "securestack:tier: non-production", f"securestack:tier:\n    secure: {CIPHERTEXT}")
    assert CIPHERTEXT in secret_tier
    (root / "Pulumi.secrettier.yaml").write_text(secret_tier)
    return root


@pytest.fixture(scope="module")
def previews(project_copy) -> dict[tuple, subprocess.CompletedProcess]:
    """The slow runs (each imports pulumi_aws), started together so they share the machine's cores."""
    runs = {(stack, flag): (REPO, (stack, *([flag] if flag else []))) for stack in SHIPPED_STACKS
            for flag in ("", "--json")}
    runs[("copy-retention", "")] = (project_copy, ("retention",))
    started = {key: start(cwd, *args) for key, (cwd, args) in runs.items()}
    return {key: finish(process) for key, process in started.items()}


def preview_json(previews, stack: str) -> dict:
    result = previews[(stack, "--json")]
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --------------------------------------------------------------------------------------------------------------
# The tree
# --------------------------------------------------------------------------------------------------------------

TREE_LINE = re.compile(r"^(?P<indent>(    )*)\+ (?P<type>\S+) (?P<name>\S+)$")


def parse_tree(text: str) -> list[tuple[int, str, str]]:
    """(depth, type, name) of every `+ type name` line, depth = indentation / 4."""
    lines = []
    for line in text.splitlines():
        match = TREE_LINE.match(line)
        if match:
            lines.append((len(match["indent"]) // 4, match["type"], match["name"]))
    return lines


def parents_from_tree(lines: list[tuple[int, str, str]]) -> dict[tuple[str, str], tuple[str, str] | None]:
    """Each line's parent is the nearest line above it one level up."""
    open_levels: list[tuple[str, str]] = []
    parents = {}
    for depth, type_, name in lines:
        del open_levels[depth:]
        parents[(type_, name)] = open_levels[depth - 1] if depth else None
        open_levels.append((type_, name))
    return parents


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_tree_shows_every_resource_under_its_parent(previews, stack):
    result = previews[(stack, "")]
    assert result.returncode == 0, result.stderr
    lines = parse_tree(result.stdout)
    assert lines[0] == (0, "pulumi:pulumi:Stack", f"securestack-{stack}")
    resources = preview_json(previews, stack)["resources"]
    by_urn = {r["urn"]: (r["type"], r["name"]) for r in resources}
    expected = {(r["type"], r["name"]): by_urn.get(r["parent"], ("pulumi:pulumi:Stack", f"securestack-{stack}"))
                for r in resources}
    assert {k: v for k, v in parents_from_tree(lines).items() if v is not None} == expected


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_tree_counts_per_type(previews, stack):
    output = previews[(stack, "")].stdout
    counts = Counter(r["type"] for r in preview_json(previews, stack)["resources"])
    assert f"Resources: {sum(counts.values())} to create" in output
    listed = dict((type_, int(count)) for count, type_ in re.findall(r"^ +(\d+) (\S+)$", output, re.MULTILINE))
    assert listed == dict(counts)
    assert re.search(r"^Policy pack: \d+ mandatory, \d+ advisory violation\(s\)$", output, re.MULTILINE)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_tree_shows_the_database_slice(previews, stack):
    output = previews[(stack, "")].stdout
    for line in ("+ securestack:database:EncryptedPostgres database", "+ aws:rds/instance:Instance database-instance",
                 "+ aws:rds/parameterGroup:ParameterGroup database-params", "+ securestack:keys:EnvironmentKeys keys",
                 "+ securestack:network:Network network"):
        assert line in output
    assert ("+ securestack:backup:DatabaseBackupPlan backup" in output) is (stack == "prod")


# --------------------------------------------------------------------------------------------------------------
# --json
# --------------------------------------------------------------------------------------------------------------

def input_keys(value, inside_user_map: bool = False):
    """Every engine input name in an inputs tree (keys of tag-like maps are data, not names)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not inside_user_map:
                yield key
            yield from input_keys(item, key in USER_KEYED_INPUTS)
    elif isinstance(value, list):
        for item in value:
            yield from input_keys(item)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_json_has_the_documented_shape(previews, stack):
    document = preview_json(previews, stack)
    assert {"resources", "violations"} <= set(document)
    assert isinstance(document["violations"], list)
    for resource in document["resources"]:
        assert set(resource) == RESOURCE_KEYS
        assert resource["urn"].startswith(f"urn:pulumi:{stack}::securestack::")
        assert resource["urn"].endswith(f"{resource['type']}::{resource['name']}")
        assert OPTION_KEYS <= set(resource["options"])
        assert isinstance(resource["dependencies"], list) and isinstance(resource["propertyDependencies"], dict)
        reserved = {DYNAMIC_PROVIDER_INPUT} if resource["type"].startswith("pulumi-python:dynamic") else set()
        bad = [key for key in input_keys(resource["inputs"]) if not CAMEL_CASE.match(key) and key not in reserved]
        assert not bad, f"{resource['name']}: input names not in engine camelCase: {bad}"
    for violation in document["violations"]:
        assert {"policyName", "enforcementLevel", "message", "urn"} <= set(violation)
        assert violation["enforcementLevel"] in ("mandatory", "advisory")


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_json_lets_outside_tools_rebuild_the_graph(previews, stack):
    document = preview_json(previews, stack)
    resources = {r["urn"]: r for r in document["resources"]}
    stack_urn = f"urn:pulumi:{stack}::securestack::pulumi:pulumi:Stack::securestack-{stack}"
    for resource in resources.values():
        from_properties = {urn for urns in resource["propertyDependencies"].values() for urn in urns}
        referenced = set(resource["dependencies"]) | from_properties | set(resource["options"]["dependsOn"])
        assert referenced <= set(resources), f"{resource['name']} depends on unknown urns"
        assert from_properties <= set(resource["dependencies"])
        assert resource["parent"] in resources or resource["parent"] == stack_urn
        provider = resource["options"].get("provider")
        if provider:
            assert provider.rsplit("::", 1)[0] in resources
    for violation in document["violations"]:
        assert violation["urn"] is None or violation["urn"] in resources
    assert_acyclic(resources)
    database = next(r for r in resources.values() if r["type"] == "aws:rds/instance:Instance")
    depends_on = {resources[u]["type"] for u in database["dependencies"]}
    assert {"aws:rds/subnetGroup:SubnetGroup", "aws:rds/parameterGroup:ParameterGroup",
            "aws:ec2/securityGroup:SecurityGroup", "aws:kms/key:Key", "aws:iam/role:Role"} <= depends_on
    assert set(database["propertyDependencies"]["kmsKeyId"]) == {
        r["urn"] for r in resources.values() if r["type"] == "aws:kms/key:Key"
        and r["inputs"]["tags"].get("securestack:key-purpose") == "data"}


def assert_acyclic(resources: dict) -> None:
    """Creation order exists: dependencies and parents form no cycle."""
    pending = {urn: set(r["dependencies"]) | ({r["parent"]} & set(resources)) for urn, r in resources.items()}
    while pending:
        ready = [urn for urn, needs in pending.items() if not needs & set(pending)]
        assert ready, f"dependency cycle among {sorted(pending)[:5]}"
        for urn in ready:
            del pending[urn]


# --------------------------------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------------------------------

def test_secure_config_values_become_placeholders(project_copy):
    stack_config = read_stack_config("dev", project_copy)
    assert stack_config.config["aws:secretKey"] == SECRET_PLACEHOLDER
    assert json.loads(stack_config.config["observability:settings"]) == {"apiKey": SECRET_PLACEHOLDER,
                                                                         "site": "example.com"}
    assert {"aws:secretKey", "observability:settings"} <= set(stack_config.secret_keys)
    assert CIPHERTEXT not in json.dumps(stack_config.config)


def test_stack_with_secure_values_runs_and_never_shows_them(project_copy):
    """What the preview does with the copy's stack file (in-process: the slow imports are already loaded)."""
    recording = run_stack(read_stack_config("dev", project_copy))
    document = json.dumps(recording.to_json())
    assert json.loads(document)["resources"] and CIPHERTEXT not in document


def test_a_secure_value_where_settings_expect_text_is_a_settings_error(project_copy):
    with pytest.raises(SettingsError) as raised:
        run_stack(read_stack_config("secrettier", project_copy))
    assert [p.split(": ", 1)[0] for p in raised.value.problems] == ["securestack:tier"]
    assert CIPHERTEXT not in str(raised.value)


def program_with_a_secret_input():
    provider = aws.Provider("aws", region="us-east-1")
    aws.ssm.Parameter("token", type="SecureString", value=pulumi.Output.secret("hunter2-value"),
                      opts=pulumi.ResourceOptions(provider=provider))


def test_json_masks_secret_inputs():
    document = json.dumps(record(program_with_a_secret_input, stack="dev", config={}).to_json())
    assert "hunter2-value" not in document
    parameter = next(r for r in json.loads(document)["resources"] if r["name"] == "token")
    assert parameter["inputs"]["value"] == MASK


# --------------------------------------------------------------------------------------------------------------
# Error paths: one line on stderr, exit 2 (unreadable) or 1 (settings)
# --------------------------------------------------------------------------------------------------------------

def assert_one_line_error(result: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def run_quick(cwd: Path, stack: str) -> subprocess.CompletedProcess:
    return finish(start(cwd, stack))


def test_unknown_stack():
    assert_one_line_error(run_quick(REPO, "staging"), 2, "unknown stack 'staging'", "dev", "prod")


def test_stack_name_that_is_no_file_name():
    assert_one_line_error(run_quick(REPO, "../Pulumi"), 2, "not a stack name")


@pytest.mark.parametrize("stack, fragments", [
    ("broken", ("Pulumi.broken.yaml", "not valid YAML", "line 2, column 1")),
    ("listing", ("Pulumi.listing.yaml", "mapping")),
    ("binary", ("Pulumi.binary.yaml", "UTF-8")),
])
def test_unreadable_stack_file(project_copy, stack, fragments):
    assert_one_line_error(run_quick(project_copy, stack), 2, *fragments)


def test_missing_project_file(tmp_path):
    root = copy_project(tmp_path / "securestack")
    (root / "Pulumi.yaml").unlink()
    assert_one_line_error(run_quick(root, "dev"), 2, "Pulumi.yaml not found")


def test_settings_error_lists_the_key_path(previews):
    result = previews[("copy-retention", "")]
    assert result.returncode == 1
    assert result.stderr.startswith("error: stack 'retention': invalid stack configuration (1 problem(s)):")
    assert "  - securestack:database.backupRetentionDays: must be >= 7" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
