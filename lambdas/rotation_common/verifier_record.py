"""The verifier record of an API key: SHA-256 digests of the key's values a verifier may accept, never a value.
Written by the key's rotator only, always as AWSCURRENT (lambdas/README.md, "API key verifier records").
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
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def record_name(metadata: SecretMetadata) -> str:
    # The stack's name for this key's record: a tag naming another key's would let this rotation rewrite it.
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
    def __init__(self, rotation: Rotation) -> None:
        self.rotation = rotation
        self.secret_id = record_name(rotation.metadata)

    def read(self) -> dict[str, Entry]:
        """Entries by stage ({}: no value yet, or unusable and replaced)."""
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
        """PutSecretValue as AWSCURRENT with a fresh token, unless the record already holds exactly `entries`; a
        failure fails the step (Secrets Manager retries it)."""
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


def replaced_digest(rotation: Rotation, existing: dict[str, Entry], read: bool = True) -> Entry | None:
    """The replaced key's entry: the record's when it names that version, else (`read`) from its value."""
    version, named = rotation.replaced_version_id(), existing.get(STAGE_CURRENT)
    if named is not None and version is not None and named.get("versionId") == version:
        return _restaged(named, STAGE_CURRENT)
    replaced = rotation.current_value() if read and version is not None else None
    return None if replaced is None else _entry(replaced, STAGE_CURRENT, version)


def before_promotion(rotation: Rotation, pending: SecretValue, existing: dict[str, Entry],
                     replaced: Entry | None) -> None:
    """createSecret, once the key is stored: the record accepts it beside current and previous."""
    entries = [] if replaced is None else [replaced]
    entries.append(_entry(pending, STAGE_PENDING, rotation.token))
    kept = _unfinished_current(rotation, existing) or existing.get(STAGE_PREVIOUS)
    taken = {entry["sha256"] for entry in entries}
    if kept is not None and _still_valid(kept, _now()) and kept["sha256"] not in taken:
        entries.append(kept)
    VerifierRecord(rotation).write_if_changed(_identity(rotation.metadata), entries, existing)


def _unfinished_current(rotation: Rotation, existing: dict[str, Entry]) -> Entry | None:
    """The record's current entry once no longer AWSCURRENT (a finishSecret whose record write never happened): the
    key's previous value, with the grace that finishSecret would have given it, from now."""
    stale = existing.get(STAGE_CURRENT)
    replaced_version = rotation.replaced_version_id()
    if stale is None or replaced_version is None or stale.get("versionId") in (replaced_version, rotation.token):
        return None
    grace_days = rotation.metadata.previous_grace_days()
    if grace_days == 0 or rotation.metadata.revoke_previous():
        return None
    return _restaged(stale, STAGE_PREVIOUS, _timestamp(_now() + datetime.timedelta(days=grace_days)))


class FinishedRecord:
    """finishSecret's record, computed before AWSCURRENT moves, written right after.

    Its guard reads no key: createSecret writes the token's entry only once the key is stored (a value), and a
    digest other than the replaced key's is no copy. Without them `check_values` reads and checks both keys."""

    def __init__(self, rotation: Rotation, check_values: Callable[[], SecretValue]) -> None:
        self.record, self.identity, token = VerifierRecord(rotation), _identity(rotation.metadata), rotation.token
        grace_days = rotation.metadata.previous_grace_days()
        if rotation.metadata.revoke_previous():
            grace_days = 0
        self.existing = existing = self.record.read()
        if existing.get(STAGE_CURRENT, {}).get("versionId") == token:
            # A retry: keep what the first run decided (its validUntil, or no previous at all if it revoked).
            self.entries = [existing[stage] for stage in (STAGE_CURRENT, STAGE_PREVIOUS) if stage in existing]
            return
        replaced, staged = replaced_digest(rotation, existing, read=False), existing.get(STAGE_PENDING, {})
        if staged.get("versionId") == token and replaced is not None and staged["sha256"] != replaced["sha256"]:
            self.entries = [_restaged(staged, STAGE_CURRENT)]
        else:
            self.entries = [_entry(check_values(), STAGE_CURRENT, token)]
            replaced = replaced_digest(rotation, existing)
        if replaced is not None and grace_days > 0:
            valid_until = _timestamp(_now() + datetime.timedelta(days=grace_days))
            self.entries.append(_restaged(replaced, STAGE_PREVIOUS, valid_until))

    def write(self) -> None:
        self.record.write_if_changed(self.identity, self.entries, self.existing)

