"""Issue 12: the API key rotator keeps the key's verifier record accepting every value a caller can hold, and the
webhook rotator honours revoke-previous. The record format and rules are the shared contract's.

PYTEST_DONT_REWRITE: a failed assertion must not print the keys it compared (pytest's rewriting shows arguments).
"""

import datetime
import hashlib
import json
import uuid

import pytest
from botocore.exceptions import ClientError

import api_key_rotation.handler as api_key_handler
import webhook_secret_rotation.handler as webhook_handler
from tests.lambdas.harness import FINISHED, STEPS, patch_moto_first_value
from tests.lambdas.test_standalone_rotation import API_KEY, VERIFIER_TAG, WEBHOOK

RECORD = API_KEY.tags[VERIFIER_TAG]
GRACE_TAG = "securestack:previous-grace-days"
REVOKE_TAG = "securestack:revoke-previous"
DAY = datetime.timedelta(days=1)


def sha256(key):
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def record(rotation):
    """The record's AWSCURRENT value, or None while the stack's empty secret has no version."""
    try:
        text = rotation.client.get_secret_value(SecretId=RECORD, VersionStage="AWSCURRENT")["SecretString"]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ResourceNotFoundException"
        return None
    return json.loads(text)


def by_stage(found):
    return {entry["stage"]: entry for entry in found["digests"]}


def accepts(found, key, at=None):
    """What a verifier does with the record: an entry counts while its validUntil is null or later than now."""
    at = at or now()
    return any(entry["sha256"] == sha256(key) and (entry["validUntil"] is None or parse_time(entry["validUntil"]) > at)
               for entry in found["digests"])


def assert_accepts(found, key, label):
    """An assertion that never shows the key (pytest's report would print an `assert accepts(...)` argument)."""
    if not accepts(found, key):
        raise AssertionError(f"the record does not accept {label}")


def key(rotation, arn, stage):
    return rotation.value(arn, stage)["key"]


def version(rotation, arn, stage):
    return next(v for v, stages in rotation.stages(arn).items() if stage in stages)


def create_key(rotation, **tags):
    return API_KEY.create(rotation, tags={**API_KEY.tags, **tags})


def assert_contract_shape(found):
    assert set(found) == {"format", "name", "env", "scopes", "updatedAt", "digests"}
    assert (found["format"], found["name"], found["env"]) == (1, "storefront-read", "dev")
    assert found["scopes"] == ["products:read", "categories:read"]
    parse_time(found["updatedAt"])
    stages = [entry["stage"] for entry in found["digests"]]
    assert len(stages) == len(set(stages)) and set(stages) <= {"current", "pending", "previous"}
    for entry in found["digests"]:
        assert set(entry) == {"sha256", "stage", "versionId", "validUntil"}
        assert len(entry["sha256"]) == 64 and entry["sha256"] == entry["sha256"].lower()
        int(entry["sha256"], 16)


# The record after each step


def test_record_after_each_step_of_a_rotation(rotation):
    arn = create_key(rotation)
    old, old_version = key(rotation, arn, "AWSCURRENT"), version(rotation, arn, "AWSCURRENT")
    token = rotation.start(arn)

    # createSecret: the new key is accepted once it is stored (before any caller can read it as AWSCURRENT); its
    # entry, under its version id, is what finishSecret requires before it promotes that version.
    rotation.step(api_key_handler, arn, token, "createSecret")
    new = key(rotation, arn, "AWSPENDING")
    after_create = record(rotation)
    assert_contract_shape(after_create)
    assert by_stage(after_create) == {
        "current": {"sha256": sha256(old), "stage": "current", "versionId": old_version, "validUntil": None},
        "pending": {"sha256": sha256(new), "stage": "pending", "versionId": token, "validUntil": None},
    }
    assert rotation.stages(arn)[old_version] == ["AWSCURRENT"]  # before any stage moved

    for step in ("setSecret", "testSecret"):
        rotation.step(api_key_handler, arn, token, step)
        assert record(rotation) == after_create

    started = now().replace(microsecond=0)
    rotation.step(api_key_handler, arn, token, "finishSecret")
    finished = record(rotation)
    assert_contract_shape(finished)
    entries = by_stage(finished)
    assert set(entries) == {"current", "previous"}
    assert entries["current"] == {"sha256": sha256(new), "stage": "current", "versionId": token, "validUntil": None}
    assert (entries["previous"]["sha256"], entries["previous"]["versionId"]) == (sha256(old), old_version)
    valid_until = parse_time(entries["previous"]["validUntil"])
    assert started + 7 * DAY <= valid_until <= now() + 7 * DAY  # the default grace: 7 days
    assert accepts(finished, old) and not accepts(finished, old, at=valid_until)


def test_the_next_rotation_keeps_the_previous_entry_until_finish_replaces_it(rotation):
    arn = create_key(rotation)
    first = key(rotation, arn, "AWSCURRENT")
    rotation.rotate(api_key_handler, arn)
    middle = key(rotation, arn, "AWSCURRENT")
    previous_entry = by_stage(record(rotation))["previous"]
    token = rotation.start(arn)
    for step in ("createSecret", "setSecret"):
        rotation.step(api_key_handler, arn, token, step)

    during = record(rotation)
    assert by_stage(during)["previous"] == previous_entry  # kept as it was while still valid
    assert all(accepts(during, k) for k in (first, middle, key(rotation, arn, "AWSPENDING")))

    rotation.rotate(api_key_handler, arn, token, steps=("testSecret", "finishSecret"))
    after = by_stage(record(rotation))
    assert after["previous"]["sha256"] == sha256(middle)
    assert not accepts(record(rotation), first)  # two rotations later the first key is gone


def test_an_expired_previous_entry_is_not_carried_into_the_next_rotation(rotation):
    arn = create_key(rotation)
    first = key(rotation, arn, "AWSCURRENT")
    rotation.rotate(api_key_handler, arn)
    expired = record(rotation)
    by_stage(expired)["previous"]["validUntil"] = "2020-01-01T00:00:00Z"
    rotation.client.put_secret_value(SecretId=RECORD, SecretString=json.dumps(expired), VersionStages=["AWSCURRENT"])
    token = rotation.start(arn)
    rotation.rotate(api_key_handler, arn, token, steps=("createSecret", "setSecret"))
    assert set(by_stage(record(rotation))) == {"current", "pending"}
    assert not accepts(record(rotation), first)


@pytest.mark.parametrize("first_value_becomes_current", [True, False], ids=["put-makes-current", "finish-makes-current"])
def test_bootstrap_record_holds_only_pending_then_only_current(rotation, monkeypatch, first_value_becomes_current):
    patch_moto_first_value(monkeypatch, first_value_becomes_current)
    arn = API_KEY.create(rotation, value=None)
    token = rotation.start(arn)
    rotation.rotate(api_key_handler, arn, token, steps=("createSecret", "setSecret", "testSecret"))
    new = rotation.snapshot(arn)[token][1]
    assert [(e["stage"], e["versionId"], e["validUntil"]) for e in record(rotation)["digests"]] == [
        ("pending", token, None)]
    assert accepts(record(rotation), json.loads(new)["key"])

    rotation.step(api_key_handler, arn, token, "finishSecret")
    assert [(e["stage"], e["versionId"], e["validUntil"]) for e in record(rotation)["digests"]] == [
        ("current", token, None)]
    assert accepts(record(rotation), key(rotation, arn, "AWSCURRENT"))


# Grace and revocation


@pytest.mark.parametrize(("tag", "days"), [("0", 0), ("3", 3), ("30", 30)])
def test_previous_grace_days_tag_sets_how_long_the_previous_key_works(rotation, tag, days):
    arn = create_key(rotation, **{GRACE_TAG: tag})
    old = key(rotation, arn, "AWSCURRENT")
    started = now().replace(microsecond=0)
    rotation.rotate(api_key_handler, arn)
    entries = by_stage(record(rotation))
    if days == 0:
        assert set(entries) == {"current"}  # the previous key stops working the moment the new one is current
        assert not accepts(record(rotation), old)
        return
    valid_until = parse_time(entries["previous"]["validUntil"])
    assert started + days * DAY <= valid_until <= now() + days * DAY


@pytest.mark.parametrize("tag", ["abc", "31", "-1", "1.5", "٣"])
def test_invalid_grace_tag_fails_naming_it_before_anything_changes(rotation, tag):
    arn = create_key(rotation, **{GRACE_TAG: tag})
    token = rotation.start(arn)
    before = rotation.snapshot(arn)
    with pytest.raises(ValueError, match=f"secret tag '{GRACE_TAG}' must be a whole number of days from 0 to 30"):
        rotation.step(api_key_handler, arn, token, "createSecret")
    for step in ("setSecret", "finishSecret"):
        with pytest.raises(ValueError, match=f"'{GRACE_TAG}'"):
            rotation.step(api_key_handler, arn, token, step)
    assert rotation.snapshot(arn) == before  # no value stored
    assert record(rotation) is None


def test_revoke_previous_gives_the_previous_key_no_grace_then_removes_the_tag(rotation, aws_calls):
    arn = create_key(rotation, **{REVOKE_TAG: "true"})
    old = key(rotation, arn, "AWSCURRENT")
    token = rotation.start(arn)
    rotation.rotate(api_key_handler, arn, token, steps=("createSecret", "setSecret", "testSecret"))
    assert accepts(record(rotation), old)  # until the new key is current, callers still hold the old one

    rotation.step(api_key_handler, arn, token, "finishSecret")

    assert [e["stage"] for e in record(rotation)["digests"]] == ["current"]
    assert not accepts(record(rotation), old)
    tags = {t["Key"] for t in rotation.client.describe_secret(SecretId=arn)["Tags"]}
    assert REVOKE_TAG not in tags and GRACE_TAG not in tags and VERIFIER_TAG in tags
    assert aws_calls.params("UntagResource") == [{"SecretId": arn, "TagKeys": [REVOKE_TAG]}]
    # The following rotation, without the tag, has its grace again.
    middle = key(rotation, arn, "AWSCURRENT")
    rotation.rotate(api_key_handler, arn)
    assert accepts(record(rotation), middle)


@pytest.mark.parametrize("kind", [API_KEY, WEBHOOK], ids=["api_key", "webhook"])
def test_revoke_tag_other_than_true_fails_naming_it_and_nothing_moves(rotation, kind):
    arn = kind.create(rotation, tags={**kind.tags, REVOKE_TAG: "yes"})
    token = rotation.start(arn)
    before = rotation.snapshot(arn)
    for step in ("createSecret", "setSecret", "finishSecret"):
        with pytest.raises(ValueError, match=f"secret tag '{REVOKE_TAG}' must be 'true'"):
            rotation.step(kind.handler, arn, token, step)
    assert rotation.snapshot(arn) == before
    assert record(rotation) is None


# Faults at each step, retried


RECORD_WRITE = {"SecretId": RECORD}
FAULTS = [
    ("createSecret", "GetSecretValue", "before", {"SecretId": RECORD}),  # reading the record
    ("createSecret", "PutSecretValue", "before", None),  # the new key
    ("createSecret", "PutSecretValue", "after", None),  # the new key stored, then the function died
    ("createSecret", "PutSecretValue", "before", RECORD_WRITE),  # the record write fails
    ("createSecret", "PutSecretValue", "after", RECORD_WRITE),  # written, then the function died
    ("setSecret", "DescribeSecret", "before", None),
    ("testSecret", "GetSecretValue", "before", None),
    ("finishSecret", "GetSecretValue", "before", {"SecretId": RECORD}),
    ("finishSecret", "UpdateSecretVersionStage", "before", None),
    ("finishSecret", "UpdateSecretVersionStage", "after", None),  # AWSCURRENT moved, record not yet written
    ("finishSecret", "PutSecretValue", "before", RECORD_WRITE),  # moved, and the record write fails
    ("finishSecret", "PutSecretValue", "after", RECORD_WRITE),
    ("finishSecret", "UntagResource", "before", None),  # revoked in the record, tag still there
    ("finishSecret", "UntagResource", "after", None),  # tag removed, then the function died
]


# Only a revoking rotation untags.
FAULT_CASES = [pytest.param(*fault, revoke, id=f"{fault[0]}-{fault[1]}-{fault[2]}-{'revoke' if revoke else 'grace'}")
               for fault in FAULTS for revoke in (False, True) if revoke or fault[1] != "UntagResource"]


@pytest.mark.parametrize(("failing_step", "operation", "when", "matching", "revoke"), FAULT_CASES)
def test_a_fault_at_any_point_leaves_a_record_accepting_every_key_a_caller_can_hold(
        rotation, aws_calls, failing_step, operation, when, matching, revoke):
    arn = create_key(rotation, **({REVOKE_TAG: "true"} if revoke else {}))
    rotation.rotate(api_key_handler, arn)  # a first rotation: callers may hold the older key too (in grace)
    older, old = key(rotation, arn, "AWSPREVIOUS"), key(rotation, arn, "AWSCURRENT")
    if revoke:
        rotation.client.tag_resource(SecretId=arn, Tags=[{"Key": REVOKE_TAG, "Value": "true"}])
    token = rotation.start(arn)
    rotation.rotate(api_key_handler, arn, token, steps=STEPS[: STEPS.index(failing_step)])
    aws_calls.fail("secrets-manager", operation, when=when, matching=matching)

    with pytest.raises(ClientError, match="injected"):
        rotation.step(api_key_handler, arn, token, failing_step)

    # Whatever a caller can read now, or read before the rotation started, is accepted; the key before that
    # (in its grace) until this rotation's finish record replaces it.
    found = record(rotation)
    assert_accepts(found, key(rotation, arn, "AWSCURRENT"), "AWSCURRENT")
    promoted = rotation.stages(arn)[token][0] == "AWSCURRENT"
    if not (revoke and promoted):
        assert_accepts(found, old, "the replaced key")
    if not revoke and by_stage(found)["current"]["versionId"] != token:
        assert_accepts(found, older, "the key in grace")

    rotation.rotate(api_key_handler, arn, token)  # Secrets Manager retries with the same token

    new = key(rotation, arn, "AWSCURRENT")
    entries = by_stage(record(rotation))
    assert rotation.stages(arn)[token] == FINISHED
    assert entries["current"]["sha256"] == sha256(new) and "pending" not in entries
    if revoke:
        assert "previous" not in entries
        assert REVOKE_TAG not in {t["Key"] for t in rotation.client.describe_secret(SecretId=arn)["Tags"]}
    else:
        assert entries["previous"]["sha256"] == sha256(old) and not accepts(record(rotation), older)


def test_a_retried_finish_keeps_the_first_runs_valid_until(rotation, aws_calls, monkeypatch):
    arn = create_key(rotation)
    token = rotation.start(arn)
    rotation.rotate(api_key_handler, arn, token, steps=STEPS[:3])
    # The record written, then the function died before answering: the retry must not restart the grace.
    aws_calls.fail("secrets-manager", "PutSecretValue", when="after", matching={"SecretId": RECORD})
    with pytest.raises(ClientError):
        rotation.step(api_key_handler, arn, token, "finishSecret")
    first = by_stage(record(rotation))["previous"]
    import rotation_common.verifier_record as verifier_record

    later = now() + datetime.timedelta(hours=5)
    monkeypatch.setattr(verifier_record, "_now", lambda: later.replace(microsecond=0))
    rotation.step(api_key_handler, arn, token, "finishSecret")
    assert by_stage(record(rotation))["previous"] == first


# What the record may hold and how it is written


def test_the_record_never_holds_a_key_value(rotation):
    arn = create_key(rotation)
    for _ in range(3):
        rotation.rotate(api_key_handler, arn)
    keys = {json.loads(text)["key"] for _, text in rotation.snapshot(arn).values() if text}
    for _, text in rotation.snapshot(RECORD).values():
        assert not any(k in text or k[len("sk_test_"):] in text for k in keys)


def test_record_writes_are_awscurrent_with_a_fresh_token_and_every_read_names_its_stage(rotation, aws_calls):
    arn = create_key(rotation)
    rotation.rotate(api_key_handler, arn)
    rotation.rotate(api_key_handler, arn)
    writes = [p for p in aws_calls.params("PutSecretValue") if p["SecretId"] == RECORD]
    assert len(writes) == 4  # create and finish of each rotation
    assert all(p["VersionStages"] == ["AWSCURRENT"] for p in writes)
    tokens = [p["ClientRequestToken"] for p in writes]
    assert len(set(tokens)) == 4 and all(uuid.UUID(t).version == 4 for t in tokens)
    # moto (and a stale read) can return another version when VersionStage is left out.
    assert all("VersionStage" in p for p in aws_calls.params("GetSecretValue"))


@pytest.mark.parametrize(("tags", "message"), [
    ({VERIFIER_TAG: "securestack/dev/api-key-verifiers/checkout"}, "must name this key's record"),
    ({VERIFIER_TAG: ""}, "is missing or empty"),
])
def test_a_verifier_tag_not_naming_this_keys_record_is_refused(rotation, tags, message):
    arn = create_key(rotation, **tags)
    token = rotation.start(arn)
    before = rotation.snapshot(arn)
    for step in ("createSecret", "finishSecret"):
        with pytest.raises(ValueError, match=f"secret tag '{VERIFIER_TAG}' {message}"):
            rotation.step(api_key_handler, arn, token, step)
    assert record(rotation) is None and rotation.snapshot(arn) == before


def test_an_unreadable_record_is_replaced(rotation, rotation_log_lines):
    arn = create_key(rotation)
    rotation.client.put_secret_value(SecretId=RECORD, SecretString="not json", VersionStages=["AWSCURRENT"])
    rotation.rotate(api_key_handler, arn)
    assert_contract_shape(record(rotation))
    assert "record-replaced" in {line.get("outcome") for line in rotation_log_lines()}


# Webhooks: no record; revoke-previous drops AWSPREVIOUS


def test_webhook_revoke_previous_removes_awsprevious_after_the_move_and_untags(rotation):
    arn = WEBHOOK.create(rotation, tags={**WEBHOOK.tags, REVOKE_TAG: "true"})
    old_version = version(rotation, arn, "AWSCURRENT")
    token = rotation.rotate(webhook_handler, arn)
    assert rotation.stages(arn) == {token: FINISHED, old_version: []}
    assert REVOKE_TAG not in {t["Key"] for t in rotation.client.describe_secret(SecretId=arn)["Tags"]}


@pytest.mark.parametrize("grace", [None, "0"])
def test_webhook_without_revoke_keeps_awsprevious_for_receivers_to_judge(rotation, grace):
    tags = {**WEBHOOK.tags, **({GRACE_TAG: grace} if grace else {})}
    arn = WEBHOOK.create(rotation, tags=tags)
    old_version = version(rotation, arn, "AWSCURRENT")
    rotation.rotate(webhook_handler, arn)
    assert rotation.stages(arn)[old_version] == ["AWSPREVIOUS"]  # receivers count its grace from AWSCURRENT's date


@pytest.mark.parametrize(("operation", "when", "matching"), [
    ("UpdateSecretVersionStage", "before", {"VersionStage": "AWSPREVIOUS"}),
    ("UpdateSecretVersionStage", "after", {"VersionStage": "AWSPREVIOUS"}),
    ("UntagResource", "before", None),
    ("UntagResource", "after", None),
])
def test_webhook_revoke_retried_after_a_fault_ends_revoked_and_untagged(rotation, aws_calls, operation, when,
                                                                        matching):
    arn = WEBHOOK.create(rotation, tags={**WEBHOOK.tags, REVOKE_TAG: "true"})
    old_version = version(rotation, arn, "AWSCURRENT")
    token = rotation.start(arn)
    rotation.rotate(webhook_handler, arn, token, steps=STEPS[:3])
    aws_calls.fail("secrets-manager", operation, when=when, matching=matching)
    with pytest.raises(ClientError, match="injected"):
        rotation.step(webhook_handler, arn, token, "finishSecret")
    rotation.step(webhook_handler, arn, token, "finishSecret")
    assert rotation.stages(arn) == {token: FINISHED, old_version: []}
    assert REVOKE_TAG not in {t["Key"] for t in rotation.client.describe_secret(SecretId=arn)["Tags"]}


def test_a_key_promoted_by_a_finish_that_never_wrote_the_record_keeps_its_grace_in_the_next_rotation(rotation):
    """A finishSecret moved AWSCURRENT, its record write failed, and no retry came before the next rotation: the
    replaced key is the key's previous value and must stay accepted (with grace) while the next rotation runs."""
    arn = create_key(rotation)
    rotation.rotate(api_key_handler, arn)
    replaced, replaced_version = key(rotation, arn, "AWSCURRENT"), version(rotation, arn, "AWSCURRENT")
    token = rotation.start(arn)
    rotation.rotate(api_key_handler, arn, token, steps=("createSecret", "setSecret", "testSecret"))
    # finishSecret's stage moves without its record write
    rotation.client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                                RemoveFromVersionId=replaced_version)
    rotation.client.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=token)
    assert by_stage(record(rotation))["current"]["versionId"] == replaced_version  # the stale record

    next_token = rotation.start(arn)
    rotation.rotate(api_key_handler, arn, next_token, steps=("createSecret", "setSecret"))
    during = record(rotation)
    assert_accepts(during, replaced, "the key the unfinished finish replaced")
    previous = by_stage(during)["previous"]
    assert previous["versionId"] == replaced_version
    assert now() + 6 * DAY < parse_time(previous["validUntil"]) <= now() + 7 * DAY + datetime.timedelta(minutes=1)
