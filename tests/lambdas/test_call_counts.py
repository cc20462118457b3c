"""API calls per rotation step, counted on moto with botocore's hooks (issue 16 target 4): a rotator that calls more
fails here, by count, never by time. bench/rotation.py sets these beside AWS's reference template (bench/reference/).

What each call is for: one DescribeSecret per invocation (the guards); each version's value read once per invocation;
no GetRandomPassword (values come from `secrets`); no read-back after a write. The Postgres rotator's counts are in
test_postgres_rotation.py (it needs a server).
"""

import hashlib
import importlib.util
from pathlib import Path

import pytest

import api_key_rotation.handler as api_key_handler
import webhook_secret_rotation.handler as webhook_handler
from tests.lambdas.harness import REGION, operations_per_step
from tests.lambdas.test_standalone_rotation import API_KEY, WEBHOOK

DESCRIBE, READ, WRITE, MOVE = "DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"

WEBHOOK_STEPS = {
    "createSecret": [DESCRIBE, READ, READ, WRITE],  # AWSPENDING (absent), AWSCURRENT, the new value
    "setSecret": [DESCRIBE, READ, READ],  # AWSCURRENT, AWSPENDING re-checked; nothing to set outside Secrets Manager
    "testSecret": [DESCRIBE, READ, READ],  # AWSCURRENT, AWSPENDING: well formed and not a copy
    "finishSecret": [DESCRIBE, READ, READ, MOVE, MOVE],  # the same checks; AWSCURRENT moved, AWSPENDING removed
}
# The verifier record (its own secret): read and written in setSecret (accepts the new key before anything moves) and
# in finishSecret (current + previous in grace, written after AWSCURRENT moved).
API_KEY_STEPS = {
    "createSecret": WEBHOOK_STEPS["createSecret"],
    "setSecret": [DESCRIBE, READ, READ, READ, WRITE],  # AWSCURRENT, AWSPENDING, the record; the record written
    "testSecret": WEBHOOK_STEPS["testSecret"],
    "finishSecret": [DESCRIBE, READ, READ, READ, MOVE, WRITE, MOVE],
}


@pytest.mark.parametrize(("kind", "handler", "expected"), [(WEBHOOK, webhook_handler, WEBHOOK_STEPS),
                                                           (API_KEY, api_key_handler, API_KEY_STEPS)],
                         ids=["webhook", "api_key"])
def test_each_step_makes_only_the_calls_it_needs(kind, handler, expected, rotation, aws_calls):
    arn = kind.create(rotation)
    first = operations_per_step(rotation, handler, arn, aws_calls)
    steady = operations_per_step(rotation, handler, arn, aws_calls)  # the record now has a value
    assert first == steady == expected


@pytest.mark.parametrize(("kind", "handler"), [(WEBHOOK, webhook_handler), (API_KEY, api_key_handler)],
                         ids=["webhook", "api_key"])
def test_no_step_reads_a_version_twice_and_every_read_names_version_and_stage(kind, handler, rotation, aws_calls):
    """finishSecret needs AWSCURRENT's value twice (the copy check; an API key's record keeps it in grace): one read.
    A read naming only the secret could return another version than the one checked."""
    arn = kind.create(rotation)
    token = rotation.start(arn)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        before = len(aws_calls.calls)
        rotation.step(handler, arn, token, step)
        reads = [(p["SecretId"], p.get("VersionId"), p.get("VersionStage")) for name, p in aws_calls.calls[before:]
                 if name == READ]
        assert len(reads) == len(set(reads)), step
        assert all(version and stage for secret, version, stage in reads if secret == arn), step


REFERENCE = Path(__file__).resolve().parents[2] / "bench" / "reference" / "SecretsManagerRotationTemplate"
REFERENCE_BLOB = "1db86e771e8bd51fa4929001e1d9337502a90413"  # git blob at aws-samples/...@b4b8eca (bench/reference)


def test_the_vendored_reference_template_is_unmodified_and_counted_as_the_bench_counts_it(rotation, aws_calls,
                                                                                         monkeypatch):
    """bench/rotation.py's yardstick: AWS's template byte for byte (its git blob id), run through the four steps with
    the same hooks; its setSecret and testSecret are TODOs that raise after the guard's DescribeSecret."""
    source = (REFERENCE / "lambda_function.py").read_bytes()
    assert hashlib.sha1(b"blob %d\0" % len(source) + source).hexdigest() == REFERENCE_BLOB
    spec = importlib.util.spec_from_file_location("reference_rotation_template", REFERENCE / "lambda_function.py")
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", f"https://secretsmanager.{REGION}.amazonaws.com")
    arn = rotation.create_secret("template-secret", {}, "initial-password")
    for _ in range(2):
        assert operations_per_step(rotation, template, arn, aws_calls, tolerated=(NotImplementedError,)) == {
            "createSecret": [DESCRIBE, READ, READ, "GetRandomPassword", WRITE],
            "setSecret": [DESCRIBE],
            "testSecret": [DESCRIBE],
            "finishSecret": [DESCRIBE, DESCRIBE, MOVE],
        }
    # It rotated, leaving AWSPENDING on the new AWSCURRENT version (an end state Secrets Manager accepts).
    labelled = sorted(tuple(stages) for stages in rotation.stages(arn).values() if stages)
    assert labelled == [("AWSCURRENT", "AWSPENDING"), ("AWSPREVIOUS",)]
