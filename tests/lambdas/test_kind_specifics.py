"""What is particular to each standalone kind: key and secret formats, scopes, webhook receivers,
and the redeployment of an ECS service that consumes a rotated secret (the database login only)."""

import base64
import hashlib
import hmac
import json

import boto3
import pytest

import api_key_rotation.handler as api_key_handler
import postgres_user_rotation.handler as postgres_handler
import webhook_secret_rotation.handler as webhook_handler
from rotation_common.metadata import SecretMetadata, encode_scopes
from tests.lambdas.harness import FINISHED, REGION, patch_moto_first_value, postgres_secret_ready_to_finish
from tests.lambdas.test_standalone_rotation import API_KEY, WEBHOOK


# API keys


def test_api_key_has_environment_prefix_and_256_random_bits(rotation):
    arn = API_KEY.create(rotation)
    rotation.rotate(api_key_handler, arn)
    key = rotation.value(arn, "AWSCURRENT")["key"]
    assert key.startswith("sk_test_")
    assert len(key) - len("sk_test_") >= 43  # 43 URL-safe base64 characters carry 258 bits


def test_api_key_scopes_env_and_name_come_from_the_tags_byte_for_byte(rotation):
    """createSecret reads no AWSCURRENT: identity comes from the tags (every value read must agree with them), so a
    value's scopes listed in another order than the tag's take the tag's order; spelling is kept."""
    current = {
        **API_KEY.first_value(),
        "scopes": ["orders:write", "*", "customers:write", "é:read"],
        "env": "Dev-1",
    }
    # The tags agree with the value (checked on every read); the scopes tag lists them in another order.
    tags = {**API_KEY.tags, "securestack:env": "Dev-1",
            "securestack:scopes": encode_scopes(sorted(current["scopes"])),
            "securestack:verifier-secret": "securestack/Dev-1/api-key-verifiers/storefront-read"}
    arn = API_KEY.create(rotation, value=current, tags=tags)
    rotation.rotate(api_key_handler, arn)
    new = rotation.value(arn, "AWSCURRENT")
    assert json.dumps([new["scopes"], new["env"], new["name"]]) == json.dumps(
        [sorted(current["scopes"]), current["env"], current["name"]]
    )


def test_wildcard_scope_tag_decodes_to_star_on_bootstrap(rotation, monkeypatch):
    patch_moto_first_value(monkeypatch, first_value_becomes_current=False)
    tags = {**API_KEY.tags, "securestack:scopes": encode_scopes(["*"]), "securestack:key-prefix": "sk_live_"}
    arn = API_KEY.create(rotation, value=None, tags=tags)
    rotation.rotate(api_key_handler, arn)
    value = rotation.value(arn, "AWSCURRENT")
    assert value["scopes"] == ["*"]
    assert value["key"].startswith("sk_live_")
    assert tags["securestack:scopes"] == "ALL_SCOPES"


@pytest.mark.parametrize("step", ["createSecret", "finishSecret"])  # the steps that read AWSPENDING with the tags
def test_pending_api_key_with_other_scopes_is_refused(rotation, step):
    arn = API_KEY.create(rotation)
    token = rotation.start(arn)
    rotation.put_pending(arn, token, {**API_KEY.first_value(), "scopes": ["*"]})
    with pytest.raises(ValueError, match="AWSPENDING value field 'scopes' differs from secret tag 'securestack:scopes'"):
        rotation.step(api_key_handler, arn, token, step)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"key": "sk_live_" + "a" * 43}, "does not start with the environment's prefix"),
        ({"key": "sk_test_" + "a" * 42}, "fewer than 256 random bits"),
        ({"key": "sk_test_" + "a" * 40 + "!!!"}, "fewer than 256 random bits"),
        ({"created_at": "yesterday"}, "'created_at' is not a UTC timestamp"),
    ],
)
def test_the_api_key_format_is_checked_before_promotion(rotation, secret_values, change, message):
    """A key stored by someone else: createSecret (which finds it) and finishSecret check it against the tag's prefix.
    testSecret reads no tags: it checks what needs none (URL-safe random part, timestamp)."""
    arn = API_KEY.create(rotation)
    token = rotation.start(arn)
    rotation.put_pending(arn, token, {**API_KEY.first_value(), **change})
    before = rotation.snapshot(arn)
    for step in ("createSecret", "finishSecret"):
        with pytest.raises(ValueError, match=message):
            rotation.step(api_key_handler, arn, token, step)
    if "!!!" in change.get("key", "") or "created_at" in change:
        with pytest.raises(ValueError, match=message):
            rotation.step(api_key_handler, arn, token, "testSecret")
    assert rotation.snapshot(arn) == before


@pytest.mark.parametrize("scopes", [[], ["products:read", "has space"], ["ok", ""], "products:read"])
def test_test_secret_validates_scopes(rotation, scopes):
    arn = API_KEY.create(rotation)
    token = rotation.start(arn)
    rotation.put_pending(arn, token, {**API_KEY.first_value(), "scopes": scopes})
    with pytest.raises(ValueError, match="AWSPENDING value field 'scopes'"):
        rotation.step(api_key_handler, arn, token, "testSecret")


def test_key_prefix_tag_is_validated(rotation):
    arn = API_KEY.create(rotation, value=None, tags={**API_KEY.tags, "securestack:key-prefix": "sk test"})
    with pytest.raises(ValueError, match="secret tag 'securestack:key-prefix'"):
        rotation.step(api_key_handler, arn, rotation.start(arn), "createSecret")


# Webhook secrets


def test_webhook_secret_is_whsec_and_base64_of_32_random_bytes(rotation):
    arn = WEBHOOK.create(rotation)
    rotation.rotate(webhook_handler, arn)
    secret = rotation.value(arn, "AWSCURRENT")["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[len("whsec_") :], validate=True)) == 32


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("whsec_" + base64.b64encode(b"x" * 16).decode(), "must carry 32 random bytes"),
        ("whsec_not base64!", "is not base64"),
        ("wh_" + base64.b64encode(b"x" * 32).decode(), "does not start with 'whsec_'"),
    ],
)
def test_test_secret_validates_the_webhook_secret_format(rotation, secret_values, secret, message):
    arn = WEBHOOK.create(rotation)
    token = rotation.start(arn)
    secret_values.add(secret)
    rotation.put_pending(arn, token, {**WEBHOOK.first_value(), "secret": secret})
    with pytest.raises(ValueError, match=message):
        rotation.step(webhook_handler, arn, token, "testSecret")


def verify_webhook(payload, signature, secrets_to_accept):
    """The receiver's check documented in lambdas/README.md: current and previous, constant time."""
    for secret in secrets_to_accept:
        expected = "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return True
    return False


def sign(payload, secret):
    return "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def test_receivers_accepting_current_and_previous_verify_across_a_rotation(rotation):
    arn = WEBHOOK.create(rotation)
    old_secret = rotation.value(arn, "AWSCURRENT")["secret"]
    in_flight = b'{"event": "order.created"}'
    signature_before = sign(in_flight, old_secret)  # sent just before the rotation

    rotation.rotate(webhook_handler, arn)

    accepted = [rotation.value(arn, "AWSCURRENT")["secret"], rotation.value(arn, "AWSPREVIOUS")["secret"]]
    assert verify_webhook(in_flight, signature_before, accepted)
    assert verify_webhook(in_flight, sign(in_flight, accepted[0]), accepted)
    assert not verify_webhook(in_flight, sign(in_flight, "whsec_forged"), accepted)
    rotation.rotate(webhook_handler, arn)  # two rotations later the old secret is retired
    accepted = [rotation.value(arn, "AWSCURRENT")["secret"], rotation.value(arn, "AWSPREVIOUS")["secret"]]
    assert not verify_webhook(in_flight, signature_before, accepted)


def test_readme_documents_the_receiver_check():
    from tests.lambdas.conftest import LAMBDAS_DIR

    readme = (LAMBDAS_DIR / "README.md").read_text()
    assert "hmac.compare_digest" in readme and "AWSPREVIOUS" in readme


# ECS consumers


@pytest.fixture
def ecs_service(rotation):
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="app")
    ecs.register_task_definition(
        family="api", containerDefinitions=[{"name": "api", "image": "api:1", "memory": 256}]
    )
    ecs.create_service(cluster="app", serviceName="api", taskDefinition="api", desiredCount=1)

    def deployment_id():
        return ecs.describe_services(cluster="app", services=["api"])["services"][0]["deployments"][0]["id"]

    return deployment_id


def test_finish_of_the_database_login_forces_a_new_deployment_of_the_consuming_ecs_service(rotation, ecs_service,
                                                                                             aws_calls):
    """The database login is injected at task start: its consuming service is redeployed by finishSecret."""
    arn, token = postgres_secret_ready_to_finish(rotation, {"securestack:ecs-service": "app/api"})
    before = ecs_service()
    rotation.step(postgres_handler, arn, token, "finishSecret")
    assert ecs_service() != before
    assert [p for p in aws_calls.params("UpdateService")] == [
        {"cluster": "app", "service": "api", "forceNewDeployment": True}
    ]
    # AWSPENDING stays on the new AWSCURRENT, so a retry runs the step again and redeploys again: harmless (a rolling
    # deployment), and a retry after a crash between the move and the redeploy must not skip it.
    rotation.step(postgres_handler, arn, token, "finishSecret")
    assert aws_calls.count("UpdateService") == 2


@pytest.mark.parametrize("kind", [API_KEY, WEBHOOK], ids=["api_key", "webhook"])
def test_api_keys_and_webhook_secrets_never_redeploy_even_if_tagged(kind, rotation, ecs_service, aws_calls):
    """Issue 12: callers and signers read AWSCURRENT when they need it; a redeploy would only restart the app."""
    arn = kind.create(rotation, tags={**kind.tags, "securestack:ecs-service": "app/api"})
    before = ecs_service()
    rotation.rotate(kind.handler, arn)
    assert aws_calls.count("UpdateService") == 0
    assert ecs_service() == before


def test_redeployment_failure_is_logged_and_the_rotation_stands(rotation, ecs_service, rotation_log_lines):
    arn, token = postgres_secret_ready_to_finish(rotation, {"securestack:ecs-service": "app/missing-service"})
    old = rotation.value(arn, "AWSCURRENT")
    rotation.step(postgres_handler, arn, token, "finishSecret")
    assert rotation.stages(arn)[token] == FINISHED
    assert rotation.value(arn, "AWSPREVIOUS") == old
    failures = [line for line in rotation_log_lines() if line["level"] == "ERROR"]
    assert [(f["ecs_cluster"], f["ecs_service"], f["error_type"]) for f in failures] == [
        ("app", "missing-service", "ServiceNotFoundException")
    ]


def test_malformed_ecs_service_tag_is_logged_and_the_rotation_stands(rotation, rotation_log_lines):
    arn, token = postgres_secret_ready_to_finish(rotation, {"securestack:ecs-service": "no-slash"})
    rotation.step(postgres_handler, arn, token, "finishSecret")
    assert rotation.stages(arn)[token] == FINISHED
    assert any(line["message"].startswith("consumer tag is malformed") for line in rotation_log_lines())


def test_metadata_reads_only_securestack_tags():
    metadata = SecretMetadata.from_description(
        {"Tags": [{"Key": "securestack:env", "Value": " dev "}, {"Key": "env", "Value": "x"}]}
    )
    assert metadata.get("securestack:env") == "dev"
    assert metadata.get("env") is None


def test_master_secret_arn_tag_spells_bang_as_at_21():
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0abc-XyZ123"
    metadata = SecretMetadata({"securestack:master-secret-arn": arn.replace("!", "@21")})
    assert metadata.master_secret_arn() == arn
    assert SecretMetadata({}).master_secret_arn() is None
    with pytest.raises(ValueError, match="'securestack:master-secret-arn' is missing"):
        SecretMetadata({}).master_secret_arn(required=True)


def test_a_failed_redeployment_raises_the_audit_alarm(rotation, ecs_service, aws_calls, secret_values):
    """Issue 11 item 8: UpdateService fails after AWSCURRENT moved; the rotation stands, and the rotator's log line
    is exactly what the shipped stacks' metric filter on its log group counts (the filter's alarm notifies the
    audit topic: tests/test_rotation_function.py)."""
    from tests.support.stacks import shipped_recording
    from tests.test_audit import compile_pattern

    aws_calls.fail("ecs", "UpdateService", code="AccessDeniedException")
    arn, token = postgres_secret_ready_to_finish(rotation, {"securestack:ecs-service": "app/api"})
    old = rotation.value(arn, "AWSCURRENT")
    rotation.step(postgres_handler, arn, token, "finishSecret")

    assert rotation.stages(arn)[token] == FINISHED and rotation.value(arn, "AWSPREVIOUS") == old
    assert [v for v, stages in rotation.stages(arn).items() if "AWSPENDING" in stages] == [token]  # finished
    lines = [text.split(" ", 2)[2] for name, text in secret_values.lines if name == "securestack.rotation"]
    assert all("\n" not in line for line in lines)  # one CloudWatch Logs event each, JSON as a whole
    events = [json.loads(line) for line in lines]
    [failure] = [event for event in events if event["level"] == "ERROR"]
    assert (failure["outcome"], failure["error_code"], failure["ecs_service"]) == (
        "redeploy-failed", "AccessDeniedException", "api")
    filters = shipped_recording("dev").of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    patterns = {f.inputs["pattern"] for f in filters if f.name.endswith("-redeploy-failures-filter")}
    assert len(patterns) == 1
    counts = compile_pattern(patterns.pop())
    assert [event for event in events if counts(event)] == [failure]  # that line, and no other
