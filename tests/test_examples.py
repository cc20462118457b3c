"""Every Python example in examples/ runs, as `pulumi up` would run it there, on the mock engine.

Each example is a Pulumi project of its own (its Pulumi.yaml, its stack files, the installed `securestack`
package, nothing of this checkout's stack files): the test runs its __main__.py from its directory with each of its
stack files, then checks what the example exists to show. The YAML example is checked against the component
package's schema (tests/test_yaml_example.py).
"""
import json
import runpy
import tomllib
from pathlib import Path

import pytest

from securestack.infra.recording import Recording, Unknown, record
from securestack.infra.stack_config import read_stack_config
from securestack.policy.harness import evaluate

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
PYTHON_EXAMPLES = sorted(path.parent for path in EXAMPLES.glob("*/__main__.py"))
INSTANCE, VPC, SECURITY_GROUP = "aws:rds/instance:Instance", "aws:ec2/vpc:Vpc", "aws:ec2/securityGroup:SecurityGroup"


def stacks_of(example: Path) -> list[str]:
    return sorted(path.name[len("Pulumi."):-len(".yaml")] for path in example.glob("Pulumi.*.yaml"))


CASES = [(example, stack) for example in PYTHON_EXAMPLES for stack in stacks_of(example)]


def run_example(example: Path, stack: str, monkeypatch) -> tuple[Recording, dict[str, str]]:
    monkeypatch.chdir(example)
    stack_config = read_stack_config(stack)
    recording = record(lambda: runpy.run_path(str(example / "__main__.py"), run_name="__main__"), stack=stack,
                       config=stack_config.config, project=stack_config.project,
                       secret_keys=stack_config.secret_keys)
    return recording, stack_config.config


def test_the_examples_are_there():
    assert {path.name for path in PYTHON_EXAMPLES} >= {"existing-vpc-database", "full-environment", "restore-drill"}
    assert all(stacks_of(example) for example in PYTHON_EXAMPLES), "every example has a stack file to run"


@pytest.mark.parametrize("example, stack", CASES, ids=[f"{e.name}-{s}" for e, s in CASES])
def test_every_python_example_runs_and_exports_known_outputs(example, stack, monkeypatch):
    recording, _ = run_example(example, stack, monkeypatch)
    assert recording.resources, f"{example.name} registered nothing"
    assert recording.stack_outputs, f"{example.name} exports nothing"
    unknown = [key for key, value in recording.stack_outputs.items() if isinstance(value, Unknown)]
    assert unknown == []


@pytest.mark.parametrize("example", PYTHON_EXAMPLES, ids=lambda e: e.name)
def test_examples_pin_this_release(example):
    """An example installs the release it documents: its requirements pin the tag of pyproject's version."""
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert f"securestack @ git+https://github.com/securestack/securestack@v{version}" in (
        example / "requirements.txt").read_text()


def test_one_component_on_an_existing_vpc(monkeypatch):
    recording, config = run_example(EXAMPLES / "existing-vpc-database", "example", monkeypatch)
    assert recording.of_type(VPC) == [], "the example builds on the VPC it is given"
    instance = recording.one(INSTANCE)
    assert instance.inputs["kmsKeyId"] == config["orders-database:dataKeyArn"]
    assert instance.inputs["storageEncrypted"] is True and instance.inputs["deletionProtection"] is True
    assert instance.inputs["backupRetentionPeriod"] == 35 and instance.inputs["multiAz"] is True
    assert instance.inputs["dbName"] == "orders"
    assert recording.one(SECURITY_GROUP).inputs["vpcId"] == config["orders-database:vpcId"]
    assert recording.stack_outputs["port"] == 5432


def test_the_restore_drill_restores_with_the_source_key_in_its_own_vpc(monkeypatch):
    recording, config = run_example(EXAMPLES / "restore-drill", "drill", monkeypatch)
    instance = recording.one(INSTANCE)
    restore = instance.inputs["restoreToPointInTime"]
    assert restore["sourceDbInstanceIdentifier"] == config["restore-drill:sourceDbInstanceIdentifier"]
    assert restore["restoreTime"] == config["restore-drill:restoreTime"]
    assert instance.inputs["kmsKeyId"] == config["restore-drill:sourceKmsKeyArn"], "a restore keeps the source's key"
    assert instance.inputs["identifier"] == "securestack-drill-postgres"
    assert recording.one(SECURITY_GROUP).inputs["vpcId"] == config["restore-drill:vpcId"]
    assert recording.of_type(VPC) == []


def test_the_full_environment_in_another_project_passes_the_policy_pack(monkeypatch):
    recording, _ = run_example(EXAMPLES / "full-environment", "staging", monkeypatch)
    assert recording.project == "acme-payments"
    types = {resource.type for resource in recording.resources}
    assert {"securestack:index:EncryptedPostgres", "securestack:index:TlsLoadBalancer",
            "securestack:index:ScopedApiKeys", "securestack:index:AuditTrail"} <= types
    violations = evaluate(recording, read_stack_config("staging"))
    assert [v for v in violations if v["enforcementLevel"] == "mandatory"] == [], json.dumps(violations, indent=1)


def test_the_full_environment_gates_with_the_installed_policy_pack():
    """The example's `policy/` serves securestack's pack from the installed package (`pulumi up --policy-pack
    policy` there works as here): the same manifest, version included, and the same entry point."""
    for name in ("PulumiPolicy.yaml", "__main__.py"):
        assert (EXAMPLES / "full-environment" / "policy" / name).read_text() == (REPO / "policy" / name).read_text()
