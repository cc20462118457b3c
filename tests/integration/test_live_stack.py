"""Automation API against a real AWS account: an ephemeral stack from this project, `up` with the policy pack,
`infra.verify`, `destroy`. The same steps the deploy workflow runs for dev and prod.

Runs only when asked to and able to: PULUMI_INTEGRATION=1, the Pulumi CLI on PATH, AWS credentials in the
standard chain, and a state backend the CLI is logged in to (PULUMI_BACKEND_URL, e.g. the S3 state bucket).
Optional: SECURESTACK_IT_SECRETS_PROVIDER (e.g. awskms://alias/securestack-pulumi-dev) for the stack's
secrets, SECURESTACK_IT_CERTIFICATE_ARN (an ACM certificate in the target region for the HTTPS listener;
without it the test is skipped because the dev stack's certificate belongs to the dev account).

The ephemeral stack copies the dev stack's configuration, targets the account of the credentials, skips the
final database snapshot and is destroyed and removed whatever happens.
"""
from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from securestack.infra import verify

PROJECT_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration

VERIFY_DEADLINE_SECONDS = 20 * 60  # the first backup (restorable time) and first rotations take minutes
# Checks that only pass once time has passed after creation; any other failure is final.
SETTLING_CHECKS = {"database.restorable-time", "secret.last-rotation", "secret.current-version"}


def missing_prerequisites() -> list[str]:
    missing = []
    if os.environ.get("PULUMI_INTEGRATION") != "1":
        missing.append("PULUMI_INTEGRATION=1 is not set")
    if shutil.which("pulumi") is None:
        missing.append("the Pulumi CLI is not on PATH")
    if not os.environ.get("SECURESTACK_IT_CERTIFICATE_ARN"):
        missing.append("SECURESTACK_IT_CERTIFICATE_ARN (an ACM certificate for the HTTPS listener) is not set")
    if missing:
        return missing  # no AWS call unless everything else is there
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        boto3.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        missing.append(f"no usable AWS credentials ({error})")
    return missing


def ephemeral_config(account_id: str, region: str) -> dict[str, Any]:
    """The dev stack's configuration, pointed at the credentials' account and without leftovers on destroy."""
    document = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    config = document["config"]
    config["aws:region"] = region
    config["aws:allowedAccountIds"] = [account_id]
    config["securestack:database"] = {**config.get("securestack:database", {}), "skipFinalSnapshot": True}
    load_balancer = dict(config.get("securestack:loadBalancer", {}))
    load_balancer.pop("domainName", None)
    load_balancer.pop("hostedZoneId", None)
    load_balancer["certificateArn"] = os.environ["SECURESTACK_IT_CERTIFICATE_ARN"]
    config["securestack:loadBalancer"] = load_balancer
    return {"config": config}


@pytest.fixture(scope="module")
def live_stack() -> Iterator[tuple[str, Any]]:
    missing = missing_prerequisites()
    if missing:
        pytest.skip("live integration test: " + "; ".join(missing))
    import boto3
    from pulumi import automation as auto

    session = boto3.Session()
    region = session.region_name or "us-east-1"
    account_id = session.client("sts").get_caller_identity()["Account"]
    name = f"it{secrets.token_hex(4)}"  # a valid environment name: lowercase, <= 12 chars
    stack_file = PROJECT_ROOT / f"Pulumi.{name}.yaml"
    stack_file.write_text(yaml.safe_dump(ephemeral_config(account_id, region), sort_keys=False))
    options = auto.LocalWorkspaceOptions(secrets_provider=os.environ.get("SECURESTACK_IT_SECRETS_PROVIDER"))
    stack = auto.create_stack(name, work_dir=str(PROJECT_ROOT), opts=options)
    try:
        yield name, stack
    finally:
        try:
            stack.destroy(on_output=print)
            stack.workspace.remove_stack(name)
        finally:
            stack_file.unlink(missing_ok=True)


def verify_until_settled(stack_name: str, outputs: dict[str, Any]) -> list[verify.CheckResult]:
    settings = verify.load_expectations(stack_name)
    aws = verify.Aws(verify.resolve_region(str(outputs["region"])))
    deadline = time.monotonic() + VERIFY_DEADLINE_SECONDS
    while True:
        results = verify.verify(outputs, settings, aws)
        failing = {r.check for r in results if r.status == verify.FAIL}
        if not failing or not failing <= SETTLING_CHECKS or time.monotonic() > deadline:
            return results
        time.sleep(60)


def test_up_verify_destroy(live_stack):
    stack_name, stack = live_stack
    stack.up(policy_packs=[str(PROJECT_ROOT / "policy")], on_output=print)
    outputs = {key: value.value for key, value in stack.outputs().items()}
    results = verify_until_settled(stack_name, outputs)

    report = verify.render_text(stack_name, results)
    print(report)
    assert [r.line() for r in results if r.status == verify.FAIL] == [], report
    assert {r.check for r in results} >= {*verify.DATABASE_CHECKS, *verify.LOAD_BALANCER_CHECKS}


def test_prerequisites_are_named_when_missing(monkeypatch):
    """Without PULUMI_INTEGRATION the test says so (and makes no AWS call)."""
    monkeypatch.delenv("PULUMI_INTEGRATION", raising=False)
    assert "PULUMI_INTEGRATION=1 is not set" in missing_prerequisites()
