"""API calls per rotation step, counted on moto with botocore's hooks (issue 16 target 4): a rotator that calls more
fails here, by count, never by time. bench/rotation.py sets these beside AWS's reference template (bench/reference/).

What each call is for: a DescribeSecret (the guards, the tags) in every step but testSecret, whose stage-qualified
read of the token is its guard; each version's value read at most once per invocation, by version id and stage; no
GetRandomPassword (values come from `secrets`); no read-back after a write; AWSPENDING left on the new AWSCURRENT
(as the template leaves it). The Postgres rotator's counts are in test_postgres_rotation.py (it needs a server).
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
TEMPLATE_CALLS_PER_ROTATION = 10  # bench/reference: create D R R GetRandomPassword W, set D, test D, finish D D MOVE

WEBHOOK_STEPS = {
    "createSecret": [DESCRIBE, WRITE],  # the new value, identity from the tags (a retry's write is refused: kept)
    "setSecret": [DESCRIBE],  # nothing to set outside Secrets Manager: receivers read the secret itself
    "testSecret": [READ],  # AWSPENDING by version id and stage: the guard, then format and entropy
    "finishSecret": [DESCRIBE, READ, READ, MOVE],  # AWSPENDING, AWSCURRENT: never empty, never a copy; moved
}
# The verifier record (its own secret) stands in for the key's values: createSecret adds the new key's digest under
# its version id once the key is stored; finishSecret's guard is that entry (there, and not the replaced key's
# digest), then it writes current + previous in grace after the move.
API_KEY_STEPS = {
    "createSecret": [DESCRIBE, READ, WRITE, WRITE],  # the record; the new key; the record
    "setSecret": [DESCRIBE],  # the record already accepts the new key
    "testSecret": WEBHOOK_STEPS["testSecret"],
    "finishSecret": [DESCRIBE, READ, MOVE, WRITE],  # the record; moved; the record
}


@pytest.mark.parametrize(("kind", "handler", "expected"), [(WEBHOOK, webhook_handler, WEBHOOK_STEPS),
                                                           (API_KEY, api_key_handler, API_KEY_STEPS)],
                         ids=["webhook", "api_key"])
def test_each_step_makes_only_the_calls_it_needs(kind, handler, expected, rotation, aws_calls):
    arn = kind.create(rotation)
    first = operations_per_step(rotation, handler, arn, aws_calls)
    steady = operations_per_step(rotation, handler, arn, aws_calls)  # the record now has a value
    assert steady == expected
    if kind is API_KEY:
        # A key created with a value beside a record without one: the record has no entry for AWSCURRENT, so
        # createSecret reads its value once, before it stores anything (later rotations take it from the record).
        assert first == {**expected, "createSecret": [DESCRIBE, READ, READ, WRITE, WRITE]}
    else:
        assert first == expected
    assert sum(map(len, expected.values())) <= TEMPLATE_CALLS_PER_ROTATION


@pytest.mark.parametrize(("kind", "handler"), [(WEBHOOK, webhook_handler), (API_KEY, api_key_handler)],
                         ids=["webhook", "api_key"])
def test_no_step_reads_a_version_twice_and_every_read_names_version_and_stage(kind, handler, rotation, aws_calls):
    """A read naming only the secret could return another version than the one checked."""
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
