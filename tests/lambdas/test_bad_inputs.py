"""Issue 14, Rotators: malformed values, events and settings each fail with one clear error, before anything is
written, naming the secret, the version id and stage the fault is in, and the field.

Every case runs on moto with requests AWS would take as they are (VersionStage always named, tokens of AWS's
shapes); the checks come before any write, so they hold the same on AWS.
"""

import json
import os
import re
import subprocess
import sys
import uuid

import botocore.session
import pytest

import api_key_rotation.handler as api_key_handler
import postgres_user_rotation.handler as postgres_handler
import webhook_secret_rotation.handler as webhook_handler
from rotation_common import logging_json, protocol
from rotation_common.metadata import encode_scopes
from tests.lambdas.harness import LAMBDAS_DIR, POSTGRES_TAGS, STEPS
from tests.lambdas.test_standalone_rotation import API_KEY, WEBHOOK

WRITE_OPERATIONS = ("PutSecretValue", "UpdateSecretVersionStage", "TagResource", "UntagResource")
MASTER_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds@21db-master"


def write_calls(aws_calls):
    return sum(aws_calls.count(operation) for operation in WRITE_OPERATIONS)


def version_with(rotation, arn, stage):
    return next(version for version, stages in rotation.stages(arn).items() if stage in stages)


def assert_blamed(raised, log_lines, arn, stage, version, field):
    """The error and the step's failure log line both name the secret, the faulty version and stage, the field."""
    message = str(raised.value)
    assert message.startswith(f"{stage} value field '{field}' "), message
    assert f"(secret {arn}, version {version})" in message, message
    failed = [line for line in log_lines() if line.get("outcome") == "failed"]
    assert len(failed) == 1
    assert (failed[0]["secret_arn"], failed[0]["fault_stage"], failed[0]["fault_version_id"],
            failed[0]["fault_field"]) == (arn, stage, version, field)


# Identity fields of AWSCURRENT that must never reach a new version: (kind, change to a valid value, field, message)
CURRENT_FAULTS = [
    (API_KEY, {"env": 7}, "env", "must be a string, not a number"),
    (WEBHOOK, {"env": 7}, "env", "must be a string, not a number"),
    (API_KEY, {"env": "prod"}, "env", "differs from secret tag 'securestack:env'"),
    (WEBHOOK, {"env": "dev"}, "env", "differs from secret tag 'securestack:env'"),
    (API_KEY, {"env": ""}, "env", "is missing or empty"),
    (WEBHOOK, {"name": ["orders-endpoint"]}, "name", "must be a string, not a list"),
    (WEBHOOK, {"name": "payments-endpoint"}, "name", "differs from secret tag 'securestack:name'"),
    (API_KEY, {"name": True}, "name", "must be a string, not a boolean"),
    (API_KEY, {"scopes": ["*"]}, "scopes", "differs from secret tag 'securestack:scopes'"),  # tagged: two scopes
    (API_KEY, {"scopes": ["products:read"]}, "scopes", "differs from secret tag 'securestack:scopes'"),
    (API_KEY, {"scopes": "products:read categories:read"}, "scopes", "must be a list of scopes, not a string"),
    (API_KEY, {"scopes": ["products:read", 7]}, "scopes", "must hold non-empty scope names without spaces"),
    (API_KEY, {"scopes": ["products:read", "products:read", "categories:read"]}, "scopes", "names a scope twice"),
    (API_KEY, {"key": 31415926535897}, "key", "must be a string, not a number"),
    (WEBHOOK, {"created_at": 1700000000}, "created_at", "must be a string, not a number"),
]
CURRENT_FAULT_IDS = [f"{kind.secret_field}-{field}-{i}" for i, (kind, _, field, _) in enumerate(CURRENT_FAULTS)]


@pytest.mark.parametrize(("kind", "change", "field", "problem"), CURRENT_FAULTS, ids=CURRENT_FAULT_IDS)
def test_malformed_current_identity_is_never_copied_and_is_blamed_on_awscurrent(
        rotation, aws_calls, rotation_log_lines, kind, change, field, problem):
    """createSecret takes identity from the tags, never from AWSCURRENT. The first step that reads AWSCURRENT
    blames it and nothing moves: an API key's createSecret, before it stores anything (its record has no digest of
    that version yet), a webhook secret's finishSecret (its copy check), after createSecret stored a value from
    the tags."""
    arn = kind.create(rotation, value={**kind.first_value(), **change})
    current_version = version_with(rotation, arn, "AWSCURRENT")
    token = rotation.start(arn)
    before = rotation.snapshot(arn)

    with pytest.raises(ValueError, match=re.escape(problem)) as raised:
        rotation.rotate(kind.handler, arn, token)

    assert rotation.stages(arn)[current_version] == ["AWSCURRENT"] and rotation.stages(arn)[token] == ["AWSPENDING"]
    if kind is API_KEY:
        assert rotation.snapshot(arn) == before and write_calls(aws_calls) == 0  # the pending version has no value
    else:
        pending = rotation.value(arn, "AWSPENDING")
        assert {name: pending[name] for name in kind.identity_fields} == {"env": "prod", "name": "orders-endpoint"}
    assert_blamed(raised, rotation_log_lines, arn, "AWSCURRENT", current_version, field)


@pytest.mark.parametrize("step", ["createSecret", "finishSecret"])
@pytest.mark.parametrize("kind", [API_KEY, WEBHOOK], ids=["api_key", "webhook"])
def test_a_bad_awscurrent_is_blamed_on_awscurrent_by_the_steps_that_read_it(rotation, aws_calls, rotation_log_lines,
                                                                             kind, step):
    """With a well-formed AWSPENDING already written (by hand, or by an earlier run whose record write failed): the
    steps that must compare it with AWSCURRENT (createSecret finding it, finishSecret before it promotes) read and
    check AWSCURRENT, and nothing moves. setSecret and testSecret read no AWSCURRENT (they used to, at two calls
    each): what they check does not depend on it, and the two steps around them refuse."""
    arn = kind.create(rotation, value={**kind.first_value(), "env": 7})
    current_version = version_with(rotation, arn, "AWSCURRENT")
    token = rotation.start(arn)
    rotation.put_pending(arn, token, kind.first_value())
    before = rotation.snapshot(arn)

    with pytest.raises(ValueError, match="AWSCURRENT value field 'env' must be a string") as raised:
        rotation.step(kind.handler, arn, token, step)

    # createSecret's PutSecretValue, refused for a token that already holds a value, is the one write it sends.
    assert rotation.snapshot(arn) == before
    assert [op for op, params in aws_calls.calls if op != "PutSecretValue" or params["SecretId"] != arn
            if op in ("PutSecretValue", "UpdateSecretVersionStage", "UntagResource")] == []
    assert_blamed(raised, rotation_log_lines, arn, "AWSCURRENT", current_version, "env")


# The steps that read AWSPENDING with the tags at hand refuse every fault; testSecret reads no tags: types only.
PENDING_FAULTS = [(change, field, step) for change, field in [({"env": 7}, "env"), ({"scopes": ["*"]}, "scopes"),
                                                              ({"name": "other"}, "name")]
                  for step in ("createSecret", "finishSecret", *(("testSecret",) if field == "env" else ()))]


@pytest.mark.parametrize(("change", "field", "step"), PENDING_FAULTS)
def test_a_bad_awspending_is_blamed_on_awspending_with_its_version_id(rotation, aws_calls, rotation_log_lines, change,
                                                                      field, step):
    arn = API_KEY.create(rotation)
    token = rotation.start(arn)
    rotation.put_pending(arn, token, {**API_KEY.first_value(), **change})
    before, writes_before = rotation.snapshot(arn), write_calls(aws_calls)

    with pytest.raises(ValueError, match=f"AWSPENDING value field '{field}'") as raised:
        rotation.step(api_key_handler, arn, token, step)

    # createSecret's PutSecretValue is refused (the token already holds a value): nothing else is written.
    assert rotation.snapshot(arn) == before
    assert write_calls(aws_calls) - writes_before == (1 if step == "createSecret" else 0)
    assert_blamed(raised, rotation_log_lines, arn, "AWSPENDING", token, field)


def test_scopes_in_another_order_than_the_tag_are_the_same_key(rotation):
    """Accepted (scopes compare as a set); the new value takes the tag's order, as identity comes from the tags."""
    value = {**API_KEY.first_value(), "scopes": ["categories:read", "products:read"]}  # tag: products, categories
    arn = API_KEY.create(rotation, value=value)
    rotation.rotate(api_key_handler, arn)
    assert rotation.value(arn, "AWSCURRENT")["scopes"] == ["products:read", "categories:read"]


def test_identity_tags_are_required_even_with_a_current_value(rotation, aws_calls):
    tags = {key: value for key, value in WEBHOOK.tags.items() if key != "securestack:env"}
    arn = WEBHOOK.create(rotation, tags=tags)
    with pytest.raises(ValueError, match="secret tag 'securestack:env' is missing"):
        rotation.step(webhook_handler, arn, rotation.start(arn), "createSecret")
    assert write_calls(aws_calls) == 0


def test_a_wildcard_key_tagged_all_scopes_still_rotates(rotation):
    tags = {**API_KEY.tags, "securestack:scopes": encode_scopes(["*"])}
    arn = API_KEY.create(rotation, value={**API_KEY.first_value(), "scopes": ["*"]}, tags=tags)
    rotation.rotate(api_key_handler, arn)
    assert rotation.value(arn, "AWSCURRENT")["scopes"] == ["*"]


# PostgreSQL: the value's fields are typed and checked against the tags before any database or write call.

def postgres_value(**change):
    value = {"engine": "postgres", "host": "db.internal", "port": 5432, "dbname": "app", "username": "app",
             "password": "p" * 43, "masterarn": MASTER_ARN.replace("@21", "!")}
    return {**value, **change}


POSTGRES_FULL_TAGS = {**POSTGRES_TAGS, "securestack:db-host": "db.internal", "securestack:db-port": "5432",
                      "securestack:db-name": "app", "securestack:db-username": "app",
                      "securestack:db-owner-role": "app_owner", "securestack:master-secret-arn": MASTER_ARN}

POSTGRES_FAULTS = [
    ({"username": 7}, "username", "must be a string, not a number"),
    ({"username": "someone_else"}, "username", "is neither the base user"),
    ({"password": 27182818284590}, "password", "must be a string, not a number"),
    ({"host": ["db.internal"]}, "host", "must be a string, not a list"),
    ({"host": "db.elsewhere"}, "host", "differs from secret tag 'securestack:db-host'"),
    ({"port": "54x2"}, "port", "is not a TCP port"),
    ({"port": True}, "port", "is not a TCP port"),
    ({"port": 5433}, "port", "differs from secret tag 'securestack:db-port'"),
    ({"dbname": 1}, "dbname", "must be a string, not a number"),
    ({"masterarn": MASTER_ARN.replace("db-master", "other")}, "masterarn", "differs from secret tag"),
    ({"engine": "mysql"}, "engine", "is not 'postgres'"),
]


@pytest.mark.parametrize(("change", "field", "problem"), POSTGRES_FAULTS, ids=[f[1] + "-" + str(i) for i, f in
                                                                               enumerate(POSTGRES_FAULTS)])
def test_malformed_postgres_current_value_is_named_before_any_write(rotation, aws_calls, rotation_log_lines, change,
                                                                    field, problem):
    arn = rotation.create_secret("securestack/dev/database/app", POSTGRES_FULL_TAGS, postgres_value(**change))
    current_version = version_with(rotation, arn, "AWSCURRENT")
    token = rotation.start(arn)
    before = rotation.snapshot(arn)

    with pytest.raises(ValueError, match=re.escape(problem)) as raised:
        rotation.step(postgres_handler, arn, token, "createSecret")

    assert rotation.snapshot(arn) == before and write_calls(aws_calls) == 0
    assert_blamed(raised, rotation_log_lines, arn, "AWSCURRENT", current_version, field)


@pytest.mark.parametrize("step", ["setSecret", "testSecret"])
def test_an_int_username_in_awspending_is_named_before_the_database_is_reached(rotation, monkeypatch,
                                                                              rotation_log_lines, step):
    def no_database(*_, **__):
        raise AssertionError("the database must not be reached")

    monkeypatch.setattr(postgres_handler.database, "connect", no_database)
    arn = rotation.create_secret("securestack/dev/database/app", POSTGRES_FULL_TAGS, postgres_value())
    token = rotation.start(arn)
    rotation.put_pending(arn, token, postgres_value(username=7, password="q" * 43))

    with pytest.raises(ValueError, match="AWSPENDING value field 'username' must be a string, not a number") as raised:
        rotation.step(postgres_handler, arn, token, step)
    assert_blamed(raised, rotation_log_lines, arn, "AWSPENDING", token, "username")


# Events: one clear error and one log line naming the field, before any AWS call (the RotationToken never shown).

def event(**change):
    base = {"Step": "createSecret", "SecretId": "securestack/dev/webhook-secrets/orders-endpoint",
            "ClientRequestToken": str(uuid.uuid4())}
    return {key: value for key, value in {**base, **change}.items() if value is not DROP}


DROP = object()
ROTATION_TOKEN = "Ab3-" * 12  # 48 characters of RotationTokenType's alphabet
EVENT_FAULTS = [
    (["createSecret"], None, "must be an object"),
    (None, None, "must be an object"),
    ("createSecret", None, "must be an object"),
    (event(Step=DROP), "Step", "is missing"),
    (event(Step=None), "Step", "is missing"),
    (event(SecretId=DROP), "SecretId", "is missing"),
    (event(ClientRequestToken=DROP), "ClientRequestToken", "is missing"),
    (event(Step=""), "Step", "must be a non-empty string"),
    (event(Step=7), "Step", "must be a non-empty string"),
    (event(Step=["createSecret"]), "Step", "must be a non-empty string"),
    (event(Step="deleteSecret"), "Step", "unknown value"),
    (event(Step="createsecret"), "Step", "unknown value"),
    (event(SecretId=42), "SecretId", "must be a non-empty string"),
    (event(SecretId="   "), "SecretId", "must be a non-empty string"),
    (event(SecretId="s" * 2049), "SecretId", "longer than 2048 characters"),
    (event(ClientRequestToken="short"), "ClientRequestToken", "must be 32-64 printable characters"),
    (event(ClientRequestToken="t" * 31), "ClientRequestToken", "must be 32-64 printable characters"),
    (event(ClientRequestToken="t" * 65), "ClientRequestToken", "must be 32-64 printable characters"),
    (event(ClientRequestToken="with a space" + "t" * 30), "ClientRequestToken", "must be 32-64 printable"),
    (event(ClientRequestToken=uuid.uuid4().int), "ClientRequestToken", "must be a non-empty string"),
    (event(RotationToken=""), "RotationToken", "must be a string of 36-256 letters, digits or '-'"),
    (event(RotationToken=ROTATION_TOKEN[:35]), "RotationToken", "36-256"),
    (event(RotationToken="A" * 257), "RotationToken", "36-256"),
    (event(RotationToken=ROTATION_TOKEN[:-1] + "_"), "RotationToken", "36-256"),
    (event(RotationToken=ROTATION_TOKEN[:-1] + "é"), "RotationToken", "36-256"),
    (event(RotationToken=12345), "RotationToken", "36-256"),
    (event(RotationToken={"token": ROTATION_TOKEN}), "RotationToken", "36-256"),
]


@pytest.mark.parametrize(("bad_event", "field", "problem"), EVENT_FAULTS,
                         ids=[f"{field}-{i}" for i, (_, field, _) in enumerate(EVENT_FAULTS)])
@pytest.mark.parametrize("handler", [api_key_handler, webhook_handler, postgres_handler],
                         ids=["api_key", "webhook", "postgres"])
def test_a_malformed_event_is_one_clear_error_and_log_line_before_any_aws_call(
        rotation, aws_calls, rotation_log_lines, secret_values, handler, bad_event, field, problem):
    if isinstance(bad_event, dict) and isinstance(bad_event.get("RotationToken"), str):
        secret_values.add(bad_event["RotationToken"])  # never in a log line (checked after the test)

    with pytest.raises(protocol.EventError, match=re.escape(problem)) as raised:
        handler.lambda_handler(bad_event, None)

    subject = "event" if field is None else f"event field '{field}'"
    assert str(raised.value).startswith(subject)
    assert "\n" not in str(raised.value)
    assert aws_calls.count() == 0
    [line] = rotation_log_lines()
    assert line["outcome"] == "refused" and line["event_field"] == field
    assert line["message"].startswith("event refused: ") and (field is None or f"'{field}'" in line["message"])


def test_the_rotation_token_is_never_shown_in_its_error(rotation):
    token = ROTATION_TOKEN[:-1] + "_"
    with pytest.raises(protocol.EventError) as raised:
        webhook_handler.lambda_handler(event(RotationToken=token), None)
    assert token not in str(raised.value)


def test_event_limits_are_those_of_botocores_secretsmanager_model():
    """The handler checks what botocore's model says (botocore/data/secretsmanager/.../service-2.json), since
    botocore's own validation checks only the minimum (botocore/validate.py range_check) and AWS the rest."""
    model = botocore.session.get_session().get_service_model("secretsmanager")
    members = model.operation_model("PutSecretValue").input_shape.members
    client_token, rotation_token = members["ClientRequestToken"].metadata, members["RotationToken"].metadata
    secret_id = members["SecretId"].metadata
    assert (client_token["min"], client_token["max"]) == protocol.CLIENT_REQUEST_TOKEN_LENGTHS
    assert (rotation_token["min"], rotation_token["max"]) == protocol.ROTATION_TOKEN_LENGTHS
    assert secret_id["max"] == protocol.MAX_SECRET_ID_LENGTH
    model_pattern = re.compile(rotation_token["pattern"])
    samples = [chr(c) * 40 for c in range(0x20, 0x7f)] + ["é" * 40, ROTATION_TOKEN]
    for sample in samples:
        event_ = event(RotationToken=sample)
        accepted = True
        try:
            protocol.parse_event(event_)
        except protocol.EventError:
            accepted = False
        assert accepted == bool(model_pattern.match(sample)), repr(sample[0])


def test_a_well_formed_rotation_token_is_accepted():
    assert protocol.parse_event(event(RotationToken=ROTATION_TOKEN)).rotation_token == ROTATION_TOKEN


# LOG_LEVEL: an unusable value falls back to INFO with one warning line; the function still imports and rotates.

def import_logging_with(level):
    code = ("import logging, rotation_common.logging_json as l;"
            "print(logging.getLevelName(logging.getLogger(l.LOGGER_NAME).level))")
    env = {**os.environ, "LOG_LEVEL": level, "PYTHONPATH": str(LAMBDAS_DIR)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_an_unusable_log_level_falls_back_to_info_with_one_warning_naming_the_variable():
    result = import_logging_with("verbose")
    assert result.returncode == 0, result.stderr
    *log_lines, level = result.stdout.splitlines()
    assert level == "INFO"
    [warning] = [json.loads(line) for line in log_lines]
    assert warning["level"] == "WARNING" and warning["outcome"] == "log-level-defaulted"
    assert "LOG_LEVEL" in warning["message"] and "DEBUG, INFO, WARNING, ERROR" in warning["message"]
    assert "verbose" not in result.stdout and result.stderr == ""


@pytest.mark.parametrize(("setting", "expected"), [
    ("debug", ("DEBUG", False)), (" WARNING ", ("WARNING", False)), ("", ("INFO", False)), (None, ("INFO", False)),
    ("verbose", ("INFO", True)), ("10", ("INFO", True)), ("CRITICAL", ("INFO", True)), ("WARN", ("INFO", True)),
])
def test_log_level_values(setting, expected):
    assert logging_json.log_level_from(setting) == expected


def test_log_levels_are_those_the_stack_allows():
    from securestack.components.rotation import LOG_LEVELS

    assert logging_json.LOG_LEVELS == LOG_LEVELS
