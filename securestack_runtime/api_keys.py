"""Verification of the API keys a securestack environment issues, from their verifier records.

The app never holds a key: for each key secret it reads the verifier record named by the key secret's tag
`securestack:verifier-secret` (DescribeSecret on the key secret, once), then only that record's AWSCURRENT
(GetSecretValue, once per refresh_seconds). A record holds SHA-256 digests of the key's current, pending and
previous values with their validity, maintained by the key's rotator.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional, Tuple

from securestack_runtime import _aws
from securestack_runtime._failures import FailureLog
from securestack_runtime._refresh import ReloadSchedule
from securestack_runtime.errors import MalformedSecretError
from securestack_runtime.records import DigestEntry, parse_record

if TYPE_CHECKING:  # boto3-stubs: a development dependency only (an app needs nothing but boto3)
    from mypy_boto3_secretsmanager import SecretsManagerClient

VERIFIER_SECRET_TAG = "securestack:verifier-secret"
RECORD_NAME = "securestack/{env}/api-key-verifiers/{name}"
ENV_TAG, NAME_TAG = "securestack:env", "securestack:name"
WILDCARD_SCOPE = "*"
# Longer than any key the rotator makes (a prefix of <= 32 characters + 43); longer input is refused unhashed.
MAX_KEY_LENGTH = 256
DEFAULT_MISS_RELOAD_SECONDS = 2.0


@dataclass(frozen=True)
class KeyIdentity:
    """Who presented a valid key: the key's name, environment and scopes (never the key)."""

    name: str
    env: str
    scopes: Tuple[str, ...]

    def allows(self, scope: str) -> bool:
        """True if the key grants `scope`; a key with the scope '*' grants every scope."""
        return WILDCARD_SCOPE in self.scopes or scope in self.scopes


class _KeySource:
    """One key secret and what was learned about it: its record's name, and the record's last good content."""

    def __init__(self, key_secret_id: str) -> None:
        self.key_secret_id = key_secret_id
        self.record_id: Optional[str] = None
        self.env: str = ""  # set with record_id, from the key secret's tags
        self.name: str = ""
        self.candidates: _Candidates = ()  # from the last good record


# (who, which digest) pairs a presented key is compared with.
_Candidates = Tuple[Tuple[KeyIdentity, DigestEntry], ...]


class ApiKeyVerifier:
    """Accepts the keys its verifier records accept: current, pending, and previous until its validUntil."""

    def __init__(self, key_secret_ids: Iterable[str], client: Optional[SecretsManagerClient] = None,
                 refresh_seconds: float = 60, *,
                 miss_reload_seconds: float = DEFAULT_MISS_RELOAD_SECONDS,
                 clock: Optional[Callable[[], float]] = None, sleep: Optional[Callable[[float], None]] = None) -> None:
        """key_secret_ids: ARNs or names of the key secrets; client: a boto3 secretsmanager client (None: a
        default one). clock/sleep (tests): one clock for scheduling and validity, in epoch seconds."""
        self._sources = [_KeySource(key_id) for key_id in _secret_ids(key_secret_ids)]
        self._client = client if client is not None else _aws.default_client()
        self._now = clock or time.time
        self._failures = FailureLog("ApiKeyVerifier")
        self._candidates: _Candidates = ()
        self._schedule = ReloadSchedule(self._load, refresh_seconds, miss_reload_seconds, clock, sleep)

    @classmethod
    def from_environment(cls, environ: Optional[Mapping[str, str]] = None,
                         variable: str = "SECURESTACK_API_KEY_VERIFIERS", **options: Any) -> "ApiKeyVerifier":
        """A verifier of the key secrets the stack gives the app: a JSON list of ARNs in `variable`."""
        return cls(_aws.json_environment(environ, variable, list, "list"), **options)

    @property
    def refresh_seconds(self) -> float:
        return self._schedule.refresh_seconds

    def refresh(self) -> bool:
        """Reload every record now (e.g. at start-up); True if all loaded. Never needed for correctness."""
        return self._schedule.load_now()

    def verify(self, presented_key: str) -> Optional[KeyIdentity]:
        """The identity of the key, or None if no loaded record accepts it now."""
        digest = _digest(presented_key)
        if digest is None:
            return None
        # Any load that starts after this call began reads a record that accepts every key a caller could
        # hold by now (the rotator publishes a digest before it promotes the key), so only such a load decides.
        seen = self._schedule.generation()
        self._schedule.due()
        identity = _match(self._candidates, digest, self._now())
        if identity is None:
            self._schedule.after_miss(seen)
            identity = _match(self._candidates, digest, self._now())
        return identity

    def _load(self) -> bool:
        all_loaded = True
        for source in self._sources:
            try:
                self._load_source(source)
            except Exception as error:  # any failure keeps the source's last good set
                all_loaded = False
                self._failures.failed(source.key_secret_id, error)
            else:
                self._failures.loaded(source.key_secret_id)
        self._candidates = tuple(candidate for source in self._sources for candidate in source.candidates)
        return all_loaded

    def _load_source(self, source: _KeySource) -> None:
        if source.record_id is None:
            tags = _aws.secret_tags(self._client.describe_secret(SecretId=source.key_secret_id))
            env, name = _aws.required_tag(tags, ENV_TAG), _aws.required_tag(tags, NAME_TAG)
            record_id = _aws.required_tag(tags, VERIFIER_SECRET_TAG)
            if record_id != RECORD_NAME.format(env=env, name=name):
                # The stack names every record after its key; a tag naming another secret is not followed.
                raise MalformedSecretError(f"tag '{VERIFIER_SECRET_TAG}' does not name this key's verifier record")
            source.record_id, source.env, source.name = record_id, env, name
        text = _aws.secret_string(self._client, source.record_id, _aws.CURRENT)
        if text is None:
            raise MalformedSecretError("verifier record has no AWSCURRENT value yet")
        record = parse_record(text, source.env, source.name)
        identity = KeyIdentity(record.name, record.env, record.scopes)
        source.candidates = tuple((identity, entry) for entry in record.entries)


def _match(candidates: _Candidates, digest: bytes, now: float) -> Optional[KeyIdentity]:
    """Compares the digest with every candidate (no early exit), then returns the first valid match."""
    found: Optional[KeyIdentity] = None
    for identity, entry in candidates:
        same = hmac.compare_digest(entry.digest, digest)
        valid = entry.valid_until is None or entry.valid_until > now
        if same and valid and found is None:
            found = identity
    return found


def _digest(presented_key: object) -> Optional[bytes]:
    if not isinstance(presented_key, str) or not presented_key or len(presented_key) > MAX_KEY_LENGTH:
        return None
    try:
        encoded = presented_key.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no key; and the error would carry the presented text
        return None
    return hashlib.sha256(encoded).digest()


def _secret_ids(ids: object) -> list[str]:
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise ValueError("key_secret_ids must be a list of key secret ARNs or names")
    listed = list(ids)
    names = [i for i in listed if isinstance(i, str) and i.strip()]
    if not listed or len(names) != len(listed):
        raise ValueError("key_secret_ids must be a non-empty list of key secret ARNs or names")
    return list(dict.fromkeys(names))


