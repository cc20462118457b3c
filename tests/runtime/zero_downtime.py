"""The zero-downtime scenario of issue 12, shared by its test (tests/runtime/test_zero_downtime.py) and the
benchmark (bench/rotation.py).

Secrets Manager's side of each rotation is played as it drives a rotation function (RotateSecret attaches
AWSPENDING to a new version, then createSecret, setSecret, testSecret, finishSecret are invoked in order with
that version's id; a failed step is invoked again with the same token), around the REAL rotation handlers
(lambdas/api_key_rotation, lambdas/webhook_secret_rotation) on moto. The app (ApiKeyVerifier, WebhookSigner) and
webhook receivers (WebhookVerifier) are the real library, each with its own boto3 session, so no cache is shared.

Time is simulated (FakeClock) and the loop single-threaded: ticks of TICK seconds, every caller makes one request
per tick, and after EVERY Secrets Manager call the rotator makes (a botocore after-call hook on the rotator's
session) every caller makes one more: each intermediate state a rotation passes through is requested against,
not only the states between steps. The judge of a refusal is Secrets Manager itself (`World.valid_keys`, read
from moto's backend without API calls): a caller holding AWSCURRENT, AWSPREVIOUS (not revoked) or an AWSPENDING
whose createSecret completed must never be refused; what a verifier accepts is only ever bounded by what the
verifier record accepted, up to refresh_seconds after the record dropped it.
"""

import hashlib
import hmac
import json
import math
import secrets
import time
import uuid
from dataclasses import dataclass, field

import boto3

import api_key_rotation.handler as api_key_handler
import webhook_secret_rotation.handler as webhook_handler
from rotation_common.metadata import SecretMetadata
from securestack_runtime import ApiKeyVerifier, WebhookSigner, WebhookVerifier
from securestack_runtime.records import parse_record
from tests.lambdas.harness import STEPS, moto_secret
from tests.runtime.support import FakeClock, app_client, key_secret_name, key_tags, record_name, record_tags

KEY_NAME = "checkout"
SCOPE = "orders:write"
WEBHOOK_NAME = "orders-endpoint"
GRACE_DAYS = 7
TICK = 0.05  # one request per caller per tick: 20 requests a second each
IDLE = 1.5  # seconds between two rotations of one secret
MISS_RELOAD_SECONDS = 1.0
REVOKE_TAG = "securestack:revoke-previous"


@dataclass
class Figures:
    requests: int = 0  # verify calls on behalf of a caller holding a key it read
    accepted: int = 0
    refusals: int = 0  # of a key Secrets Manager says is valid: must stay 0
    refusals_of_superseded: int = 0  # a key two rotations old, or revoked: expected, the caller re-reads
    late_acceptance: dict = field(default_factory=dict)  # verifier -> max seconds accepted after the record dropped
    webhooks: int = 0
    webhook_failures: int = 0
    rotations: dict = field(default_factory=dict)
    verify_seconds: list = field(default_factory=list)  # wall time of each verify (moto calls included)
    revoked_refused_after: dict = field(default_factory=dict)  # verifier -> seconds from record drop to refusal
    refused_callers: dict = field(default_factory=dict)

    def percentile(self, fraction):
        ordered = sorted(self.verify_seconds)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else math.nan


class World:
    """moto's Secrets Manager with a key, its verifier record and a webhook secret; the truth about which
    values are valid, read from moto's backend (no API call, so it changes nothing it judges)."""

    def __init__(self, rotation, clock):
        self.rotation, self.clock = rotation, clock
        self.admin = rotation.client
        self.set_done = set()  # tokens whose createSecret returned: their key is published
        self.revoked_versions = set()  # key versions a revoke-previous rotation replaced
        self.dropped_at = {}  # key -> when the record stopped accepting it
        self.ever_in_record = set()
        self._accepted_by_record = set()
        self.key_arn = self.webhook_arn = None
        self.probes = []  # called after every Secrets Manager call of the rotator

    # setup

    def create_secrets(self):
        tags = key_tags(KEY_NAME, scopes=SCOPE, grace_days=GRACE_DAYS)
        self.key_arn = self.rotation.create_secret(key_secret_name(KEY_NAME), tags)  # no value, as the stack makes it
        self.rotation.create_secret(record_name(KEY_NAME), record_tags(KEY_NAME), rotation=False)
        webhook_tags = {
            "securestack:env": "dev", "securestack:name": WEBHOOK_NAME, "securestack:kind": "webhook-secret",
            "securestack:previous-grace-days": str(GRACE_DAYS),
        }
        first = webhook_handler.ROTATOR.new_value(SecretMetadata(webhook_tags), None)
        self.webhook_arn = self.rotation.create_secret(f"securestack/dev/webhooks/{WEBHOOK_NAME}", webhook_tags, first)

    def hook_rotator_calls(self):
        """Every later client of the default session (the rotation functions') calls the probes after each call."""
        boto3.DEFAULT_SESSION.events.register("after-call.secretsmanager", self._after_rotator_call)

    def _after_rotator_call(self, **_):
        for probe in self.probes:
            probe()

    # truth

    def key_versions(self):
        return moto_secret(self.key_arn).versions

    def valid_keys(self):
        """The keys a caller may legitimately hold now."""
        valid = set()
        for version_id, version in self.key_versions().items():
            text, stages = version.get("secret_string"), version["version_stages"]
            if not text:
                continue
            if (
                "AWSCURRENT" in stages
                or ("AWSPENDING" in stages and version_id in self.set_done)
                or ("AWSPREVIOUS" in stages and version_id not in self.revoked_versions)
            ):
                valid.add(json.loads(text)["key"])
        return valid

    def record_accepted_keys(self):
        """Keys of any version that the record's AWSCURRENT accepts now; notes when one is dropped."""
        record = moto_secret(record_name(KEY_NAME))
        text = next((v.get("secret_string") for v in record.versions.values() if "AWSCURRENT" in v["version_stages"]), None)
        accepted = set()
        if text:
            parsed = parse_record(text, "dev", KEY_NAME)
            digests = {entry.digest for entry in parsed.entries
                       if entry.valid_until is None or entry.valid_until > self.clock()}
            for version in self.key_versions().values():
                if version.get("secret_string"):
                    key = json.loads(version["secret_string"])["key"]
                    if hashlib.sha256(key.encode()).digest() in digests:
                        accepted.add(key)
        for key in self._accepted_by_record - accepted:
            self.dropped_at.setdefault(key, self.clock())
        self.ever_in_record |= accepted
        self._accepted_by_record = accepted
        return accepted

    def value(self, arn, stage):
        return json.loads(self.admin.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"])

    def version_with(self, arn, stage):
        stages = self.admin.describe_secret(SecretId=arn).get("VersionIdsToStages", {})
        return next((version for version, labels in stages.items() if stage in labels), None)


class Caller:
    """A service holding the key, re-reading AWSCURRENT on its own schedule, with its own client."""

    def __init__(self, name, world, schedule, period=None):
        self.name, self.world, self.schedule, self.period = name, world, schedule, period
        self.client = app_client()
        self.key = None
        self.read_at = -math.inf

    def refresh_if_due(self):
        now = self.world.clock()
        if self.schedule == "switches-first":
            pending = [v for v, version in self.world.key_versions().items()
                       if "AWSPENDING" in version["version_stages"] and v in self.world.set_done]
            # The earliest a caller can switch: to the pending key the moment createSecret has published it (the test
            # knows when; a real caller would only ever switch later, on reading the new AWSCURRENT).
            if pending:
                self._read("AWSPENDING", pending[0])
                return
        if (
            self.key is None
            or self.schedule == "every-request"
            or (self.schedule in ("every-few-seconds", "switches-first") and now - self.read_at >= self.period)
        ):
            self._read("AWSCURRENT")

    def reread(self):
        self._read("AWSCURRENT")

    def _read(self, stage, version_id=None):
        request = {"SecretId": self.world.key_arn, "VersionStage": stage}
        if version_id:
            request["VersionId"] = version_id
        self.key = json.loads(self.client.get_secret_value(**request)["SecretString"])["key"]
        self.read_at = self.world.clock()


class Scenario:
    """The app's verifiers, the callers, a webhook signer and receivers, all driven by one simulated clock."""

    def __init__(self, rotation, clock=None, refresh_seconds=(5, 60), tick=TICK):
        self.clock = clock or FakeClock()
        self.tick = tick
        self.world = World(rotation, self.clock)
        self.figures = Figures()
        self.refresh_seconds = refresh_seconds
        self.verifiers = []
        self.callers = []
        self.probing = False
        self.revoked_key = None

    def start(self):
        world = self.world
        world.create_secrets()
        world.hook_rotator_calls()
        world.probes.append(self._probe)
        for refresh in self.refresh_seconds:  # app tasks started before the key's first value exists
            client = app_client()
            calls = _CallCount(client)
            verifier = ApiKeyVerifier([world.key_arn], client=client, refresh_seconds=refresh,
                                      miss_reload_seconds=MISS_RELOAD_SECONDS, clock=self.clock, sleep=self.clock.sleep)
            assert verifier.verify("sk_test_" + secrets.token_urlsafe(32)) is None  # loads the empty record
            self.verifiers.append((f"refresh={refresh}s", verifier, calls))
        self.rotate_key(gap=0)  # the stack's first rotation (bootstrap)
        self.callers = [
            Caller("every-request", world, "every-request"),
            Caller("every-3s", world, "every-few-seconds", period=3),
            Caller("on-refusal", world, "on-refusal"),
            Caller("switches-first", world, "switches-first", period=1),
        ]
        self.signer = WebhookSigner(world.webhook_arn, client=app_client(), refresh_seconds=self.refresh_seconds[0],
                                    clock=self.clock, sleep=self.clock.sleep)
        self.receivers = [
            WebhookVerifier(world.webhook_arn, client=app_client(), refresh_seconds=refresh,
                            miss_reload_seconds=MISS_RELOAD_SECONDS, clock=self.clock, sleep=self.clock.sleep)
            for refresh in self.refresh_seconds
        ]
        self.eager_signer_client = app_client()
        self.probing = True

    # one round of traffic

    def _probe(self):
        if self.probing:
            self.traffic()

    def traffic(self):
        for caller in self.callers:
            self.request(caller)
        self.webhook_round()
        self.probe_revoked_key()

    def request(self, caller):
        caller.refresh_if_due()
        refused = self._verify_everywhere(caller)
        if refused and caller.schedule == "on-refusal":
            caller.reread()  # its only reason to read: then the retry must pass
            self._verify_everywhere(caller)

    def _verify_everywhere(self, caller):
        world, figures = self.world, self.figures
        refused = False
        for label, verifier, _ in self.verifiers:
            valid = world.valid_keys()
            record_accepts = world.record_accepted_keys()
            now = self.clock()  # when the request arrived (a refused one may then wait for a miss reload)
            started = time.perf_counter()
            identity = verifier.verify(caller.key)
            figures.verify_seconds.append(time.perf_counter() - started)
            figures.requests += 1
            if identity is None:
                refused = True
                self._note_revoked_refusal(label, caller.key, now)
                if caller.key in valid:
                    figures.refusals += 1
                    figures.refused_callers[caller.name] = figures.refused_callers.get(caller.name, 0) + 1
                else:
                    figures.refusals_of_superseded += 1
                continue
            figures.accepted += 1
            if identity.name != KEY_NAME or not identity.allows(SCOPE):
                raise AssertionError(f"{label}: wrong identity for {caller.name}")
            if caller.key not in record_accepts:
                # Accepted from a cache older than the record: bounded by refresh_seconds after the drop.
                late = now - world.dropped_at[caller.key] if caller.key in world.ever_in_record else math.inf
                figures.late_acceptance[label] = max(figures.late_acceptance.get(label, 0.0), late)
        return refused

    def probe_revoked_key(self):
        """A holder of the revoked key that never re-reads: how long after the record dropped it each verifier
        still accepted it."""
        world = self.world
        if self.revoked_key is None or self.revoked_key not in world.dropped_at:
            return
        for label, verifier, _ in self.verifiers:
            now = self.clock()
            if label not in self.figures.revoked_refused_after and verifier.verify(self.revoked_key) is None:
                self._note_revoked_refusal(label, self.revoked_key, now)

    def _note_revoked_refusal(self, label, key, arrived):
        dropped = self.world.dropped_at.get(key)
        if key == self.revoked_key and dropped is not None and label not in self.figures.revoked_refused_after:
            self.figures.revoked_refused_after[label] = arrived - dropped

    def webhook_round(self):
        body = json.dumps({"event": "order.paid", "at": self.clock(), "id": str(uuid.uuid4())}).encode()
        # The app's signer (cached) and a signer that reads AWSCURRENT on every send (it switched first).
        eager_secret = json.loads(self.eager_signer_client.get_secret_value(
            SecretId=self.world.webhook_arn, VersionStage="AWSCURRENT")["SecretString"])["secret"]
        signatures = [
            self.signer.sign(body),
            "sha256=" + hmac.new(eager_secret.encode(), body, hashlib.sha256).hexdigest(),
        ]
        for receiver in self.receivers:
            for signature in signatures:
                self.figures.webhooks += 1
                if not receiver.verify(body, signature):
                    self.figures.webhook_failures += 1

    def run_for(self, seconds, tick=None):
        tick = tick or self.tick
        end = self.clock() + seconds
        while self.clock() < end:
            self.traffic()
            self.clock.advance(tick)

    # rotations, driven as Secrets Manager drives them

    def rotate_key(self, gap, revoke=False, fail=None):
        """One rotation of the key, `gap` simulated seconds of traffic before each step."""
        world = self.world
        if revoke:  # as `python -m infra.secrets rotate <stack> <name> --revoke-previous` does
            world.admin.tag_resource(SecretId=world.key_arn, Tags=[{"Key": REVOKE_TAG, "Value": "true"}])
            world.revoked_versions.add(world.version_with(world.key_arn, "AWSCURRENT"))
            self.revoked_key = world.value(world.key_arn, "AWSCURRENT")["key"]
        token = world.rotation.start(world.key_arn)  # RotateSecret: AWSPENDING on a new, empty version
        self._steps(api_key_handler, world.key_arn, token, gap, fail)
        if self.probing:  # the bootstrap is not a rotation of a value callers hold
            self.figures.rotations["api-key"] = self.figures.rotations.get("api-key", 0) + 1
        return token

    def rotate_webhook(self, gap, fail=None):
        world = self.world
        token = world.rotation.start(world.webhook_arn)
        self._steps(webhook_handler, world.webhook_arn, token, gap, fail)
        self.figures.rotations["webhook"] = self.figures.rotations.get("webhook", 0) + 1
        return token

    def _steps(self, handler, arn, token, gap, fail):
        for step in STEPS:
            if self.probing:
                self.run_for(gap)
            if fail is not None and fail.step == step:
                fail.run(self, handler, arn, token, step)
            else:
                self.world.rotation.step(handler, arn, token, step)
            if step == "createSecret":  # the record accepts the new key from here on (lambdas/README.md)
                self.world.set_done.add(token)

    # the judged run

    def run_rotations(self, key_plan, webhook_plan):
        """Key and webhook rotations interleaved: plans are [(gap, revoke)] and [gap]."""
        events = []
        for index, (gap, revoke) in enumerate(key_plan):
            events.append((index * 2, "key", gap, revoke))
        for index, gap in enumerate(webhook_plan):
            events.append((index * 2 + 1, "webhook", gap, False))
        for _, kind, gap, revoke in sorted(events):
            if kind == "key":
                self.rotate_key(gap, revoke=revoke)
            else:
                self.rotate_webhook(gap)
            self.run_for(IDLE)


class _CallCount:
    def __init__(self, client):
        self.count = 0
        client.meta.events.register("before-parameter-build.secretsmanager", self._count)

    def _count(self, **_):
        self.count += 1
