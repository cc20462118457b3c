"""Webhook signatures: "sha256=" + hex(HMAC-SHA256(secret, raw body)), the signing secret's `secret` field.

The signer signs with the secret's AWSCURRENT. A receiver accepts AWSCURRENT, AWSPENDING (a rotation in
progress) and AWSPREVIOUS while in grace: `securestack:previous-grace-days` days (tag on the secret) counted
from the AWSCURRENT version's CreatedDate. Revoking the previous value removes its AWSPREVIOUS stage, so
there is nothing left to accept. Values are cached by VersionId (a version's value never changes), so at
steady state a receiver makes one DescribeSecret per refresh and a signer one GetSecretValue.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Tuple

from botocore.exceptions import ClientError

from securestack_runtime import _aws
from securestack_runtime._failures import FailureLog
from securestack_runtime._refresh import ReloadSchedule
from securestack_runtime.errors import MalformedSecretError, SecretUnavailableError

if TYPE_CHECKING:  # boto3-stubs: a development dependency only (an app needs nothing but boto3)
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import ListSecretVersionIdsRequestTypeDef

# (secret bytes, valid until in epoch seconds or None) pairs a signature is checked against.
_Candidates = Tuple[Tuple[bytes, Optional[float]], ...]

SIGNATURE_PREFIX = "sha256="
GRACE_TAG = "securestack:previous-grace-days"
DEFAULT_GRACE_DAYS = 7  # the stack's default for previousGraceDays
MAX_GRACE_DAYS = 30
DEFAULT_MISS_RELOAD_SECONDS = 2.0
SECONDS_PER_DAY = 86400
_GRACE_DAYS_TEXT = re.compile(r"[0-9]{1,2}")
# What a VersionId/VersionStage pair that no longer matches can answer (AWS documents the rule, not the code;
# moto answers InvalidRequestException).
_STATE_MOVED_CODES = ("InvalidRequestException", "InvalidParameterException", "ResourceNotFoundException")


class WebhookSigner:
    """Signs outgoing webhooks with the current signing secret (reloaded every refresh_seconds)."""

    def __init__(self, secret_id: str, client: Optional[SecretsManagerClient] = None, *, refresh_seconds: float = 60,
                 clock: Optional[Callable[[], float]] = None, sleep: Optional[Callable[[float], None]] = None) -> None:
        self._secret_id = _checked_secret_id(secret_id)
        self._client = client if client is not None else _aws.default_client()
        self._failures = FailureLog("WebhookSigner")
        self._secret: Optional[bytes] = None
        # An unloaded secret is retried at most every few seconds, like a verifier's miss.
        self._schedule = ReloadSchedule(self._load, refresh_seconds, DEFAULT_MISS_RELOAD_SECONDS, clock, sleep)

    @classmethod
    def from_environment(cls, name: str, environ: Optional[Mapping[str, str]] = None,
                         variable: str = "SECURESTACK_WEBHOOK_SECRETS", **options: Any) -> "WebhookSigner":
        """The signer of webhook `name` from the stack's JSON object name -> secret ARN in `variable`."""
        return cls(_webhook_secret_ids(environ, variable, name), **options)

    def refresh(self) -> bool:
        return self._schedule.load_now()

    def sign(self, payload: bytes) -> str:
        """The signature header value of `payload` (the raw body, as sent)."""
        body = _raw_body(payload)
        seen = self._schedule.generation()
        self._schedule.due()
        if self._secret is None:
            self._schedule.after_miss(seen)
        secret = self._secret
        if secret is None:
            raise SecretUnavailableError(f"webhook signing secret {self._secret_id} could not be loaded")
        return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()

    def _load(self) -> bool:
        try:
            text = _aws.secret_string(self._client, self._secret_id, _aws.CURRENT)
            if text is None:
                raise MalformedSecretError("secret has no AWSCURRENT value yet")
            self._secret = _signing_secret(text, _aws.CURRENT)
        except Exception as error:  # keep signing with the last good secret
            self._failures.failed(self._secret_id, error)
            return False
        self._failures.loaded(self._secret_id)
        return True


class WebhookVerifier:
    """Verifies incoming webhook signatures against every value a signer may be using."""

    def __init__(self, secret_id: str, client: Optional[SecretsManagerClient] = None, refresh_seconds: float = 60, *,
                 miss_reload_seconds: float = DEFAULT_MISS_RELOAD_SECONDS,
                 clock: Optional[Callable[[], float]] = None, sleep: Optional[Callable[[float], None]] = None) -> None:
        self._secret_id = _checked_secret_id(secret_id)
        self._client = client if client is not None else _aws.default_client()
        self._now = clock or time.time
        self._failures = FailureLog("WebhookVerifier")
        self._values: dict[str, bytes] = {}  # VersionId -> secret bytes (immutable per version)
        self._created: dict[str, float] = {}  # VersionId -> CreatedDate, epoch seconds
        self._candidates: _Candidates = ()
        self._schedule = ReloadSchedule(self._load, refresh_seconds, miss_reload_seconds, clock, sleep)

    @classmethod
    def from_environment(cls, name: str, environ: Optional[Mapping[str, str]] = None,
                         variable: str = "SECURESTACK_WEBHOOK_SECRETS", **options: Any) -> "WebhookVerifier":
        """The verifier of webhook `name` from the stack's JSON object name -> secret ARN in `variable`: the app
        verifies a vendor's webhooks from `SECURESTACK_VENDOR_WEBHOOK_SECRETS`."""
        return cls(_webhook_secret_ids(environ, variable, name), **options)

    @property
    def refresh_seconds(self) -> float:
        return self._schedule.refresh_seconds

    def refresh(self) -> bool:
        return self._schedule.load_now()

    def verify(self, payload: bytes, signature: str) -> bool:
        """True if `signature` ("sha256=<hex>") signs the raw body `payload` with a value valid now."""
        body = _raw_body(payload)
        presented = _parse_signature(signature)
        if presented is None:
            return False
        seen = self._schedule.generation()
        self._schedule.due()
        if _signed_by_any(self._candidates, body, presented, self._now()):
            return True
        self._schedule.after_miss(seen)
        return _signed_by_any(self._candidates, body, presented, self._now())

    def _load(self) -> bool:
        try:
            try:
                self._candidates = self._read_candidates()
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in _STATE_MOVED_CODES:
                    raise
                # A stage named with its VersionId moved between DescribeSecret and GetSecretValue (a rotation
                # step ran in between; "the two parameters must refer to the same secret version", GetSecretValue
                # API reference): read the new state once more.
                self._candidates = self._read_candidates()
        except Exception as error:  # keep the last good set
            self._failures.failed(self._secret_id, error)
            return False
        self._failures.loaded(self._secret_id)
        return True

    def _read_candidates(self) -> _Candidates:
        description = self._client.describe_secret(SecretId=self._secret_id)
        grace_days = _grace_days(_aws.secret_tags(description))
        stages = {version: set(labels) for version, labels in (description.get("VersionIdsToStages") or {}).items()}
        current, pending, previous = (_version_with(stages, s) for s in (_aws.CURRENT, _aws.PENDING, _aws.PREVIOUS))
        if current is None:
            raise MalformedSecretError("secret has no AWSCURRENT version")
        candidates: list[tuple[bytes, Optional[float]]] = [(self._value(current, _aws.CURRENT), None)]
        if pending is not None and pending != current:
            value = self._optional_value(pending, _aws.PENDING)  # no value before createSecret
            if value is not None:
                candidates.append((value, None))
        if previous is not None and grace_days > 0:
            until = self._created_date(current) + grace_days * SECONDS_PER_DAY
            candidates.append((self._value(previous, _aws.PREVIOUS), until))
        self._values = {version: value for version, value in self._values.items() if version in stages}
        return tuple(candidates)

    def _value(self, version_id: str, stage: str) -> bytes:
        value = self._optional_value(version_id, stage)
        if value is None:
            raise MalformedSecretError(f"{stage} version has no value")
        return value

    def _optional_value(self, version_id: str, stage: str) -> Optional[bytes]:
        value = self._values.get(version_id)
        if value is None:
            text = _aws.secret_string(self._client, self._secret_id, stage, version_id)
            if text is None:
                return None
            value = self._values[version_id] = _signing_secret(text, stage)
        return value

    def _created_date(self, version_id: str) -> float:
        if version_id not in self._created:
            self._created = self._list_created_dates()
        created = self._created.get(version_id)
        if created is None:
            raise MalformedSecretError("AWSCURRENT version has no CreatedDate")
        return created

    def _list_created_dates(self) -> dict[str, float]:
        dates: dict[str, float] = {}
        request: ListSecretVersionIdsRequestTypeDef = {"SecretId": self._secret_id}
        while True:
            page = self._client.list_secret_version_ids(**request)
            for version in page.get("Versions") or []:
                version_id, created = version.get("VersionId"), version.get("CreatedDate")
                if version_id and created is not None:  # botocore parses CreatedDate into a datetime
                    dates[version_id] = created.timestamp()
            if not page.get("NextToken"):
                return dates
            request["NextToken"] = page["NextToken"]


def _signed_by_any(candidates: _Candidates, body: bytes, presented: bytes, now: float) -> bool:
    """HMACs the body with every candidate and compares each (no early exit)."""
    accepted = False
    for secret, valid_until in candidates:
        same = hmac.compare_digest(hmac.new(secret, body, hashlib.sha256).digest(), presented)
        accepted |= same and (valid_until is None or valid_until > now)
    return accepted


def _parse_signature(signature: object) -> Optional[bytes]:
    if not isinstance(signature, str) or not signature.startswith(SIGNATURE_PREFIX):
        return None
    hex_digest = signature[len(SIGNATURE_PREFIX):]
    if len(hex_digest) != 64:
        return None
    try:
        return bytes.fromhex(hex_digest)
    except ValueError:
        return None


def _raw_body(payload: object) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError("payload must be the raw request body as bytes")
    return bytes(payload)


def _signing_secret(text: str, stage: str) -> bytes:
    try:
        value = json.loads(text)
    except ValueError:
        raise MalformedSecretError(f"{stage} value is not JSON") from None
    secret: object = value.get("secret") if isinstance(value, dict) else None
    if not isinstance(secret, str) or not secret:
        raise MalformedSecretError(f"{stage} value has no 'secret' field")
    return secret.encode("utf-8")


def _grace_days(tags: Mapping[str, Optional[str]]) -> int:
    text = tags.get(GRACE_TAG)
    if text is None:
        return DEFAULT_GRACE_DAYS
    if not isinstance(text, str) or not _GRACE_DAYS_TEXT.fullmatch(text) or int(text) > MAX_GRACE_DAYS:
        raise MalformedSecretError(f"tag '{GRACE_TAG}' is not a whole number of days 0..{MAX_GRACE_DAYS}")
    return int(text)


def _version_with(stages: dict[str, set[str]], stage: str) -> Optional[str]:
    return next((version for version, labels in stages.items() if stage in labels), None)


def _checked_secret_id(secret_id: object) -> str:
    if not isinstance(secret_id, str) or not secret_id.strip():
        raise ValueError("secret_id must be the webhook secret's ARN or name")
    return secret_id


def _webhook_secret_ids(environ: Optional[Mapping[str, str]], variable: str, name: str) -> str:
    value = _aws.json_environment(environ, variable, dict, "object")
    secret_id = value.get(name)
    if not isinstance(secret_id, str):
        raise ValueError(f"environment variable {variable} has no webhook '{name}'")
    return secret_id
