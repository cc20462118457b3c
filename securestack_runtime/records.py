"""Verifier records: what the rotator publishes about an API key, digests only (the issue 12 contract).

    {"format": 1, "name": "<key name>", "env": "<env>", "scopes": ["orders:write", ...],
     "updatedAt": "2026-12-01T10:00:00Z",
     "digests": [{"sha256": "<64 lowercase hex>", "stage": "current" | "pending" | "previous",
                  "versionId": "<key secret VersionId>", "validUntil": null | "<ISO-8601 UTC, Z suffix>"}]}

A record that breaks any rule is refused as a whole (MalformedSecretError naming the rule, never the content):
accepting part of a record the rotator did not write as specified could accept a key it meant to drop.
"""

import datetime
import json
import re
from typing import NamedTuple, Optional

from securestack_runtime.errors import MalformedSecretError

RECORD_FORMAT = 1
STAGES = ("current", "pending", "previous")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class DigestEntry(NamedTuple):
    digest: bytes  # sha256 of the key, 32 bytes
    stage: str
    valid_until: Optional[float]  # epoch seconds; None: valid until the record drops it


class VerifierRecord(NamedTuple):
    name: str
    env: str
    scopes: tuple[str, ...]
    entries: tuple[DigestEntry, ...]


def parse_record(text: str, expected_env: str, expected_name: str) -> VerifierRecord:
    """The record in `text`, which must be the record of key `expected_name` in `expected_env`."""
    try:
        record = json.loads(text)
    except (TypeError, ValueError):
        raise MalformedSecretError("record is not JSON") from None  # the decoder's error quotes the text
    if not isinstance(record, dict):
        raise MalformedSecretError("record is not a JSON object")
    if record.get("format") != RECORD_FORMAT:
        raise MalformedSecretError(f"record format is not {RECORD_FORMAT}")
    name, env = record.get("name"), record.get("env")
    if name != expected_name or env != expected_env:
        # The key secret's tags say whose record this must be: a record of another key would lend it its digests.
        raise MalformedSecretError("record names another key than the key secret's tags")
    # Equal to the expected strings, checked just above.
    return VerifierRecord(expected_name, expected_env, _scopes(record.get("scopes")), _entries(record.get("digests")))


def _scopes(scopes: object) -> tuple[str, ...]:
    if not isinstance(scopes, list) or not scopes:
        raise MalformedSecretError("record field 'scopes' is not a non-empty list")
    checked = tuple(scope for scope in scopes if isinstance(scope, str) and scope and not any(c.isspace() for c in scope))
    if len(checked) != len(scopes):
        raise MalformedSecretError("record field 'scopes' holds an empty or blank scope")
    return checked


def _entries(digests: object) -> tuple[DigestEntry, ...]:
    if not isinstance(digests, list):
        raise MalformedSecretError("record field 'digests' is not a list")
    entries: list[DigestEntry] = []
    stages: set[str] = set()
    for index, item in enumerate(digests):
        if not isinstance(item, dict):
            raise MalformedSecretError(f"record digests[{index}] is not an object")
        stage = item.get("stage")
        if not isinstance(stage, str) or stage not in STAGES:
            raise MalformedSecretError(f"record digests[{index}].stage is not one of {', '.join(STAGES)}")
        if stage in stages:
            raise MalformedSecretError(f"record has two '{stage}' digests")
        stages.add(stage)
        digest = item.get("sha256")
        if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
            raise MalformedSecretError(f"record digests[{index}].sha256 is not 64 lowercase hex digits")
        entries.append(DigestEntry(bytes.fromhex(digest), stage, parse_valid_until(item.get("validUntil"), index)))
    return tuple(entries)


def parse_valid_until(value: object, index: int = 0) -> Optional[float]:
    if value is None:
        return None
    where = f"record digests[{index}].validUntil"
    if not isinstance(value, str) or not value.endswith("Z"):
        raise MalformedSecretError(f"{where} is not an ISO-8601 UTC time ending in Z")
    try:
        moment = datetime.datetime.fromisoformat(value[:-1] + "+00:00")
    except ValueError:
        raise MalformedSecretError(f"{where} is not an ISO-8601 UTC time ending in Z") from None
    return moment.timestamp()
