"""API calls per rotation step, counted on moto with botocore's hooks (issue 16 target 4): a rotator that calls more
fails here, by count, never by time. bench/rotation.py sets these beside AWS's reference template (bench/reference/).

What each call is for: one DescribeSecret per invocation (the guards); each version's value read once per invocation;
no GetRandomPassword (values come from `secrets`); no read-back after a write. The Postgres rotator's counts are in
test_postgres_rotation.py (it needs a server).
"""

import pytest

import api_key_rotation.handler as api_key_handler
import webhook_secret_rotation.handler as webhook_handler
from tests.lambdas.harness import operations_per_step
from tests.lambdas.test_standalone_rotation import API_KEY, WEBHOOK

DESCRIBE, READ, WRITE, MOVE = "DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"

WEBHOOK_STEPS = {
    "createSecret": [DESCRIBE, READ, READ, WRITE],  # AWSPENDING (absent), AWSCURRENT, the new value
    "setSecret": [DESCRIBE, READ],  # AWSPENDING re-checked; nothing to set outside Secrets Manager
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
