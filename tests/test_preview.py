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

from securestack.infra.preview import run_stack
from securestack.infra.recording import MASK, Secret, masked, record, secret_outputs
from securestack.infra.settings import SettingsError
from securestack.infra.stack_config import SECRET_PLACEHOLDER, read_stack_config
from tests.support.stacks import SHIPPED_STACKS

REPO = Path(__file__).resolve().parents[1]
NOT_COPIED = {".git", ".venv", "tests", "bench", "build", "__pycache__", ".pytest_cache"}
RESOURCE_KEYS = {"urn", "type", "name", "parent", "inputs", "options", "dependencies", "propertyDependencies",
                 "outputs"}
PREVIEW_MODE = "--mode=preview"
OPTION_KEYS = {"protect", "retainOnDelete", "ignoreChanges", "dependsOn", "additionalSecretOutputs"}
CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")
USER_KEYED_INPUTS = {"tags", "tagsAll", "defaultTags", "variables", "dimensions"}  # keys are data, not names
# The serialized provider of a Python dynamic resource (components/secret_readiness.py), named by the SDK.
DYNAMIC_PROVIDER_INPUT = "__provider"
CIPHERTEXT = "AAABAKcJ7QxvS1w3l0MyF1fnYx2bMOX1fWAGcc0XoLhcbYI+"
PREVIEW_TIMEOUT_SECONDS = 600


def preview_command(stack: str, *flags: str) -> list[str]:
    return [sys.executable, "-m", "infra.preview", stack, *flags]


def clean_environment(*python_path: str) -> dict[str, str]:
    """Only the given PYTHONPATH: a project copy must run its own code, not this checkout's (unless a test shadows a
    package)."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if python_path:
        environment["PYTHONPATH"] = os.pathsep.join(python_path)
    return environment


def start(cwd: Path, stack: str, *flags: str, python_path: str | None = None) -> subprocess.Popen:
    """`infra.preview` run in `cwd`; in a project copy, with the copy's folders as the `securestack` packages."""
    paths = [python_path] if python_path else []
    if cwd.resolve() != REPO.resolve():
        paths.insert(0, str(importable_copy(cwd)))
    return subprocess.Popen(preview_command(stack, *flags), cwd=cwd, env=clean_environment(*paths), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def importable_copy(root: Path) -> Path:
    """A directory that, first on PYTHONPATH, makes a project copy's folders the `securestack` packages: the venv's
    editable install maps them to this checkout, and its finder comes after the path entries on sys.meta_path."""
    shim = root / ".import"
    if not shim.exists():
        (shim / "securestack").mkdir(parents=True)
        for package in ("components", "infra", "policy", "lambdas"):
            (shim / "securestack" / package).symlink_to(root / package, target_is_directory=True)
    return shim


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
    # Copies of dev name their own roles (settings refuse another environment's names: issue 14).
    short_retention = (REPO / "Pulumi.dev.yaml").read_text().replace("backupRetentionDays: 7", "backupRetentionDays: 3")
    short_retention = short_retention.replace("securestack-dev-", "securestack-retention-")
    assert "backupRetentionDays: 3" in short_retention
    (root / "Pulumi.retention.yaml").write_text(short_retention)
    secret_tier = (REPO / "Pulumi.dev.yaml").read_text().replace(
        "securestack:tier: non-production", f"securestack:tier:\n    secure: {CIPHERTEXT}").replace(
        "securestack-dev-", "securestack-secrettier-")
    assert CIPHERTEXT in secret_tier
    (root / "Pulumi.secrettier.yaml").write_text(secret_tier)
    return root


@pytest.fixture(scope="module")
def previews(project_copy) -> dict[tuple, subprocess.CompletedProcess]:
    """The slow runs (each imports pulumi_aws), started together so they share the machine's cores."""
    runs = {(stack, flag): (REPO, (stack, *flag.split())) for stack in SHIPPED_STACKS
            for flag in ("", "--json", PREVIEW_MODE, f"{PREVIEW_MODE} --json")}
    runs[("copy-retention", "")] = (project_copy, ("retention",))
    started = {key: start(cwd, *args) for key, (cwd, args) in runs.items()}
    return {key: finish(process) for key, process in started.items()}


def preview_json(previews, stack: str, flags: str = "--json") -> dict:
    result = previews[(stack, flags)]
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
    for line in ("+ securestack:index:EncryptedPostgres database", "+ aws:rds/instance:Instance database-instance",
                 "+ aws:rds/parameterGroup:ParameterGroup database-params", "+ securestack:index:EnvironmentKeys keys",
                 "+ securestack:index:Network network"):
        assert line in output
    assert ("+ securestack:index:DatabaseBackupPlan backup" in output) is (stack == "prod")


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
# Modes (`--mode up`, the default, and `--mode preview`) and the recorded outputs
# --------------------------------------------------------------------------------------------------------------

MODE_RUNS = {"up": ("", "--json"), "preview": (PREVIEW_MODE, f"{PREVIEW_MODE} --json")}


@pytest.mark.parametrize("mode", MODE_RUNS)
@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_output_says_which_mode_ran_and_both_modes_pass_clean(previews, stack, mode):
    text_flags, json_flags = MODE_RUNS[mode]
    text = previews[(stack, text_flags)]
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0].startswith(f"Mode: {mode} (")
    document = preview_json(previews, stack, json_flags)
    assert document["mode"] == mode
    assert not [v for v in document["violations"] if v["enforcementLevel"] == "mandatory"]
    assert re.search(r"^Policy pack: 0 mandatory, \d+ advisory violation\(s\)$", text.stdout, re.MULTILINE)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_preview_mode_reports_policies_that_read_unknowns_as_the_engine_does(previews, stack):
    up, preview = preview_json(previews, stack), preview_json(previews, stack, f"{PREVIEW_MODE} --json")
    assert up["violations"] == []  # after a deploy every policy decides
    notices = preview["violations"]
    assert notices and {v["enforcementLevel"] for v in notices} == {"advisory"}
    assert all(v["message"].startswith(f"can't run policy '{v['policyName']}' from policy pack 'securestack@v")
               and "during preview" in v["message"] for v in notices)
    encrypted = [v for v in notices if v["policyName"] == "rds-storage-encrypted-with-cmk"]
    assert len(encrypted) == 1 and ".kmsKeyId can't be known during preview" in encrypted[0]["message"]
    summary = f"  {len(notices)} of the advisories: policies that can't run during a preview"
    assert summary in previews[(stack, PREVIEW_MODE)].stdout


def database_instance(document: dict) -> dict:
    return next(r for r in document["resources"] if r["type"] == "aws:rds/instance:Instance")


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_json_carries_each_resources_outputs_known_after_up_unknown_in_preview(previews, stack):
    up = database_instance(preview_json(previews, stack))["outputs"]
    identifier = up["identifier"]
    assert up["arn"] == f"arn:aws:rds:us-east-1:{up['arn'].split(':')[4]}:db:{identifier}"
    assert re.fullmatch(rf"{re.escape(identifier)}\.c[0-9a-f]+\.us-east-1\.rds\.amazonaws\.com:5432", up["endpoint"])
    assert up["storageEncrypted"] is True and up["id"]
    preview = database_instance(preview_json(previews, stack, f"{PREVIEW_MODE} --json"))
    outputs = preview["outputs"]
    assert {outputs[key] for key in ("arn", "endpoint", "address", "resourceId", "id")} == {"[unknown]"}
    assert outputs["identifier"] == identifier  # given (or auto-named at Check): known in a preview too
    assert preview["inputs"]["kmsKeyId"] == "[unknown]"  # the key is not created yet either
    for document in (preview_json(previews, stack), preview_json(previews, stack, f"{PREVIEW_MODE} --json")):
        assert all(isinstance(r["outputs"], dict) for r in document["resources"])


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


@pytest.mark.parametrize("preview", [False, True])
def test_json_masks_secret_inputs_and_outputs(preview):
    document = json.dumps(record(program_with_a_secret_input, stack="dev", config={}, preview=preview).to_json())
    assert "hunter2-value" not in document
    parameter = next(r for r in json.loads(document)["resources"] if r["name"] == "token")
    assert parameter["inputs"]["value"] == MASK and parameter["outputs"]["value"] == MASK


def test_outputs_the_resource_declares_secret_are_masked():
    """pulumi-aws lists a resource's secret properties in additionalSecretOutputs (an access key's `secret`); the
    engine stores those outputs as secrets, and so does the recording, whatever the provider returned."""
    outputs = secret_outputs({"id": "AKIAEXAMPLE", "secret": "wJalrXUtnFEMI-example"}, ["secret", "sesSmtpPassword"])
    assert isinstance(outputs["secret"], Secret) and outputs["id"] == "AKIAEXAMPLE"
    assert masked(outputs) == {"id": "AKIAEXAMPLE", "secret": MASK}


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
    assert result.stderr.startswith("error: stack 'retention': 1 settings problem(s):")
    assert "\n  securestack:database.backupRetentionDays: must be >= 7" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


# --------------------------------------------------------------------------------------------------------------
# The policy gate fails closed: a pack that cannot load or run is one line on stderr and exit 1, never "0 mandatory"
# --------------------------------------------------------------------------------------------------------------

RAISING_POLICY = '''
from pulumi_policy import ResourceValidationPolicy


def _reads_a_missing_key(args, report_violation):
    if args.resource_type == "aws:rds/instance:Instance":
        raise KeyError("engineVersion")


POLICIES.append(ResourceValidationPolicy(name="reads-a-missing-key", description="raises on the database",
                                         validate=_reads_a_missing_key))
'''


def broken_pack_missing_module(root: Path) -> None:
    """A policy module that imports something absent, as a half-merged change leaves it."""
    module = root / "policy" / "policies" / "rds.py"
    module.write_text(module.read_text() + "\nfrom .not_merged_yet import helper  # noqa: E402,F401\n")


def broken_pack_raising_policy(root: Path) -> None:
    init = root / "policy" / "policies" / "__init__.py"
    init.write_text(init.read_text() + RAISING_POLICY)


def broken_pack_without_policies(root: Path) -> None:
    init = root / "policy" / "policies" / "__init__.py"
    init.write_text(init.read_text() + "\nPOLICIES = []\n")


def broken_pack_without_its_manifest(root: Path) -> None:
    """The analyzer cannot start: the pack's version comes from PulumiPolicy.yaml."""
    (root / "policy" / "PulumiPolicy.yaml").unlink()


def broken_pulumi_policy(shadow: Path) -> None:
    """An empty `pulumi_policy` package ahead of site-packages on PYTHONPATH: the SDK is there but broken."""
    (shadow / "pulumi_policy").mkdir(parents=True)
    (shadow / "pulumi_policy" / "__init__.py").write_text("")


BROKEN_PACKS = {
    "missing-module": (broken_pack_missing_module,
                       ("cannot load the policy pack: ModuleNotFoundError:", "policy.policies.not_merged_yet")),
    "raising-policy": (broken_pack_raising_policy,
                       ("the policy pack failed: policy 'reads-a-missing-key' failed on urn:pulumi:dev::securestack::",
                        "aws:rds/instance:Instance::database-instance", "KeyError: 'engineVersion'")),
    "no-policies": (broken_pack_without_policies, ("the policy pack failed: the policy pack has no policies",)),
    "no-manifest": (broken_pack_without_its_manifest,
                    ("the policy pack failed: FileNotFoundError:", "PulumiPolicy.yaml")),
}


@pytest.fixture(scope="module")
def broken_gates(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Each break in a project copy of its own (or a shadowing PYTHONPATH), all previews started together."""
    started = {}
    for name, (break_it, _) in BROKEN_PACKS.items():
        root = copy_project(tmp_path_factory.mktemp(name) / "securestack")
        break_it(root)
        started[name] = start(root, "dev")
    shadow = tmp_path_factory.mktemp("shadow")
    broken_pulumi_policy(shadow)
    started["broken-pulumi-policy"] = start(REPO, "dev", python_path=str(shadow))
    started["broken-pulumi-policy-json"] = start(REPO, "dev", PREVIEW_MODE, "--json", python_path=str(shadow))
    return {name: finish(process) for name, process in started.items()}


@pytest.mark.parametrize("name", BROKEN_PACKS)
def test_a_broken_policy_pack_fails_the_gate_with_one_line(broken_gates, name):
    result = broken_gates[name]
    assert "Traceback" not in result.stderr
    assert_one_line_error(result, 1, "stack 'dev':", *BROKEN_PACKS[name][1])


@pytest.mark.parametrize("name", ["broken-pulumi-policy", "broken-pulumi-policy-json"])
def test_a_broken_pulumi_policy_install_fails_the_gate_in_every_mode(broken_gates, name):
    result = broken_gates[name]
    assert "Traceback" not in result.stderr and "0 mandatory" not in result.stdout
    assert_one_line_error(result, 1, "cannot load the policy pack: ImportError: cannot import name",
                          "from 'pulumi_policy'")
