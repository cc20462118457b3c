"""SecretReadiness's provider (components/secret_readiness.py) against moto, with the real webhook rotator doing
the rotation it starts: issue 11 items 6 (`pulumi up` waits for a value) and 10 (only the first rotation is
immediate). It lives beside the rotators' tests for their harness: Secrets Manager's side of a rotation on moto.

moto's RotateSecret would invoke the function through Docker; here it is replaced by what AWS does before it
returns (attach AWSPENDING to a new, empty version), and the four steps run later, while the provider polls:
rotation is asynchronous.
"""

import base64
import subprocess
import sys
import uuid

import dill
import pytest
from moto.secretsmanager.models import SecretsManagerBackend

import webhook_secret_rotation.handler as webhook_handler
from securestack.components.secret_readiness import SecretNotReady, SecretReadinessProvider
from pulumi.dynamic.dynamic import serialize_provider
from tests.lambdas.harness import FINISHED, ROTATION_LAMBDA_ARN, patch_moto_first_value

TAGS = {"securestack:env": "dev", "securestack:name": "order-events", "securestack:kind": "webhook-secret"}
ALLOWED = {"DescribeSecret", "RotateSecret"}


class AsyncRotation:
    """Secrets Manager's RotateSecret: AWSPENDING at once, the function's steps `after_polls` DescribeSecrets later."""

    def __init__(self, rotation, after_polls):
        self.rotation, self.after_polls = rotation, after_polls
        self.started, self.pending = [], None

    def rotate_secret(self, backend, secret_id, **_):
        secret = backend.secrets[secret_id]
        if any("AWSPENDING" in v["version_stages"] and "AWSCURRENT" not in v["version_stages"]
               for v in secret.versions.values()):
            from moto.secretsmanager.exceptions import InvalidRequestException
            raise InvalidRequestException("A previous rotation isn't complete. That rotation will be reattempted.")
        self.started.append(secret_id)
        self.pending = self.rotation.start(secret_id)
        return secret.to_short_dict(version_id=self.pending)

    def on_poll(self, polls):
        if self.pending and polls == self.after_polls:
            self.rotation.rotate(webhook_handler, self.started[-1], token=self.pending)


@pytest.fixture
def provider(monkeypatch):
    """The provider with a fast poll; every call of its own client recorded (and the client's guard kept)."""
    provider = SecretReadinessProvider(poll_seconds=0.01)
    provider.calls = []
    provider.on_poll = lambda polls: None
    build = provider.client

    def recorded_client(region):
        client = build(region)

        def record(model, **_):
            provider.calls.append(model.name)

        def after_describe(**_):
            provider.on_poll(provider.calls.count("DescribeSecret"))

        client.meta.events.register("before-call.secretsmanager", record)
        client.meta.events.register("after-call.secretsmanager.DescribeSecret", after_describe)
        return client

    monkeypatch.setattr(provider, "client", recorded_client)
    return provider


def rotating(monkeypatch, rotation, provider, after_polls):
    service = AsyncRotation(rotation, after_polls)
    monkeypatch.setattr(SecretsManagerBackend, "rotate_secret",
                        lambda self, secret_id, **kw: service.rotate_secret(self, secret_id, **kw))
    provider.on_poll = service.on_poll
    return service


def props(arn, timeout=30):
    return {"secretArn": arn, "rotationLambdaArn": ROTATION_LAMBDA_ARN, "rotationDays": 90, "timeoutSeconds": timeout}


def test_a_new_secret_gets_its_first_rotation_and_up_waits_for_its_value(rotation, provider, monkeypatch):
    patch_moto_first_value(monkeypatch, first_value_becomes_current=False)
    arn = rotation.create_secret("order-events", TAGS)
    service = rotating(monkeypatch, rotation, provider, after_polls=4)

    result = provider.create(props(arn))

    assert service.started == [arn]  # exactly one rotation, started by the provider
    assert provider.calls.count("DescribeSecret") >= 5  # it kept polling while the steps had not run
    [(version, stages)] = rotation.stages(arn).items()
    assert stages == FINISHED and version == service.pending  # a value; AWSPENDING only on AWSCURRENT
    assert result.id == arn and result.outs["firstRotationStarted"] is True


def test_a_secret_with_a_value_is_never_rotated_again(rotation, provider, monkeypatch):
    """Item 10: an update (new schedule, new rotator) checks, never rotates."""
    arn = rotation.create_secret("order-events", TAGS, value=webhook_handler.ROTATOR.new_value(_metadata(), None))
    service = rotating(monkeypatch, rotation, provider, after_polls=1)
    before = rotation.snapshot(arn)

    result = provider.update(arn, props(arn), {**props(arn), "rotationDays": 30})

    assert service.started == [] and "RotateSecret" not in provider.calls
    assert rotation.snapshot(arn) == before and result.outs["firstRotationStarted"] is False


def test_the_check_waits_out_a_transient_pending_version(rotation, provider, monkeypatch):
    """The testSecret run Secrets Manager makes after a rotation settings change leaves AWSPENDING for a while."""
    arn = rotation.create_secret("order-events", TAGS, value=webhook_handler.ROTATOR.new_value(_metadata(), None))
    token = rotation.start(arn)
    provider.on_poll = lambda polls: polls == 3 and rotation.client.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=token)

    provider.update(arn, props(arn), props(arn))

    assert provider.calls.count("DescribeSecret") == 4 and "RotateSecret" not in provider.calls
    assert all("AWSPENDING" not in stages for stages in rotation.stages(arn).values())


def test_a_rotation_that_never_finishes_fails_the_deploy_naming_the_secret(rotation, provider, monkeypatch):
    arn = rotation.create_secret("order-events", TAGS)
    service = rotating(monkeypatch, rotation, provider, after_polls=0)  # the rotator never runs

    with pytest.raises(SecretNotReady) as raised:
        provider.create(props(arn, timeout=1.0))

    message = str(raised.value)
    assert message.startswith("secret order-events has no AWSCURRENT value after 1.0 s")
    assert f"AWSPENDING is still on version {service.pending}" in message
    assert "/aws/lambda/securestack-rotator" in message  # where to look
    assert service.started == [arn]


def test_the_provider_never_reads_a_value(rotation, provider, monkeypatch):
    patch_moto_first_value(monkeypatch, first_value_becomes_current=True)
    arn = rotation.create_secret("order-events", TAGS)
    rotating(monkeypatch, rotation, provider, after_polls=2)
    provider.create(props(arn))
    provider.update(arn, props(arn), props(arn))
    assert set(provider.calls) == ALLOWED
    # And its client cannot: refused before any request is built.
    with pytest.raises(PermissionError, match="never calls GetSecretValue"):
        SecretReadinessProvider().client("eu-west-1").get_secret_value(SecretId=arn)


def test_diff_checks_again_only_when_what_it_checks_changed():
    provider, old = SecretReadinessProvider(), props("arn:aws:secretsmanager:eu-west-1:123456789012:secret:x")
    assert provider.diff("id", old, {**old, "__provider": "other code"}).changes is False
    for key, value in (("rotationDays", 30), ("rotationLambdaArn", "arn:other"), ("secretArn", "arn:y")):
        result = provider.diff("id", old, {**old, key: value})
        assert result.changes is True and not result.replaces


def test_serialized_provider_is_code_only_and_loads_without_this_repository(tmp_path, monkeypatch):
    """What `__provider` carries into state: no credentials, no client; and the dynamic-provider process, which
    has the venv but not this repository on its path, can load it."""
    access_key, secret_key = "AKIA" + uuid.uuid4().hex[:16].upper(), uuid.uuid4().hex
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    provider = SecretReadinessProvider()
    provider.client("eu-west-1")  # a client built before serializing must leave nothing behind
    serialized = serialize_provider(provider)
    raw = base64.b64decode(serialized)
    assert access_key.encode() not in raw and secret_key.encode() not in raw
    assert b"botocore.client" not in raw and len(raw) < 20_000
    assert serialized == serialize_provider(SecretReadinessProvider())  # deterministic: no diff on every up
    assert dill.loads(raw).poll_seconds == provider.poll_seconds
    (tmp_path / "provider.b64").write_text(serialized)
    loader = ("import base64, dill, sys; p = dill.loads(base64.b64decode(open('provider.b64').read())); "
              "assert not [m for m in sys.modules if m.split('.')[0] in ('components', 'infra', 'tests')]; "
              "print(type(p).__name__, sorted(p.diff('i', {'secretArn': 'a'}, {'secretArn': 'b'}).__dict__))")
    # -I: no current directory, PYTHONPATH or user site on sys.path, as in a process started elsewhere.
    loaded = subprocess.run([sys.executable, "-I", "-c", loader], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.startswith("SecretReadinessProvider")


VENDOR_TAGS = {"securestack:env": "dev", "securestack:name": "stackbe", "securestack:kind": "api-key",
               "securestack:issuer": "vendor", "securestack:vendor": "stackbe"}
STAGE, PROMOTE = ".venv/bin/python -m infra.secrets stage dev stackbe", ".venv/bin/python -m infra.secrets promote dev stackbe"


def vendor_props(arn):
    """A vendor-issued secret's check: no rotation function (components/vendor_secrets.py)."""
    return {"secretArn": arn, "rotationLambdaArn": None, "rotationDays": 90, "timeoutSeconds": 600}


def test_a_vendor_secret_without_a_value_fails_at_once_naming_the_operator_commands(rotation, provider, monkeypatch):
    arn = rotation.create_secret("securestack/dev/api-keys/stackbe", VENDOR_TAGS, rotation=False)
    service = rotating(monkeypatch, rotation, provider, after_polls=1)

    with pytest.raises(SecretNotReady) as raised:
        provider.create(vendor_props(arn))

    message = str(raised.value)
    assert provider.calls == ["DescribeSecret"]  # checked once: only an operator can give it a value
    assert service.started == [] and rotation.stages(arn) == {}  # never rotated, nothing changed
    assert message.startswith("secret securestack/dev/api-keys/stackbe has no AWSCURRENT value (issued by stackbe")
    assert f"`{STAGE}`" in message and f"`{PROMOTE}`" in message and message.endswith("`pulumi up` again")
    assert "\n" not in message


def test_a_first_staged_vendor_value_is_already_current(rotation, provider, monkeypatch):
    """AWS (PutSecretValue): "If this operation creates the first version for the secret, then Secrets Manager
    automatically attaches the staging label AWSCURRENT to it", whatever VersionStages says; moto does the same."""
    arn = rotation.create_secret("securestack/dev/api-keys/stackbe", VENDOR_TAGS, rotation=False)
    rotation.put_pending(arn, str(uuid.uuid4()), {"key": "sk_test_staged"})
    rotating(monkeypatch, rotation, provider, after_polls=1)

    assert provider.create(vendor_props(arn)).outs["firstRotationStarted"] is False
    assert provider.calls == ["DescribeSecret"]


def test_a_promoted_vendor_secret_is_ready_and_never_rotated(rotation, provider, monkeypatch):
    arn = rotation.create_secret("securestack/dev/api-keys/stackbe", VENDOR_TAGS, rotation=False,
                                 value={"key": "sk_test_promoted", "env": "dev", "name": "stackbe",
                                        "vendor": "stackbe"})
    token = str(uuid.uuid4())
    rotation.put_pending(arn, token, {"key": "sk_test_next"})  # the next value staged: still ready
    service = rotating(monkeypatch, rotation, provider, after_polls=1)
    before = rotation.snapshot(arn)

    result = provider.create(vendor_props(arn))

    assert result.id == arn and result.outs["firstRotationStarted"] is False
    assert provider.calls == ["DescribeSecret"] and service.started == [] and rotation.snapshot(arn) == before


def _metadata():
    from rotation_common.metadata import SecretMetadata

    return SecretMetadata(TAGS)
