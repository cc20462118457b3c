"""README's point-in-time restore procedure, followed exactly, on a stack file outside the project.

The restore stack's file is made in a temporary directory (never `Pulumi.<stack>.yaml` in the project root, which
other tests glob) by running README's own commands and edits, then previewed with `python -m infra.preview
<stack> --config-file <file>` in a subprocess, as an operator would run it.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from securestack.infra import verify
from securestack.infra.settings import build_settings
from securestack.infra.stack_config import read_stack_config
from tests.support.readme import fenced_blocks, merged, readme_section
from tests.support.stacks import settings_of, shipped_recording

PROJECT_ROOT = Path(__file__).resolve().parents[1]

README_SECTION = "## Restoring the database to a point in time"
INSTANCE = "aws:rds/instance:Instance"
# Inputs that are AWS names a stack gives its resources (unique per account and region, or what people read).
PHYSICAL_NAME_INPUTS = ("name", "identifier", "bucket", "namePrefix", "functionName", "finalSnapshotIdentifier",
                        "logGroupName", "domainName", "roleName", "alias")
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"  # its family is a name (a parameter group's is not)


def readme_procedure() -> tuple[str, dict[str, Any], str]:
    """(the shell command that makes the stack file, the YAML to add to it, the stack name), from README."""
    blocks = fenced_blocks(readme_section(README_SECTION))
    (command,) = [body for language, body in blocks if language == "bash" and "> Pulumi." in body]
    (addition,) = [yaml.safe_load(body) for language, body in blocks if language == "yaml"]
    stack = re.search(r"> Pulumi\.([a-z0-9-]+)\.yaml", command).group(1)
    return command, addition, stack


@pytest.fixture(scope="module")
def restore_stack(tmp_path_factory) -> tuple[str, Path, dict[str, Any]]:
    """(stack name, its file, README's addition): README's steps 2 and 3 in a temporary directory."""
    command, addition, stack = readme_procedure()
    directory = tmp_path_factory.mktemp("restore")
    shutil.copy(PROJECT_ROOT / "Pulumi.prod.yaml", directory)
    subprocess.run(["bash", "-ec", command], cwd=directory, check=True)
    stack_file = directory / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    stack_file.write_text(yaml.safe_dump(merged(document, addition), sort_keys=False), encoding="utf-8")
    assert not (PROJECT_ROOT / stack_file.name).exists()
    return stack, stack_file, addition


@pytest.fixture(scope="module")
def restore_preview(restore_stack) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    stack, stack_file, _ = restore_stack
    run = subprocess.run([sys.executable, "-m", "infra.preview", stack, "--config-file", str(stack_file), "--json"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    return run, json.loads(run.stdout) if run.stdout.strip() else {}


def declared_restore(restore_stack) -> dict[str, Any]:
    return restore_stack[2]["config"]["securestack:database"]["restore"]


def test_readme_procedure_previews_clean(restore_preview):
    run, preview = restore_preview
    assert run.returncode == 0, run.stderr or [v for v in preview.get("violations", [])]
    assert [v for v in preview["violations"] if v["enforcementLevel"] == "mandatory"] == []


def test_restored_instance_records_what_aws_will_use(restore_stack, restore_preview):
    restore = declared_restore(restore_stack)
    (instance,) = [r for r in restore_preview[1]["resources"] if r["type"] == INSTANCE]
    inputs = instance["inputs"]
    # RestoreDBInstanceToPointInTime has no KmsKeyId: the copy stays under the source's key, so that is recorded.
    assert inputs["kmsKeyId"] == restore["sourceKmsKeyArn"] and inputs["storageEncrypted"] is True
    assert inputs["restoreToPointInTime"] == {"sourceDbInstanceIdentifier": restore["sourceDbInstanceIdentifier"],
                                              "restoreTime": restore["restoreTime"]}
    assert inputs["identifier"] == f"securestack-{restore_stack[0]}-postgres"
    assert {"restoreToPointInTime", "kmsKeyId", "dbName", "username"} <= set(instance["options"]["ignoreChanges"])


def physical_names(resources: list[dict[str, Any]]) -> dict[str, str]:
    """{name: resource} for every AWS name and Name tag a stack's resources are given."""
    names = {}
    for resource in resources:
        inputs = resource["inputs"]
        values = [inputs.get(key) for key in PHYSICAL_NAME_INPUTS] + [(inputs.get("tags") or {}).get("Name")]
        if resource["type"] == TASK_DEFINITION:
            values.append(inputs.get("family"))
        names.update({value: resource["name"] for value in values if isinstance(value, str)})
    return names


def test_restore_stack_takes_no_name_of_its_source(restore_preview):
    source = physical_names(shipped_recording("prod").to_json()["resources"])
    restored = physical_names(restore_preview[1]["resources"])
    assert restored, "no names recorded"
    assert {name: resource for name, resource in restored.items() if name in source} == {}


def test_restore_stack_creates_no_record_in_the_sources_names(restore_preview):
    source_domain = settings_of("prod").load_balancer.domain_name
    records = [r for r in restore_preview[1]["resources"] if r["type"] == "aws:route53/record:Record"]
    assert records, "the restore stack has a domain of its own: its alias and validation records"
    for record in records:
        name = record["inputs"]["name"].rstrip(".")
        assert name != source_domain and not name.endswith(f".{source_domain}"), record["name"]


def test_verify_expects_the_source_key_on_a_restored_copy(restore_stack):
    stack, stack_file, _ = restore_stack
    config = read_stack_config(stack, config_file=stack_file)
    settings = build_settings(config.config, config.stack, config.project)
    source_key, data_key = declared_restore(restore_stack)["sourceKmsKeyArn"], "arn:aws:kms:us-east-1:222222222222:key/x"
    now = datetime.now(timezone.utc)

    def encryption(key: str) -> verify.CheckResult:
        instance = {"StorageEncrypted": True, "KmsKeyId": key, "LatestRestorableTime": now}
        return verify.judge_database(instance, "securestack-x-postgres", data_key, settings, now)[0]

    assert encryption(source_key).status == verify.PASS
    assert encryption(data_key).status == verify.FAIL
    fresh = verify.judge_database({"StorageEncrypted": True, "KmsKeyId": data_key, "LatestRestorableTime": now},
                                  "securestack-prod-postgres", data_key, settings_of("prod"), now)[0]
    assert fresh.status == verify.PASS
