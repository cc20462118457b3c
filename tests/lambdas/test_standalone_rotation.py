"""Rotation of API keys and webhook signing secrets (secrets that live only in Secrets Manager).

Every test runs for both kinds; the numbers in the docstrings refer to the issue's test list.
"""

import json
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError

import api_key_rotation.handler as api_key_handler
import webhook_secret_rotation.handler as webhook_handler
from rotation_common.metadata import SecretMetadata
from tests.lambdas.harness import FINISHED, STEPS, patch_moto_first_value

WRITE_OPERATIONS = ("PutSecretValue", "UpdateSecretVersionStage")
VERIFIER_TAG = "securestack:verifier-secret"


def verifier_record_tags(record_name):
    """The contract's tags of the verifier record `securestack/<env>/api-key-verifiers/<name>`."""
    _, env, _, name = record_name.split("/")
    return {"securestack:env": env, "securestack:name": name, "securestack:kind": "api-key-verifier",
            "securestack:key-secret": f"securestack/{env}/api-keys/{name}"}


@dataclass
class Kind:
    handler: object
    tags: dict
    secret_field: str
    identity_fields: tuple

    @property
    def metadata(self):
        return SecretMetadata(self.tags)

    def first_value(self):
        """A valid value as the rotator itself would have made it."""
        return self.handler.ROTATOR.new_value(self.metadata, None)

    def create(self, rotation, name="entry", value="generate", tags=None):
        value = self.first_value() if value == "generate" else value
        tags = tags or self.tags
        record = tags.get(VERIFIER_TAG)
        if record and record not in rotation.secret_names():
            # As the stack makes it: no value, no rotation; the key's rotator writes every version.
            rotation.create_secret(record, verifier_record_tags(record), rotation=False)
        return rotation.create_secret(f"{name}-{self.secret_field}", tags, value)

    def assert_valid(self, value, identity_from):
        self.handler.ROTATOR.check_secret_format(value[self.secret_field], self.metadata)
        assert {f: value[f] for f in self.identity_fields} == {f: identity_from[f] for f in self.identity_fields}


API_KEY = Kind(
    handler=api_key_handler,
    tags={
        "securestack:env": "dev",
        "securestack:name": "storefront-read",
        "securestack:kind": "api-key",
        "securestack:scopes": "products:read categories:read",
        "securestack:key-prefix": "sk_test_",
        VERIFIER_TAG: "securestack/dev/api-key-verifiers/storefront-read",
    },
    secret_field="key",
    identity_fields=("scopes", "env", "name"),
)
WEBHOOK = Kind(
    handler=webhook_handler,
    tags={"securestack:env": "prod", "securestack:name": "orders-endpoint", "securestack:kind": "webhook-secret"},
    secret_field="secret",
    identity_fields=("env", "name"),
)


@pytest.fixture(params=[API_KEY, WEBHOOK], ids=["api_key", "webhook"])
def kind(request):
    return request.param


def writes(aws_calls, arn=None):
    """Write calls, but a PutSecretValue of the rotated secret (`arn`): a retried createSecret sends it again and
    Secrets Manager refuses a second value under the token (the snapshots show nothing changed)."""
    return sum(1 for op, params in aws_calls.calls
               if op in WRITE_OPERATIONS and not (op == "PutSecretValue" and params["SecretId"] == arn))


# 1. full rotation


def test_full_rotation_makes_new_value_current_and_keeps_old_as_previous(kind, rotation):
    arn = kind.create(rotation)
    old = rotation.value(arn, "AWSCURRENT")

    token = rotation.rotate(kind.handler, arn)

    new = rotation.value(arn, "AWSCURRENT")
    assert rotation.value(arn, "AWSPREVIOUS") == old
    assert new[kind.secret_field] != old[kind.secret_field]
    kind.assert_valid(new, identity_from=old)
    assert rotation.stages(arn)[token] == FINISHED  # AWSPENDING stays on it, as the template leaves it


def test_two_rotations_keep_only_the_latest_previous(kind, rotation):
    arn = kind.create(rotation)
    rotation.rotate(kind.handler, arn)
    middle = rotation.value(arn, "AWSCURRENT")
    rotation.rotate(kind.handler, arn)
    assert rotation.value(arn, "AWSPREVIOUS") == middle
    assert sum("AWSPREVIOUS" in stages for stages in rotation.stages(arn).values()) == 1


# 2. each step twice


def test_every_step_called_twice_the_second_is_a_no_op(kind, rotation, aws_calls):
    arn = kind.create(rotation)
    token = rotation.start(arn)
    for step in STEPS:
        rotation.step(kind.handler, arn, token, step)
        before, writes_before = rotation.snapshot(arn), writes(aws_calls, arn)
        rotation.step(kind.handler, arn, token, step)
        assert rotation.snapshot(arn) == before, step
        assert writes(aws_calls, arn) == writes_before, step
    # An API key's record says createSecret finished: no second PutSecretValue. A webhook secret's retry sends it,
    # refused (moto made to refuse as AWS does: harness.refuse_second_values), and keeps the stored value.
    assert [p["SecretId"] for p in aws_calls.params("PutSecretValue")].count(arn) == (1 if kind is API_KEY else 2)


# 3. late retries


@pytest.mark.parametrize("step", STEPS)
def test_late_retry_of_a_step_after_finish_has_no_effect(kind, rotation, aws_calls, step):
    """finishSecret leaves AWSPENDING on the new AWSCURRENT (as the template does), so a late retry runs the step
    again: each is idempotent, and nothing changes."""
    arn = kind.create(rotation)
    token = rotation.rotate(kind.handler, arn)
    before, writes_before = rotation.snapshot(arn), writes(aws_calls, arn)

    rotation.step(kind.handler, arn, token, step)

    assert rotation.snapshot(arn) == before
    assert writes(aws_calls, arn) == writes_before


@pytest.mark.parametrize("step", STEPS)
def test_a_step_for_a_token_that_is_awscurrent_without_awspending_returns_at_once(kind, rotation, aws_calls, step):
    """A rotation finished by an earlier version of the function (it removed AWSPENDING), or one whose AWSPENDING an
    operator removed: done. testSecret's stage-qualified read finds nothing, then its DescribeSecret says why."""
    arn = kind.create(rotation)
    token = rotation.rotate(kind.handler, arn)
    rotation.client.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=token)
    before, calls_before = rotation.snapshot(arn), aws_calls.count()

    rotation.step(kind.handler, arn, token, step)

    assert rotation.snapshot(arn) == before
    expected = ["GetSecretValue", "DescribeSecret"] if step == "testSecret" else ["DescribeSecret"]
    assert [name for name, _ in aws_calls.calls[calls_before:]] == expected


# 4. refusals


@pytest.mark.parametrize("field", ["Step", "SecretId", "ClientRequestToken"])
def test_missing_event_field_is_refused_naming_it(kind, rotation, field):
    arn = kind.create(rotation)
    token = rotation.start(arn)
    event = {"Step": "createSecret", "SecretId": arn, "ClientRequestToken": token}
    del event[field]
    before = rotation.snapshot(arn)
    with pytest.raises(ValueError, match=f"event field '{field}' is missing"):
        kind.handler.lambda_handler(event, None)
    assert rotation.snapshot(arn) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("Step", ""), ("SecretId", 42), ("ClientRequestToken", "short"), ("RotationToken", ""), ("Step", "rotateSecret")],
)
def test_invalid_event_field_is_refused_naming_it(kind, rotation, field, value):
    arn = kind.create(rotation)
    event = {"Step": "createSecret", "SecretId": arn, "ClientRequestToken": rotation.start(arn), field: value}
    before = rotation.snapshot(arn)
    with pytest.raises(ValueError, match=f"event field '{field}'"):
        kind.handler.lambda_handler(event, None)
    assert rotation.snapshot(arn) == before


def test_unknown_step_is_refused_naming_the_step_field(kind, rotation):
    arn = kind.create(rotation)
    token = rotation.start(arn)
    before = rotation.snapshot(arn)
    with pytest.raises(ValueError, match="event field 'Step' has an unknown value; expected one of createSecret"):
        rotation.step(kind.handler, arn, token, "deleteSecret")
    assert rotation.snapshot(arn) == before


def test_event_that_is_not_an_object_is_refused(kind):
    with pytest.raises(ValueError, match="event must be an object"):
        kind.handler.lambda_handler(["createSecret"], None)


@pytest.mark.parametrize("step", STEPS)
def test_token_that_is_not_a_version_is_refused(kind, rotation, step):
    arn = kind.create(rotation)
    rotation.start(arn)
    before = rotation.snapshot(arn)
    with pytest.raises(ValueError, match="'ClientRequestToken' is not a version"):
        rotation.step(kind.handler, arn, "0" * 32, step)
    assert rotation.snapshot(arn) == before


@pytest.mark.parametrize("step", STEPS)
def test_token_that_is_not_pending_is_refused(kind, rotation, step):
    arn = kind.create(rotation)
    rotation.rotate(kind.handler, arn)
    previous = next(v for v, stages in rotation.stages(arn).items() if stages == ["AWSPREVIOUS"])
    rotation.start(arn)
    before = rotation.snapshot(arn)
    with pytest.raises(ValueError, match="'ClientRequestToken' names a version .* not AWSPENDING"):
        rotation.step(kind.handler, arn, previous, step)
    assert rotation.snapshot(arn) == before


@pytest.mark.parametrize("flag", [False, None], ids=["disabled", "absent"])
def test_secret_without_rotation_enabled_is_refused(kind, rotation, flag):
    arn = kind.create(rotation)
    token = rotation.start(arn)
    if flag is None:
        from tests.lambdas.harness import moto_secret

        moto_secret(arn).rotation_requested = False  # DescribeSecret then has no RotationEnabled
    else:
        rotation.set_rotation(arn, enabled=False)
    before = rotation.snapshot(arn)
    state = "absent" if flag is None else "false"
    with pytest.raises(ValueError, match=f"not enabled for rotation \\(RotationEnabled is {state}\\)"):
        rotation.step(kind.handler, arn, token, "createSecret")
    assert rotation.snapshot(arn) == before


def test_test_secret_refuses_a_value_of_another_kind_without_reading_tags(kind, rotation, aws_calls):
    """testSecret makes one call, the stage-qualified read of the token (no DescribeSecret, so no kind tag): the
    value's fields are the kind check. The other kind's function finds its own field missing and changes nothing."""
    other = WEBHOOK if kind is API_KEY else API_KEY
    arn = other.create(rotation)
    token = rotation.start(arn)
    rotation.step(other.handler, arn, token, "createSecret")
    before, calls_before = rotation.snapshot(arn), aws_calls.count()
    with pytest.raises(ValueError, match=f"AWSPENDING value field '{kind.secret_field}' is missing"):
        rotation.step(kind.handler, arn, token, "testSecret")
    assert rotation.snapshot(arn) == before
    assert [name for name, _ in aws_calls.calls[calls_before:]] == ["GetSecretValue"]


def test_secret_of_another_kind_is_refused(kind, rotation):
    arn = kind.create(rotation, tags={**kind.tags, "securestack:kind": "postgres-user"})
    with pytest.raises(ValueError, match="'securestack:kind' is 'postgres-user'"):
        rotation.step(kind.handler, arn, rotation.start(arn), "createSecret")


# 5. failures injected in every step, then the whole rotation retried

FAULTS = [  # every call a step makes (test_call_counts.py)
    ("createSecret", "DescribeSecret", "before"),
    ("createSecret", "PutSecretValue", "before"),
    ("createSecret", "PutSecretValue", "after"),  # stored, but the function died before answering
    ("setSecret", "DescribeSecret", "before"),
    ("testSecret", "GetSecretValue", "before"),
    ("finishSecret", "GetSecretValue", "before"),
    ("finishSecret", "UpdateSecretVersionStage", "before"),
    ("finishSecret", "UpdateSecretVersionStage", "after"),  # AWSCURRENT moved, the function died before answering
]


@pytest.mark.parametrize(("failing_step", "operation", "when"), FAULTS)
def test_failure_in_a_step_then_retried_rotation_completes(kind, rotation, aws_calls, failing_step, operation, when):
    arn = kind.create(rotation)
    old = rotation.value(arn, "AWSCURRENT")
    token = rotation.start(arn)
    steps_before = STEPS[: STEPS.index(failing_step)]
    rotation.rotate(kind.handler, arn, token, steps=steps_before)
    aws_calls.fail("secrets-manager", operation, when=when)

    with pytest.raises(ClientError, match="injected"):
        rotation.step(kind.handler, arn, token, failing_step)
    current = rotation.value(arn, "AWSCURRENT")
    kind.assert_valid(current, identity_from=old)  # consumers always find a valid value

    rotation.rotate(kind.handler, arn, token)  # Secrets Manager retries with the same token

    new = rotation.value(arn, "AWSCURRENT")
    kind.assert_valid(new, identity_from=old)
    assert new[kind.secret_field] != old[kind.secret_field]
    assert rotation.value(arn, "AWSPREVIOUS") == old
    assert rotation.stages(arn)[token] == FINISHED
    assert len(rotation.stages(arn)) == 2  # exactly one new version


# 6. other pending versions, malformed values


def test_pending_version_left_by_another_token_is_not_touched(kind, rotation):
    arn = kind.create(rotation)
    abandoned = rotation.start(arn)
    rotation.step(kind.handler, arn, abandoned, "createSecret")
    abandoned_value = rotation.snapshot(arn)[abandoned][1]

    token = rotation.rotate(kind.handler, arn)  # a new rotation moved AWSPENDING to its token

    assert rotation.snapshot(arn)[abandoned] == ([], abandoned_value)
    assert rotation.stages(arn)[token] == FINISHED
    assert rotation.value(arn, "AWSCURRENT")[kind.secret_field] not in abandoned_value


def test_token_of_a_version_that_lost_pending_is_refused_and_new_pending_untouched(kind, rotation):
    arn = kind.create(rotation)
    abandoned = rotation.start(arn)
    rotation.step(kind.handler, arn, abandoned, "createSecret")
    token = rotation.start(arn)
    rotation.step(kind.handler, arn, token, "createSecret")
    before = rotation.snapshot(arn)
    for step in STEPS:
        with pytest.raises(ValueError, match="not AWSPENDING"):
            rotation.step(kind.handler, arn, abandoned, step)
    assert rotation.snapshot(arn) == before


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("not json {", "AWSCURRENT value is not valid JSON"),
        ('["a", "list"]', "AWSCURRENT value is not a JSON object"),
    ],
)
def test_malformed_current_value_gives_a_clear_error(kind, rotation, secret_values, stored, message):
    """The first step that reads AWSCURRENT names it (an API key's createSecret, before it stores anything: its
    record has no digest of that version yet; a webhook secret's finishSecret, its copy check) and nothing moves."""
    arn = kind.create(rotation, value=stored)
    secret_values.add(stored)
    token = rotation.start(arn)
    with pytest.raises(ValueError, match=message) as raised:
        rotation.rotate(kind.handler, arn, token)
    assert stored not in str(raised.value)
    assert rotation.stages(arn)[token] == ["AWSPENDING"]
    if kind is API_KEY:
        assert rotation.snapshot(arn)[token][1] is None  # nothing stored


def test_current_value_missing_a_field_names_it(kind, rotation):
    value = kind.first_value()
    del value[kind.identity_fields[0]]
    arn = kind.create(rotation, value=value)
    token = rotation.start(arn)
    with pytest.raises(ValueError, match=f"AWSCURRENT value field '{kind.identity_fields[0]}' is missing"):
        rotation.rotate(kind.handler, arn, token)
    assert rotation.stages(arn)[token] == ["AWSPENDING"]


def test_pending_value_with_another_env_is_refused(kind, rotation):
    arn = kind.create(rotation)
    token = rotation.start(arn)
    forged = {**kind.first_value(), "env": "prod" if kind.tags["securestack:env"] != "prod" else "dev"}
    rotation.put_pending(arn, token, forged)
    for step in ("createSecret", "finishSecret"):  # the steps that read AWSPENDING with the tags at hand
        with pytest.raises(ValueError, match="AWSPENDING value field 'env' differs from secret tag 'securestack:env'"):
            rotation.step(kind.handler, arn, token, step)
    assert rotation.stages(arn)[token] == ["AWSPENDING"]


def test_a_pending_copy_of_current_is_never_promoted(kind, rotation):
    arn = kind.create(rotation)
    token = rotation.start(arn)
    same = rotation.value(arn, "AWSCURRENT")
    rotation.put_pending(arn, token, same)
    before = rotation.snapshot(arn)
    with pytest.raises(ValueError, match=f"AWSPENDING value field '{kind.secret_field}' equals the AWSCURRENT one"):
        rotation.step(kind.handler, arn, token, "finishSecret")
    assert rotation.snapshot(arn) == before


@pytest.mark.parametrize("pending", ["copy of current", "no value"])
def test_the_configuration_test_of_a_rotation_that_is_not_immediate_passes(kind, rotation, pending,
                                                                           rotation_log_lines):
    """Issue 11 item 10: the SecretRotation no longer rotates at once, so Secrets Manager runs testSecret alone
    on an AWSPENDING version it removes afterwards (RotateSecret API reference, RotateImmediately; moto copies
    AWSCURRENT into it). It must pass, or every schedule change would fail; it changes nothing."""
    arn = kind.create(rotation)
    token = rotation.start(arn)
    if pending == "copy of current":
        rotation.put_pending(arn, token, rotation.value(arn, "AWSCURRENT"))
    before = rotation.snapshot(arn)
    rotation.step(kind.handler, arn, token, "testSecret")
    assert rotation.snapshot(arn) == before
    # A copy is a well-formed value: it passes as one (finishSecret refuses to promote it); no value at all (what
    # AWS leaves in that version) is the configuration test proper.
    outcomes = ["done"] if pending == "copy of current" else ["configuration-tested", "done"]
    assert [line["outcome"] for line in rotation_log_lines()] == outcomes


def test_finish_refuses_a_version_without_value(kind, rotation):
    arn = kind.create(rotation)
    before = rotation.snapshot(arn)
    token = rotation.start(arn)
    with pytest.raises(ValueError, match="has no AWSPENDING value yet"):
        rotation.step(kind.handler, arn, token, "finishSecret")
    assert rotation.value(arn, "AWSCURRENT") == json.loads(next(v for _, v in before.values()))


# 7. bootstrap from metadata


@pytest.mark.parametrize("first_value_becomes_current", [True, False], ids=["put-makes-current", "finish-makes-current"])
def test_first_rotation_of_a_secret_without_value_bootstraps_from_tags(
    kind, rotation, monkeypatch, first_value_becomes_current
):
    patch_moto_first_value(monkeypatch, first_value_becomes_current)
    arn = kind.create(rotation, value=None)

    token = rotation.rotate(kind.handler, arn)

    value = rotation.value(arn, "AWSCURRENT")
    kind.assert_valid(value, identity_from=kind.first_value())
    assert rotation.stages(arn) == {token: FINISHED}
    rotation.rotate(kind.handler, arn)  # and it rotates normally from then on
    assert rotation.value(arn, "AWSPREVIOUS") == value


def test_bootstrap_without_a_required_tag_names_it(kind, rotation):
    tags = {k: v for k, v in kind.tags.items() if k != "securestack:name"}
    arn = kind.create(rotation, value=None, tags=tags)
    with pytest.raises(ValueError, match="secret tag 'securestack:name' is missing"):
        rotation.step(kind.handler, arn, rotation.start(arn), "createSecret")


# logs and the RotationToken


def test_logs_are_json_lines_with_step_secret_arn_and_version(kind, rotation, rotation_log_lines):
    arn = kind.create(rotation)
    token = rotation.rotate(kind.handler, arn)
    lines = rotation_log_lines()
    assert {line["step"] for line in lines} == set(STEPS)
    assert all(line["secret_arn"] == arn and line["version_id"] == token for line in lines)
    assert {line["outcome"] for line in lines if line["message"] == "rotation step done"} == {"done"}


def test_rotation_token_is_passed_to_put_secret_value_and_never_logged(kind, rotation, aws_calls, secret_values):
    arn = kind.create(rotation)
    token = rotation.start(arn)
    rotation_token = "rt-" + "9" * 40
    secret_values.add(rotation_token)  # the autouse check fails the test if it shows up in logs
    for step in STEPS:
        rotation.step(kind.handler, arn, token, step, RotationToken=rotation_token)
    # Only on the rotated secret: the token vouches for its rotation, not for the API key's verifier record.
    assert [p.get("RotationToken") for p in aws_calls.params("PutSecretValue") if p["SecretId"] == arn] == [
        rotation_token]
