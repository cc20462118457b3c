"""`python -m infra.preview <stack> [--json]` end to end, in a subprocess, as README tells people to run it.

The shipped stacks run from the repository; the error paths and secret masking run from a throwaway copy
of the project (the preview reads the Pulumi.*.yaml of the directory it runs in). The error paths that fail before
recording run the entry point in-process (`run_quick`), with the same one line and exit code checked.
"""
from __future__ import annotations

import io
import json
import os
import pty
import select
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from securestack.infra.preview import policy_report, run_stack
from securestack.infra.preview_display import CLEAR_LINE, render_outputs, short_type, status_line
from securestack.infra.recording import MASK, Secret, masked, record, secret_outputs
from securestack.infra.settings import SettingsError
from securestack.infra.stack_config import SECRET_PLACEHOLDER, read_stack_config
from securestack.policy.harness import pack_version
from tests.support.operator_cli import run_entry_point
from tests.support.project_copy import REPO, clean_environment, copy_project, importable_copy
from tests.support.stacks import STACK_FILES, absent_stack, settings_of, shipped_recording

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


def start(cwd: Path, stack: str, *flags: str, python_path: str | None = None) -> subprocess.Popen:
    """`infra.preview` run in `cwd`; in a project copy, with the copy's folders as the `securestack` packages."""
    paths = [python_path] if python_path else []
    if cwd.resolve() != REPO.resolve():
        paths.insert(0, str(importable_copy(cwd)))
    return subprocess.Popen(preview_command(stack, *flags), cwd=cwd, env=clean_environment(*paths), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=PREVIEW_TIMEOUT_SECONDS)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


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
def violating_copy(tmp_path_factory) -> Path:
    """A copy of the project whose pack has one more policy, flagging the database (mandatory)."""
    root = copy_project(tmp_path_factory.mktemp("violation") / "securestack")
    init = root / "policy" / "policies" / "__init__.py"
    init.write_text(init.read_text() + VIOLATING_POLICY)
    return root


def in_process_preview(stack: str, flags: str) -> subprocess.CompletedProcess:
    """`python -m infra.preview <stack> <flags>` from the repository through its entry point in this process, the
    program's recording taken from the session's (tests/support/stacks.py) when it is the shipped stack's: the
    command's own argument parsing, policy pack, rendering, exit code and streams, without a fresh interpreter or a
    second recording of the stack."""
    from securestack.infra import preview

    def session_recording(stack_config, preview=False):
        if stack_config == read_stack_config(stack_config.stack, REPO):
            return shipped_recording(stack_config.stack, preview)
        return run_stack(stack_config, preview=preview)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(preview, "run_stack", session_recording)
        return run_entry_point(preview.main, "infra.preview", [stack, *flags.split()], REPO, clean_environment())


@pytest.fixture(scope="module")
def previews(project_copy, violating_copy) -> dict[tuple, subprocess.CompletedProcess]:
    """One real subprocess per stack and mode (the text output, each imports pulumi_aws), started together so they
    share the machine's cores; the same runs with `--json` go through the entry point in-process on the session's
    recordings (the process-level behaviour, exit code and empty stderr, is the text runs')."""
    runs = {(stack, flag): (REPO, (stack, *flag.split())) for stack in STACK_FILES for flag in ("", PREVIEW_MODE)}
    runs[("copy-retention", "")] = (project_copy, ("retention",))
    runs[("copy-violation", "")] = (violating_copy, ("dev",))
    started = {key: start(cwd, *args) for key, (cwd, args) in runs.items()}
    documents = {(stack, f"{flag} --json".strip()): in_process_preview(stack, f"{flag} --json".strip())
                 for stack in STACK_FILES for flag in ("", PREVIEW_MODE)}
    return {**{key: finish(process) for key, process in started.items()}, **documents}


def preview_json(previews, stack: str, flags: str = "--json") -> dict:
    result = previews[(stack, flags)]
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --------------------------------------------------------------------------------------------------------------
# The text output, modeled on `pulumi preview` (infra/preview_display.py)
# --------------------------------------------------------------------------------------------------------------

TABLE_ROW = re.compile(r"^ \+   (?P<tree>(?:│  |   )*(?:├─ |└─ )?)(?P<type>\S+)  +(?P<name>\S+)  +(?P<plan>create(?: 🔒)?)$")
STACK_TYPE = "pulumi:pulumi:Stack"
VIOLATION_POLICY = "always-flags-the-database"
VIOLATION_MESSAGE = ("The database instance is flagged by a policy added for this test only, with a message long "
                     "enough that one line of it would run far past the width of a terminal, as messages do.")
VIOLATING_POLICY = f'''
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy


def _flags_the_database(args, report_violation):
    if args.resource_type == "aws:rds/instance:Instance":
        report_violation({VIOLATION_MESSAGE!r})


POLICIES.append(ResourceValidationPolicy(name={VIOLATION_POLICY!r}, description="flags the database (a test)",
                                         enforcement_level=EnforcementLevel.MANDATORY, validate=_flags_the_database))
'''


def table_rows(text: str) -> list[dict[str, str]]:
    return [match.groupdict() for match in map(TABLE_ROW.match, text.splitlines()) if match]


def parents_from_table(rows: list[dict[str, str]]) -> dict[tuple[str, str], tuple[str, str] | None]:
    """Each row's parent is the nearest row above it one level up (a level is 3 columns of tree glyphs)."""
    open_levels: list[tuple[str, str]] = []
    parents = {}
    for row in rows:
        depth, key = len(row["tree"]) // 3, (row["type"], row["name"])
        del open_levels[depth:]
        parents[key] = open_levels[depth - 1] if depth else None
        open_levels.append(key)
    return parents


def assert_glyphs_follow_the_tree(rows: list[dict[str, str]]) -> None:
    """`└─` on a parent's last child, `├─` on the others, `│` below a row only while its later siblings follow."""
    depths = [len(row["tree"]) // 3 for row in rows]
    for index, row in enumerate(rows):
        depth = depths[index]
        if not depth:
            continue
        following = depths[index + 1:]
        ends_its_group = next((d for d in following if d <= depth), 0) < depth
        assert row["tree"].endswith("└─ " if ends_its_group else "├─ "), row
        for level in range(1, depth):
            ancestor_continues = next((d for d in following if d <= level), 0) == level
            assert row["tree"][3 * (level - 1)] == ("│" if ancestor_continues else " "), row


def test_short_type_is_the_clis_display_name():
    """tokens.Type.DisplayName (pulumi/pulumi sdk/go/common/tokens/tokens.go): the module's last segment goes only
    when it is the type name in camelCase."""
    assert short_type("aws:cloudwatch/logGroup:LogGroup") == "aws:cloudwatch:LogGroup"
    assert short_type("aws:ec2/vpcEndpoint:VpcEndpoint") == "aws:ec2:VpcEndpoint"
    assert short_type("aws:s3/bucketV2:Bucket") == "aws:s3/bucketV2:Bucket"  # file is not the name: kept
    for kept in ("pulumi:pulumi:Stack", "pulumi:providers:aws", "securestack:index:Network",
                 "pulumi-python:dynamic:Resource", "random:index/randomId:", "not-a-token"):
        assert short_type(kept) == kept


@pytest.mark.parametrize("mode", ("up", "preview"))
@pytest.mark.parametrize("stack", STACK_FILES)
def test_header_names_project_stack_and_mode(previews, stack, mode):
    text = previews[(stack, MODE_RUNS[mode][0])]
    assert text.returncode == 0, text.stderr
    first, second = text.stdout.splitlines()[:2]
    assert first == f"Previewing update (securestack/{stack}) offline, on the recording engine:"
    assert second.startswith(f"Mode: {mode} (")


@pytest.mark.parametrize("stack", STACK_FILES)
def test_table_shows_every_resource_under_its_parent_with_tree_glyphs(previews, stack):
    output = previews[(stack, "")].stdout
    assert re.search(r"^     Type +Name +Plan$", output, re.MULTILINE)
    rows = table_rows(output)
    assert (rows[0]["tree"], rows[0]["type"], rows[0]["name"]) == ("", STACK_TYPE, f"securestack-{stack}")
    resources = preview_json(previews, stack)["resources"]
    assert len(rows) == len(resources) + 1
    by_urn = {r["urn"]: (short_type(r["type"]), r["name"]) for r in resources}
    expected = {(short_type(r["type"]), r["name"]): by_urn.get(r["parent"], (STACK_TYPE, f"securestack-{stack}"))
                for r in resources}
    assert {k: v for k, v in parents_from_table(rows).items() if v is not None} == expected
    assert_glyphs_follow_the_tree(rows)


@pytest.mark.parametrize("stack", STACK_FILES)
def test_table_shows_short_type_names(previews, stack):
    output = previews[(stack, "")].stdout
    listed = Counter(row["type"] for row in table_rows(output)[1:])
    assert listed == Counter(short_type(r["type"]) for r in preview_json(previews, stack)["resources"])
    assert listed["aws:cloudwatch:LogGroup"] and "aws:cloudwatch/logGroup:LogGroup" not in output
    for row in ("securestack:index:EncryptedPostgres  +database ", "aws:rds:Instance  +database-instance ",
                "aws:rds:ParameterGroup  +database-params ", "securestack:index:EnvironmentKeys  +keys ",
                "securestack:index:Network  +network "):
        assert re.search(row, output)
    backup_configured = settings_of(stack).database.aws_backup is not None
    assert bool(re.search("securestack:index:DatabaseBackupPlan  +backup ", output)) is backup_configured


@pytest.mark.parametrize("stack", STACK_FILES)
def test_lock_marks_exactly_the_protected_resources(previews, stack):
    rows = table_rows(previews[(stack, "")].stdout)
    locked = Counter((row["type"], row["name"]) for row in rows if row["plan"].endswith("🔒"))
    protected = Counter((short_type(r["type"]), r["name"]) for r in preview_json(previews, stack)["resources"]
                        if r["options"]["protect"])
    assert locked == protected
    # a production stack protects its data stores; a non-production one protects nothing
    assert (len(protected) > 0) is settings_of(stack).is_production


@pytest.mark.parametrize("flags", ("", PREVIEW_MODE))
@pytest.mark.parametrize("stack", STACK_FILES)
def test_resources_summary_counts_the_stack_as_the_cli_does(previews, stack, flags):
    output = previews[(stack, flags)].stdout
    resources = preview_json(previews, stack, f"{flags} --json".strip())["resources"]
    assert output.endswith(f"\nResources:\n    + {len(resources) + 1} to create\n")
    assert not re.search(r"^ +\d+ aws:", output, re.MULTILINE)  # no per-type counts any more


def output_section(text: str) -> list[str]:
    """The lines under `Outputs:`, up to the next blank line."""
    return text.split("\n\nOutputs:\n", 1)[1].split("\n\n", 1)[0].splitlines()


@pytest.mark.parametrize("stack", STACK_FILES)
def test_outputs_section_lists_the_stack_outputs(previews, stack):
    lines = output_section(previews[(stack, "")].stdout)
    outputs = preview_json(previews, stack)["outputs"]
    top_level = [line.split(":", 1)[0].strip() for line in lines if re.match(r"^    [^\s}\]]", line)]
    assert top_level == sorted(outputs)
    assert re.search(rf'^    environment: +"{re.escape(outputs["environment"])}"$', "\n".join(lines), re.MULTILINE)
    database = outputs["database"]
    assert any(re.fullmatch(rf' +identifier: +"{re.escape(database["identifier"])}"', line) for line in lines)


def program_exporting_a_secret():
    pulumi.export("token", pulumi.Output.secret("hunter2-value"))
    pulumi.export("settings", {"region": "us-east-1", "password": pulumi.Output.secret("hunter3-value")})


def test_outputs_section_masks_secrets():
    text = render_outputs(record(program_exporting_a_secret, stack="dev", config={}))
    assert "hunter2" not in text and "hunter3" not in text
    assert text.splitlines() == ["Outputs:", "    settings: {", "        password: [secret]",
                                 '        region:   "us-east-1"', "    }", "    token:    [secret]"]


@pytest.mark.parametrize("stack", STACK_FILES)
def test_policies_section_names_the_pack_and_its_version(previews, stack):
    marks = {"": "✅", PREVIEW_MODE: "⚠️"}  # after up nothing is flagged; a preview has advisories
    for flags, mark in marks.items():
        output = previews[(stack, flags)].stdout
        assert f"\n\nPolicies:\n    {mark} securestack@v{pack_version()} (local: policy)\n" in output


def test_a_violation_is_shown_over_a_few_lines_with_the_resource_short_type_and_name(previews):
    result = previews[("copy-violation", "")]
    assert result.returncode == 1, result.stderr
    policies = result.stdout.split("\n\nPolicies:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert policies[0] == f"    ❌ securestack@v{pack_version()} (local: policy)"
    assert policies[1] == "        1 mandatory, 0 advisory violation(s)"
    heading = policies.index(f"        - [mandatory]  {VIOLATION_POLICY}  (aws:rds:Instance: database-instance)")
    message = policies[heading + 1:]
    assert len(message) >= 2 and all(line.startswith("          ") and len(line) <= 100 for line in message)
    assert " ".join(line.strip() for line in message) == VIOLATION_MESSAGE
    assert "urn:pulumi:" not in result.stdout
    assert "\nResources:\n" not in result.stdout  # as the CLI: no summary after a mandatory violation


def comparable(document: dict) -> dict:
    """A --json document without what varies between runs of the same stack: the order registrations arrive in
    (outputs resolve concurrently) and the pickled dynamic provider (dill serializes its code's file path)."""
    def resource(r: dict) -> dict:
        return {**r, "inputs": {k: v for k, v in r["inputs"].items() if k != DYNAMIC_PROVIDER_INPUT},
                "outputs": {k: v for k, v in r["outputs"].items() if k != DYNAMIC_PROVIDER_INPUT},
                "propertyDependencies": {k: sorted(v) for k, v in r["propertyDependencies"].items()}}
    return {**document, "resources": sorted((resource(r) for r in document["resources"]), key=lambda r: r["urn"])}


def test_json_output_is_the_documented_document_byte_for_byte(previews):
    """`--json` is the contract outside tools rely on: json.dumps(indent=2) of mode, resources, outputs and
    violations, in that order, nothing else on stdout (no status line, no table): the recording's document."""
    stdout = previews[("dev", "--json")].stdout
    printed = json.loads(stdout)
    assert stdout == json.dumps(printed, indent=2, sort_keys=False) + "\n"
    assert list(printed) == ["mode", "resources", "outputs", "violations"]
    recording = shipped_recording("dev")
    expected = {"mode": "up", **recording.to_json(), "violations": policy_report(recording, read_stack_config("dev"))}
    assert comparable(printed) == comparable(json.loads(json.dumps(expected)))


@pytest.mark.parametrize("flags", ("", "--json", PREVIEW_MODE, f"{PREVIEW_MODE} --json"))
@pytest.mark.parametrize("stack", STACK_FILES)
def test_no_status_line_when_stderr_is_a_pipe(previews, stack, flags):
    assert previews[(stack, flags)].returncode == 0 and previews[(stack, flags)].stderr == ""


def test_status_line_on_stderr_when_it_is_a_terminal(previews):
    """stderr a pty (as in a terminal), stdout a pipe: the status line shows on the pty, erased after each slow
    step, and stdout is exactly what a pipe gets."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(preview_command("dev"), cwd=REPO, env=clean_environment(), text=True,
                               stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    shown = read_terminal(controller)
    stdout, _ = process.communicate(timeout=PREVIEW_TIMEOUT_SECONDS)
    assert process.returncode == 0
    assert stdout == previews[("dev", "")].stdout
    assert f"{CLEAR_LINE}running the program of stack 'dev' (up mode)...{CLEAR_LINE}" in shown
    assert re.search(rf"{re.escape(CLEAR_LINE)}running the policy pack on \d+ resources\.\.\.{re.escape(CLEAR_LINE)}$",
                     shown)


def read_terminal(controller: int) -> str:
    """Everything written to the pty until the child closes it (Linux reports EIO then); fails on a silent hang."""
    chunks = []
    while True:
        ready, _, _ = select.select([controller], [], [], PREVIEW_TIMEOUT_SECONDS)
        assert ready, "the preview wrote nothing to its terminal and did not exit"
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return b"".join(chunks).decode()


def test_status_line_is_erased_and_nothing_shown_off_a_terminal():
    shown, piped = io.StringIO(), io.StringIO()
    shown.isatty = lambda: True  # type: ignore[method-assign]
    with status_line("working", shown), status_line("working", piped):
        assert shown.getvalue() == f"{CLEAR_LINE}working..."
    assert shown.getvalue() == f"{CLEAR_LINE}working...{CLEAR_LINE}" and piped.getvalue() == ""
    with pytest.raises(KeyError), status_line("failing", shown):
        raise KeyError("x")
    assert shown.getvalue().endswith(f"{CLEAR_LINE}failing...{CLEAR_LINE}")  # an error line after it starts clean


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


@pytest.mark.parametrize("stack", STACK_FILES)
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


@pytest.mark.parametrize("stack", STACK_FILES)
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
@pytest.mark.parametrize("stack", STACK_FILES)
def test_output_says_which_mode_ran_and_both_modes_pass_clean(previews, stack, mode):
    text_flags, json_flags = MODE_RUNS[mode]
    text = previews[(stack, text_flags)]
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[1].startswith(f"Mode: {mode} (")
    document = preview_json(previews, stack, json_flags)
    assert document["mode"] == mode
    assert not [v for v in document["violations"] if v["enforcementLevel"] == "mandatory"]
    assert re.search(r"^        0 mandatory, \d+ advisory violation\(s\)$", text.stdout, re.MULTILINE)


@pytest.mark.parametrize("stack", STACK_FILES)
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


@pytest.mark.parametrize("stack", STACK_FILES)
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
    """A preview that fails before recording, through its entry point in-process (environment, directory and
    streams swapped: tests/support/operator_cli.run_entry_point): the previews above already prove the command as a
    process reading its stack file from its directory, and a fresh interpreter costs about 3 s of imports."""
    from securestack.infra.preview import main

    return run_entry_point(main, "infra.preview", [stack], cwd, clean_environment())


def test_unknown_stack():
    stack = absent_stack()
    assert_one_line_error(run_quick(REPO, stack), 2, f"unknown stack '{stack}'", *STACK_FILES)


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
