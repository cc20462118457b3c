"""The verifier record of an API key: SHA-256 digests of the key's values a verifier may accept, never a value.

A secret of its own, named by the key's tag `securestack:verifier-secret`, written by the key's rotator only,
always as AWSCURRENT: createSecret adds the pending key (under its version id, once it is stored) before any stage
moves; finishSecret, after the move, writes current and the previous key in grace (a retry keeps what its first run
wrote). Both take the other keys' digests from the record itself when it names their versions: no key is read.
Format and rules: lambdas/README.md, "API key verifier records".
"""

import datetime
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from rotation_common.metadata import ENV, NAME, VERIFIER_SECRET, SecretMetadata
from rotation_common.protocol import CURRENT, Rotation
from rotation_common.values import SecretValue

# One digest entry of the record: {"sha256", "stage", "versionId", "validUntil"} (JSON, as read or to write).
Entry = dict[str, Any]

RECORD_FORMAT = 1
VERIFIER_PATH = "api-key-verifiers"
STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS = "current", "pending", "previous"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def digest(key: str) -> str:
    """64 lowercase hex characters of SHA-256 over the key's UTF-8 bytes: what the verifier compares."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def record_name(metadata: SecretMetadata) -> str:
    """The record's name from the key secret's tag, which must be the one the stack derives for this key: a tag
    naming another key's record would let this rotation overwrite what that key's verifier accepts."""
    named = metadata.require(VERIFIER_SECRET)
    expected = f"securestack/{metadata.require(ENV)}/{VERIFIER_PATH}/{metadata.require(NAME)}"
    if named != expected:
        raise ValueError(f"secret tag '{VERIFIER_SECRET}' must name this key's record '{expected}'")
    return named


def _timestamp(moment: datetime.datetime) -> str:
    return moment.strftime(_TIME_FORMAT)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _entry(value: SecretValue, stage: str, version_id: str | None, valid_until: str | None = None) -> Entry:
    return {"sha256": digest(value["key"]), "stage": stage, "versionId": version_id, "validUntil": valid_until}


def _still_valid(entry: Entry, now: datetime.datetime) -> bool:
    valid_until = entry.get("validUntil")
    if valid_until is None:
        return True
    try:
        moment = datetime.datetime.strptime(valid_until, _TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return False  # never keep accepting what cannot be bounded
    return moment > now


class VerifierRecord:
    """Reads and writes one key's record through the rotation's Secrets Manager client."""

    def __init__(self, rotation: Rotation) -> None:
        self.rotation = rotation
        self.secret_id = record_name(rotation.metadata)

    def read(self) -> dict[str, Entry]:
        """The record's entries by stage ({} when it has no value yet or cannot be used, then it is replaced)."""
        try:
            response = self.rotation.client.get_secret_value(SecretId=self.secret_id, VersionStage=CURRENT)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return {}  # created by the stack without a value: this is its first version
            raise
        try:
            record = json.loads(response.get("SecretString") or "")
            entries = {entry["stage"]: entry for entry in record["digests"]}
            unusable = record.get("format") != RECORD_FORMAT or not all(
                isinstance(entry.get("sha256"), str) for entry in entries.values())
        except (TypeError, ValueError, KeyError, AttributeError):
            unusable = True
        if unusable:
            self.rotation.log.warning("verifier record unreadable: replaced", outcome="record-replaced")
            return {}
        return entries

    def write_if_changed(self, identity: SecretValue, entries: list[Entry], existing: dict[str, Entry]) -> None:
        """PutSecretValue as AWSCURRENT with a fresh token, unless the record already holds exactly `entries`.

        A failure raises: the step fails and Secrets Manager retries it, so no stage moves past a record that
        does not accept the new key."""
        # Skipping an identical write keeps retries from adding versions: Secrets Manager removes unlabeled
        # versions only beyond 100 and 24 h old (Secrets Manager User Guide, "AWS Secrets Manager quotas").
        wanted = {entry["stage"]: entry for entry in entries}
        if wanted == existing:
            self.rotation.log.info("verifier record already up to date", outcome="record-kept")
            return
        record = {"format": RECORD_FORMAT, "name": identity["name"], "env": identity["env"],
                  "scopes": identity["scopes"], "updatedAt": _timestamp(_now()), "digests": entries}
        self.rotation.client.put_secret_value(SecretId=self.secret_id, ClientRequestToken=str(uuid.uuid4()),
                                              SecretString=json.dumps(record), VersionStages=[CURRENT])
        self.rotation.log.info("verifier record written", outcome="record-written")


def _identity(metadata: SecretMetadata) -> SecretValue:
    return {"name": metadata.require(NAME), "env": metadata.require(ENV), "scopes": metadata.scopes()}


def _restaged(entry: Entry, stage: str, valid_until: str | None = None) -> Entry:
    return {"sha256": entry["sha256"], "stage": stage, "versionId": entry.get("versionId"), "validUntil": valid_until}


def replaced_digest(rotation: Rotation, existing: dict[str, Entry]) -> Entry | None:
    """The current entry of the key being replaced: the record's own when it names that version (finishSecret
    wrote it), else from its value (one read: a record replaced, or a key that never rotated)."""
    version = rotation.replaced_version_id()
    if version is None:
        return None
    named = existing.get(STAGE_CURRENT)
    if named is not None and named.get("versionId") == version:
        return _restaged(named, STAGE_CURRENT)
    return _entry(rotation.current_value(), STAGE_CURRENT, version)


def before_promotion(rotation: Rotation, pending: SecretValue, existing: dict[str, Entry],
                     replaced: Entry | None) -> None:
    """createSecret, once the pending key is stored: make the record accept it while it still accepts current and
    previous. The pending entry is what finishSecret's guard requires (FinishedRecord)."""
    token = rotation.token
    entries = [] if replaced is None else [replaced]
    entries.append(_entry(pending, STAGE_PENDING, token))
    kept = _unfinished_current(rotation, existing) or existing.get(STAGE_PREVIOUS)
    taken = {entry["sha256"] for entry in entries}
    if kept is not None and _still_valid(kept, _now()) and kept["sha256"] not in taken:
        entries.append(kept)
    VerifierRecord(rotation).write_if_changed(_identity(rotation.metadata), entries, existing)


def _unfinished_current(rotation: Rotation, existing: dict[str, Entry]) -> Entry | None:
    """The record's current entry when it is no longer the key's AWSCURRENT: an earlier finishSecret moved the stage
    but its record write never happened (no retry came). That key is the key's previous value, so it keeps the grace
    finishSecret would have given it, counted from now (or none, with grace 0 or revoke-previous)."""
    stale = existing.get(STAGE_CURRENT)
    replaced_version = rotation.replaced_version_id()
    if stale is None or replaced_version is None or stale.get("versionId") in (replaced_version, rotation.token):
        return None
    grace_days = rotation.metadata.previous_grace_days()
    if grace_days == 0 or rotation.metadata.revoke_previous():
        return None
    return _restaged(stale, STAGE_PREVIOUS, _timestamp(_now() + datetime.timedelta(days=grace_days)))


class FinishedRecord:
    """finishSecret's record, computed before AWSCURRENT moves (a bad tag or a refused version then stops the step
    with nothing moved) and written right after the move.

    The guard without reading a key: createSecret writes the token's pending entry only once its value is stored,
    so an entry for the token proves a value; a digest other than the replaced key's proves it is no copy. A record
    without them (replaced, or written by someone else) costs the reads of both values and the same checks."""

    def __init__(self, rotation: Rotation, check_values: Callable[[], SecretValue]) -> None:
        self.record = VerifierRecord(rotation)
        self.identity = _identity(rotation.metadata)
        metadata = rotation.metadata
        grace_days = metadata.previous_grace_days()
        self.revoked = metadata.revoke_previous()
        self.existing = existing = self.record.read()
        token = rotation.token
        if existing.get(STAGE_CURRENT, {}).get("versionId") == token:
            # A retry: keep what the first run decided (its validUntil, or no previous at all if it revoked).
            self.entries = [existing[STAGE_CURRENT], *([existing[STAGE_PREVIOUS]] if STAGE_PREVIOUS in existing else [])]
            return
        replaced = _replaced_digest_if_named(rotation, existing)
        staged = existing.get(STAGE_PENDING)
        if (staged is not None and staged.get("versionId") == token and replaced is not None
                and staged["sha256"] != replaced["sha256"]):
            current = _restaged(staged, STAGE_CURRENT)
        else:
            current = _entry(check_values(), STAGE_CURRENT, token)
            replaced = replaced_digest(rotation, existing)
        self.entries = [current]
        if replaced is not None and not self.revoked and grace_days > 0:
            valid_until = _timestamp(_now() + datetime.timedelta(days=grace_days))
            self.entries.append(_restaged(replaced, STAGE_PREVIOUS, valid_until))

    def write(self) -> None:
        self.record.write_if_changed(self.identity, self.entries, self.existing)


def _replaced_digest_if_named(rotation: Rotation, existing: dict[str, Entry]) -> Entry | None:
    named = existing.get(STAGE_CURRENT)
    version = rotation.replaced_version_id()
    return named if version is not None and named is not None and named.get("versionId") == version else None
