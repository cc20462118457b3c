"""securestack_runtime.WebhookSigner and WebhookVerifier against moto (versions made by the real webhook rotator)."""

import hashlib
import hmac
import json

import pytest

import securestack_runtime.webhooks as webhooks
import webhook_secret_rotation.handler as webhook_handler
from rotation_common.metadata import SecretMetadata
from securestack_runtime import SecretUnavailableError, WebhookSigner, WebhookVerifier
from tests.runtime.support import ClientCalls, FakeClock, app_client

BODY = b'{"event":"order.paid","id":"ord_1"}'
DAY = 86400


def webhook_tags(grace_days="7"):
    tags = {"securestack:env": "dev", "securestack:name": "orders-endpoint", "securestack:kind": "webhook-secret"}
    if grace_days is not None:
        tags["securestack:previous-grace-days"] = grace_days
    return tags


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def app(aws):
    return ClientCalls(app_client())


@pytest.fixture
def webhook(rotation):
    """A webhook signing secret with a first value from the real rotator."""
    return make_webhook(rotation)


def make_webhook(rotation, grace_days="7"):
    tags = webhook_tags(grace_days)
    value = webhook_handler.ROTATOR.new_value(SecretMetadata(tags), None)
    return rotation.create_secret("securestack/dev/webhooks/orders-endpoint", tags, value)


def secret_of(rotation, arn, stage):
    return rotation.value(arn, stage)["secret"].encode()


def signature(secret, body=BODY):
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def receiver(app, clock, arn, refresh=60, **options):
    return WebhookVerifier(arn, client=app.client, refresh_seconds=refresh, clock=clock, sleep=clock.sleep, **options)


def rotate(rotation, arn):
    rotation.rotate(webhook_handler, arn)


# signing


def test_signature_is_sha256_hmac_of_the_raw_body_with_awscurrent(rotation, webhook, app, clock):
    signer = WebhookSigner(webhook, client=app.client, clock=clock, sleep=clock.sleep)
    assert signer.sign(BODY) == signature(secret_of(rotation, webhook, "AWSCURRENT"))
    assert signer.sign(bytearray(BODY)) == signer.sign(memoryview(BODY))
    assert [params["VersionStage"] for op, params in app.calls if op == "GetSecretValue"] == ["AWSCURRENT"]


def test_receiver_accepts_the_signers_signature_and_refuses_a_tampered_body(webhook, app, clock):
    signer = WebhookSigner(webhook, client=app_client())
    verifier = receiver(app, clock, webhook)
    assert verifier.verify(BODY, signer.sign(BODY)) is True
    assert verifier.verify(BODY + b" ", signer.sign(BODY)) is False


@pytest.mark.parametrize(
    "presented",
    [None, "", "sha256=", "sha1=" + "0" * 40, "SHA256=" + "0" * 64, "sha256=" + "0" * 63, "sha256=" + "g" * 64, 7],
    ids=["none", "empty", "no-digest", "sha1", "upper-prefix", "short", "not-hex", "int"],
)
def test_malformed_signature_is_refused_without_any_aws_call(webhook, app, clock, presented):
    assert receiver(app, clock, webhook).verify(BODY, presented) is False
    assert app.count() == 0


@pytest.mark.parametrize("payload", ["text body", None, {"a": 1}], ids=["str", "none", "dict"])
def test_payload_must_be_the_raw_body_as_bytes(webhook, app, clock, payload):
    with pytest.raises(TypeError, match="raw request body as bytes"):
        WebhookSigner(webhook, client=app.client).sign(payload)
    with pytest.raises(TypeError, match="raw request body as bytes"):
        receiver(app, clock, webhook).verify(payload, "sha256=" + "0" * 64)


# what a receiver accepts across a rotation


def test_pending_is_accepted_once_it_has_a_value_and_a_valueless_pending_is_ignored(rotation, webhook, app, clock, captured_logs):
    verifier = receiver(app, clock, webhook, refresh=5)
    token = rotation.start(webhook)  # RotateSecret's AWSPENDING version, no value yet
    clock.advance(6)
    assert verifier.verify(BODY, signature(secret_of(rotation, webhook, "AWSCURRENT")))
    rotation.step(webhook_handler, webhook, token, "createSecret")
    pending = secret_of(rotation, webhook, "AWSPENDING")
    assert verifier.verify(BODY, signature(pending))  # by the miss reload
    assert captured_logs.runtime_lines() == []


def test_previous_is_accepted_for_its_grace_days_from_the_current_versions_creation(rotation, webhook, app, clock):
    old = secret_of(rotation, webhook, "AWSCURRENT")
    verifier = receiver(app, clock, webhook)
    assert verifier.verify(BODY, signature(old))
    rotate(rotation, webhook)
    new = secret_of(rotation, webhook, "AWSCURRENT")
    assert verifier.verify(BODY, signature(new)) and verifier.verify(BODY, signature(old))
    clock.advance(7 * DAY - 120)
    assert verifier.verify(BODY, signature(old))
    clock.advance(240)
    assert not verifier.verify(BODY, signature(old))
    assert verifier.verify(BODY, signature(new))


def test_grace_zero_refuses_previous_as_soon_as_the_new_value_is_current(rotation, app, clock):
    arn = make_webhook(rotation, grace_days="0")
    old = secret_of(rotation, arn, "AWSCURRENT")
    verifier = receiver(app, clock, arn)
    assert verifier.verify(BODY, signature(old))
    rotate(rotation, arn)
    assert verifier.verify(BODY, signature(secret_of(rotation, arn, "AWSCURRENT")))  # miss reload
    assert not verifier.verify(BODY, signature(old))


def test_missing_grace_tag_means_the_stacks_default_of_7_days(rotation, app, clock):
    arn = make_webhook(rotation, grace_days=None)
    old = secret_of(rotation, arn, "AWSCURRENT")
    rotate(rotation, arn)
    verifier = receiver(app, clock, arn)
    assert verifier.verify(BODY, signature(old))
    clock.advance(7 * DAY + 60)
    assert not verifier.verify(BODY, signature(old))


def test_a_removed_previous_stage_is_refused_within_refresh_seconds(rotation, webhook, app, clock, admin):
    old = secret_of(rotation, webhook, "AWSCURRENT")
    rotate(rotation, webhook)
    verifier = receiver(app, clock, webhook, refresh=10)
    assert verifier.verify(BODY, signature(old))
    previous = next(v for v, stages in rotation.stages(webhook).items() if "AWSPREVIOUS" in stages)
    admin.update_secret_version_stage(SecretId=webhook, VersionStage="AWSPREVIOUS", RemoveFromVersionId=previous)
    clock.advance(10)
    assert not verifier.verify(BODY, signature(old))


# AWS calls at steady state


def test_steady_state_calls_one_api_per_refresh(rotation, webhook, app, clock):
    signer = WebhookSigner(webhook, client=app.client, refresh_seconds=60, clock=clock, sleep=clock.sleep)
    receiver_calls = ClientCalls(app_client())
    verifier = receiver(receiver_calls, clock, webhook)
    for _ in range(600):  # 10 minutes, one webhook a second
        assert verifier.verify(BODY, signer.sign(BODY))
        clock.advance(1)
    assert app.count() == app.count("GetSecretValue") == 10
    assert receiver_calls.count("DescribeSecret") == 10
    assert receiver_calls.count() - receiver_calls.count("DescribeSecret") == 1  # the value, read once (no previous yet)

    rotate(rotation, webhook)
    before = receiver_calls.count()
    clock.advance(60)
    assert verifier.verify(BODY, signer.sign(BODY))
    # the new version's value (the old one, now AWSPREVIOUS, is cached by VersionId) and its CreatedDate
    assert [op for op, _ in receiver_calls.calls[before:]] == ["DescribeSecret", "GetSecretValue", "ListSecretVersionIds"]
    assert all("VersionStage" in params and "VersionId" in params for op, params in receiver_calls.calls if op == "GetSecretValue")


# failures


def test_receiver_keeps_its_last_good_set_when_aws_fails_and_logs_once(rotation, webhook, app, clock, captured_logs):
    old = secret_of(rotation, webhook, "AWSCURRENT")
    verifier = receiver(app, clock, webhook, refresh=5)
    assert verifier.verify(BODY, signature(old))
    rotate(rotation, webhook)
    new = secret_of(rotation, webhook, "AWSCURRENT")
    app.fail("DescribeSecret", code="ThrottlingException")
    for _ in range(10):
        clock.advance(6)
        assert verifier.verify(BODY, signature(old))
        assert not verifier.verify(BODY, signature(new))  # never loaded: never accepted
    assert captured_logs.runtime_lines() == [
        "securestack.runtime WARNING WebhookVerifier: cannot load " + webhook
        + " (aws-error ThrottlingException); keeping the last good set"
    ]
    app.heal()
    clock.advance(6)
    assert verifier.verify(BODY, signature(new))


def test_a_stage_that_moved_between_describe_and_read_is_read_again_without_a_failure(rotation, webhook, app, clock,
                                                                                      captured_logs):
    token = rotation.start(webhook)
    rotation.step(webhook_handler, webhook, token, "createSecret")
    real_describe = app.client.describe_secret

    def describe_then_rotation_finishes(**request):
        description = real_describe(**request)  # AWSPENDING still on the token...
        for step in ("setSecret", "testSecret", "finishSecret"):  # ...which is AWSCURRENT by the time it is read
            rotation.step(webhook_handler, webhook, token, step)
        app.client.describe_secret = real_describe
        return description

    app.client.describe_secret = describe_then_rotation_finishes
    verifier = receiver(app, clock, webhook)
    assert verifier.refresh() is True
    assert verifier.verify(BODY, signature(secret_of(rotation, webhook, "AWSCURRENT")))
    assert captured_logs.runtime_lines() == []


@pytest.mark.parametrize("grace", ["31", "-1", "seven", ""], ids=["too-long", "negative", "word", "empty"])
def test_malformed_grace_tag_keeps_the_last_good_set(rotation, webhook, app, clock, admin, captured_logs, grace):
    old = secret_of(rotation, webhook, "AWSCURRENT")
    verifier = receiver(app, clock, webhook, refresh=5)
    assert verifier.verify(BODY, signature(old))
    admin.tag_resource(SecretId=webhook, Tags=[{"Key": "securestack:previous-grace-days", "Value": grace}])
    rotate(rotation, webhook)
    clock.advance(6)
    assert verifier.verify(BODY, signature(old))
    assert not verifier.verify(BODY, signature(secret_of(rotation, webhook, "AWSCURRENT")))
    assert "(malformed tag 'securestack:previous-grace-days' is not a whole number of days 0..30)" in captured_logs.runtime_lines()[0]


def test_malformed_value_at_first_load_accepts_nothing(rotation, app, clock, captured_logs):
    arn = rotation.create_secret("securestack/dev/webhooks/broken", webhook_tags(), "not json")
    assert not receiver(app, clock, arn).verify(BODY, signature(b"not json"))
    assert "(malformed AWSCURRENT value is not JSON)" in captured_logs.runtime_lines()[0]
    with pytest.raises(SecretUnavailableError, match=r"securestack/dev/webhooks/broken-\w+ could not be loaded"):
        WebhookSigner(arn, client=app.client).sign(BODY)


def test_signer_keeps_signing_with_its_last_good_secret_when_aws_fails(rotation, webhook, app, clock, captured_logs):
    signer = WebhookSigner(webhook, client=app.client, refresh_seconds=5, clock=clock, sleep=clock.sleep)
    first = signer.sign(BODY)
    app.fail("GetSecretValue", network=True)
    clock.advance(6)
    assert signer.sign(BODY) == first
    clock.advance(6)
    assert signer.sign(BODY) == first
    assert len(captured_logs.runtime_lines()) == 1
    assert "(aws-unreachable EndpointConnectionError)" in captured_logs.runtime_lines()[0]


def test_signer_that_never_loaded_raises_naming_the_secret(webhook, app, clock):
    app.fail("GetSecretValue", code="AccessDeniedException")
    signer = WebhookSigner(webhook, client=app.client, clock=clock, sleep=clock.sleep)
    with pytest.raises(SecretUnavailableError, match="could not be loaded"):
        signer.sign(BODY)
    app.heal()
    clock.advance(3)
    assert signer.sign(BODY).startswith("sha256=")


# constant time, construction


def test_every_candidate_is_compared_even_when_the_first_matches(rotation, webhook, app, clock, monkeypatch):
    rotate(rotation, webhook)
    token = rotation.start(webhook)
    rotation.step(webhook_handler, webhook, token, "createSecret")  # current, pending and previous
    verifier = receiver(app, clock, webhook)
    verifier.refresh()
    compared = []
    real = webhooks.hmac.compare_digest
    monkeypatch.setattr(webhooks.hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    assert verifier.verify(BODY, signature(secret_of(rotation, webhook, "AWSCURRENT")))
    assert len(compared) == 3


def test_signer_from_environment_reads_the_stacks_json_object(webhook, app):
    environ = {"SECURESTACK_WEBHOOK_SECRETS": json.dumps({"orders-endpoint": webhook})}
    assert WebhookSigner.from_environment("orders-endpoint", environ, client=app.client).sign(BODY).startswith("sha256=")
    with pytest.raises(ValueError, match="has no webhook 'refunds'"):
        WebhookSigner.from_environment("refunds", environ, client=app.client)


def test_verifier_of_a_vendor_webhook_from_environment_across_the_operators_rollover(rotation, app, clock, admin):
    """Issue 15: the app verifies a vendor's webhooks (SECURESTACK_VENDOR_WEBHOOK_SECRETS) with the value an operator
    staged and promoted (contract 15's value JSON), accepting the previous one for its grace after a promote."""
    tags = {**webhook_tags("2"), "securestack:name": "barecommerce-orders", "securestack:issuer": "vendor",
            "securestack:vendor": "barecommerce"}

    def value(secret):
        return json.dumps({"secret": secret, "env": "dev", "name": "barecommerce-orders", "vendor": "barecommerce"})
    arn = rotation.create_secret("securestack/dev/webhooks/barecommerce-orders", tags, value("whsec_first"),
                                 rotation=False)
    environ = {"SECURESTACK_VENDOR_WEBHOOK_SECRETS": json.dumps({"barecommerce-orders": arn})}
    verifier = WebhookVerifier.from_environment("barecommerce-orders", environ,
                                                variable="SECURESTACK_VENDOR_WEBHOOK_SECRETS", client=app.client,
                                                refresh_seconds=60, clock=clock, sleep=clock.sleep)
    assert verifier.verify(BODY, signature(b"whsec_first"))
    # stage: the vendor's new secret as AWSPENDING only (the vendor may already sign with it)
    token = "11111111-2222-3333-4444-555555555555"
    admin.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=value("whsec_second"),
                           VersionStages=["AWSPENDING"])
    clock.advance(61)
    assert verifier.verify(BODY, signature(b"whsec_second")) and verifier.verify(BODY, signature(b"whsec_first"))
    # promote: AWSCURRENT moves to it (AWSPREVIOUS to the first), AWSPENDING leaves it
    current = next(v for v, stages in admin.describe_secret(SecretId=arn)["VersionIdsToStages"].items()
                   if "AWSCURRENT" in stages)
    admin.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                      RemoveFromVersionId=current)
    admin.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=token)
    clock.advance(61)
    assert verifier.verify(BODY, signature(b"whsec_second")) and verifier.verify(BODY, signature(b"whsec_first"))
    assert not verifier.verify(BODY, signature(b"whsec_never_issued"))
    with pytest.raises(ValueError, match="SECURESTACK_VENDOR_WEBHOOK_SECRETS has no webhook 'refunds'"):
        WebhookVerifier.from_environment("refunds", environ, variable="SECURESTACK_VENDOR_WEBHOOK_SECRETS",
                                         client=app.client)


@pytest.mark.parametrize("secret_id", ["", None, 3], ids=["empty", "none", "int"])
def test_secret_id_must_be_given(aws, secret_id):
    with pytest.raises(ValueError, match="secret_id must be"):
        WebhookVerifier(secret_id, client=app_client())
    with pytest.raises(ValueError, match="secret_id must be"):
        WebhookSigner(secret_id, client=app_client())
