"""Test support for securestack_runtime: the issue-12 record contract written as a rotator would, a fake
clock, per-client call counting and fault injection, and the set of values that must never reach a log."""

import datetime
import hashlib
import json
import uuid

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends

from tests.lambdas.harness import REGION

ENV = "dev"


def sha256_hex(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def iso_z(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_secret_name(name, env=ENV):
    return f"securestack/{env}/api-keys/{name}"


def record_name(name, env=ENV):
    return f"securestack/{env}/api-key-verifiers/{name}"


def key_tags(name, env=ENV, scopes="orders:write orders:read", grace_days=7, extra=None):
    """The tags the stack puts on a key secret (issue 12 contract)."""
    return {
        "securestack:env": env,
        "securestack:name": name,
        "securestack:kind": "api-key",
        "securestack:scopes": scopes,
        "securestack:key-prefix": "sk_test_",
        "securestack:verifier-secret": record_name(name, env),
        "securestack:previous-grace-days": str(grace_days),
        **(extra or {}),
    }


def record_tags(name, env=ENV):
    return {
        "securestack:env": env,
        "securestack:name": name,
        "securestack:kind": "api-key-verifier",
        "securestack:key-secret": key_secret_name(name, env),
    }


def as_tags(tags):
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def record_text(name, scopes, digests, env=ENV):
    """A verifier record; `digests`: [(key, stage, valid_until epoch or None)]."""
    return json.dumps(
        {
            "format": 1,
            "name": name,
            "env": env,
            "scopes": scopes,
            "updatedAt": iso_z(datetime.datetime.now(datetime.timezone.utc).timestamp()),
            "digests": [
                {
                    "sha256": sha256_hex(key),
                    "stage": stage,
                    "versionId": str(uuid.uuid4()),
                    "validUntil": None if until is None else iso_z(until),
                }
                for key, stage, until in digests
            ],
        }
    )


def put_record(client, name, text):
    """As the contract writes a record: PutSecretValue on AWSCURRENT with a fresh token."""
    client.put_secret_value(
        SecretId=record_name(name), SecretString=text, VersionStages=["AWSCURRENT"], ClientRequestToken=str(uuid.uuid4())
    )


def create_key(client, name, scopes=("orders:write",), digests=(), tags=None):
    """A key secret (no value needed: the verifier never reads it) and its verifier record."""
    key_arn = client.create_secret(Name=key_secret_name(name), Tags=as_tags(tags or key_tags(name)))["ARN"]
    client.create_secret(Name=record_name(name), Tags=as_tags(record_tags(name)))
    if digests is not None:
        put_record(client, name, record_text(name, list(scopes), list(digests)))
    return key_arn


def new_key():
    import secrets

    return "sk_test_" + secrets.token_urlsafe(32)


class FakeClock:
    """Epoch seconds that move only when told to (or when the code under test sleeps)."""

    def __init__(self, start=None):
        self.now = datetime.datetime.now(datetime.timezone.utc).timestamp() if start is None else start
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds):
        self.now += seconds


class ClientCalls:
    """Counts the API calls of one client and makes chosen ones fail (ClientError or a network error)."""

    def __init__(self, client):
        self.client = client
        self.calls = []
        self._faults = []
        client.meta.events.register("before-parameter-build.secretsmanager", self._before)

    def count(self, operation=None, secret_id=None):
        return sum(
            1
            for name, params in self.calls
            if operation in (None, name) and secret_id in (None, params.get("SecretId"))
        )

    def fail(self, operation, code="ThrottlingException", times=10**6, network=False):
        fault = {"operation": operation, "code": code, "remaining": times, "network": network}
        self._faults.append(fault)
        return fault

    def heal(self):
        self._faults.clear()

    def _before(self, model, params, **_):
        self.calls.append((model.name, dict(params)))
        for fault in self._faults:
            if fault["operation"] in (None, model.name) and fault["remaining"] > 0:
                fault["remaining"] -= 1
                if fault["network"]:
                    raise EndpointConnectionError(endpoint_url=f"https://secretsmanager.{REGION}.amazonaws.com")
                raise ClientError({"Error": {"Code": fault["code"], "Message": "injected by the test"}}, model.name)


_APP_SESSION = []


def app_client():
    """A new client of the apps' session, never the rotator's default one (whose hooks break or probe the
    rotation functions' calls). Every client has its own event hooks (ClientCalls); one session is shared
    only because building a session's service model costs more than all the calls of a test."""
    if not _APP_SESSION:
        _APP_SESSION.append(boto3.session.Session(region_name=REGION))
    return _APP_SESSION[0].client("secretsmanager")


def every_stored_secret():
    """Every value stored in moto, the key/secret fields inside, their SHA-256 digests and every record digest."""
    found = set()
    for secret in secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets.values():
        for version in secret.versions.values():
            text = version.get("secret_string")
            if not text:
                continue
            found.add(text)
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if not isinstance(value, dict):
                continue
            for field in ("key", "secret", "password"):
                if isinstance(value.get(field), str) and value[field]:
                    found.update({value[field], sha256_hex(value[field])})
            for entry in value.get("digests") or []:
                if isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
                    found.add(entry["sha256"])
    return found
