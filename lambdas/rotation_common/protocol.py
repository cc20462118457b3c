"""The Secrets Manager four-step rotation protocol, written once for every kind of secret (lambdas/README.md, "How
a rotation runs": guards, steps and the calls each makes). A kind (`Rotator`) supplies what differs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from rotation_common.clients import UNREACHABLE_MESSAGE, aws_client, unreachable_endpoint
from rotation_common.logging_json import RotationLog, describe_error
from rotation_common.metadata import KIND, SecretMetadata
from rotation_common.values import SecretValue, ValueFault, parse_secret_json, require_fields

if TYPE_CHECKING:  # boto3-stubs, a dev dependency: the Lambda runtime has boto3 only
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import DescribeSecretResponseTypeDef

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
PREVIOUS = "AWSPREVIOUS"

# botocore's secretsmanager model (tests/lambdas/test_bad_inputs.py compares): botocore checks only minimums.
CLIENT_REQUEST_TOKEN_LENGTHS = (32, 64)  # printable, as the UUIDs Secrets Manager makes
_TOKEN_PATTERN = re.compile(r"[\x21-\x7e]{%d,%d}" % CLIENT_REQUEST_TOKEN_LENGTHS)
ROTATION_TOKEN_LENGTHS = (36, 256)  # pattern ^[a-zA-Z0-9\-]+$
_ROTATION_TOKEN_PATTERN = re.compile(r"[a-zA-Z0-9-]{%d,%d}" % ROTATION_TOKEN_LENGTHS)
MAX_SECRET_ID_LENGTH = 2048


class EventError(ValueError):
    """A malformed event; the message names the field, never its value (it is logged)."""

    def __init__(self, field: str | None, problem: str) -> None:
        self.field = field
        super().__init__(("event " if field is None else f"event field '{field}' ") + problem)


@dataclass(frozen=True)
class RotationEvent:
    step: str
    secret_id: str
    token: str
    # Proof of the caller's identity for PutSecretValue; passed back, never logged or shown.
    rotation_token: str | None = field(default=None, repr=False)


class Rotator:
    """What one kind of secret supplies to the protocol (raise a ValueFault naming a field of a bad value)."""

    kind = ""  # value of the `securestack:kind` tag this rotator accepts
    reads_current_to_create = False  # new_value needs AWSCURRENT's value (else the tags suffice)

    @property
    def value_fields(self) -> tuple[str, ...]:
        return ()

    def check_value(self, value: SecretValue, metadata: SecretMetadata, label: str) -> None:
        """`value` (stage `label`) against the tags too."""
        self.check_types(value, label)

    def check_types(self, value: SecretValue, label: str) -> None:
        """The checks that need no tags (testSecret reads none)."""
        require_fields(value, self.value_fields, label)

    def new_value(self, metadata: SecretMetadata, current: SecretValue | None) -> SecretValue:
        raise NotImplementedError

    def made_from(self, rotation: Rotation, value: SecretValue) -> SecretValue:
        return value

    def created(self, rotation: Rotation) -> bool:
        """createSecret, before anything is stored: True when an earlier run of it completed."""
        return False

    def check_stored(self, rotation: Rotation, pending: SecretValue) -> None:
        """createSecret found a value stored under the token: raise unless it may become AWSCURRENT."""

    def after_create(self, rotation: Rotation, pending: SecretValue) -> None:
        pass

    def set_value(self, rotation: Rotation) -> None:
        pass

    def test_value(self, rotation: Rotation, pending: SecretValue) -> None:
        raise NotImplementedError

    def finish_value(self, rotation: Rotation, promote: Callable[[], None]) -> None:
        """Refuse an empty version or a copy of AWSCURRENT, `promote()` (idempotent), update what verifies."""
        raise NotImplementedError


def parse_event(event: object) -> RotationEvent:
    if not isinstance(event, dict):
        raise EventError(None, "must be an object with 'Step', 'SecretId' and 'ClientRequestToken'")
    step = _required_string(event, "Step")
    if step not in STEPS:
        raise EventError("Step", f"has an unknown value; expected one of {', '.join(STEPS)}")
    secret_id = _required_string(event, "SecretId")
    if len(secret_id) > MAX_SECRET_ID_LENGTH:
        raise EventError("SecretId", f"is invalid: longer than {MAX_SECRET_ID_LENGTH} characters")
    token = _required_string(event, "ClientRequestToken")
    if not _TOKEN_PATTERN.fullmatch(token):
        raise EventError("ClientRequestToken", "is invalid: must be %d-%d printable characters without spaces"
                         % CLIENT_REQUEST_TOKEN_LENGTHS)
    rotation_token = event.get("RotationToken")
    if rotation_token is not None and not (isinstance(rotation_token, str)
                                           and _ROTATION_TOKEN_PATTERN.fullmatch(rotation_token)):
        raise EventError("RotationToken", "is invalid: must be a string of %d-%d letters, digits or '-'"
                         % ROTATION_TOKEN_LENGTHS)
    return RotationEvent(step, secret_id, token, rotation_token)


def _required_string(event: dict[str, Any], name: str) -> str:
    if name not in event or event[name] is None:
        raise EventError(name, "is missing")
    value = event[name]
    if not isinstance(value, str) or not value.strip():
        raise EventError(name, "is invalid: must be a non-empty string")
    return value


def secretsmanager_client() -> SecretsManagerClient:
    return aws_client("secretsmanager", os.environ.get("SECRETS_MANAGER_ENDPOINT") or None)


class Rotation:
    def __init__(self, client: SecretsManagerClient, event: RotationEvent, rotator: Rotator, log: RotationLog) -> None:
        self.client = client
        self.event = event
        self.token = event.token
        self.arn = event.secret_id
        self.stages: dict[str, list[str]] = {}
        self.metadata = SecretMetadata({})
        self.described = False
        self.kind_state: dict[str, Any] = {}  # a kind's own state for this invocation (an API key's record)
        self.rotator = rotator
        self.log = log
        self._texts: dict[tuple[str, str], str] = {}

    def describe(self) -> bool:
        description = self.client.describe_secret(SecretId=self.event.secret_id)
        self.described = True
        self.arn = description["ARN"]
        self.stages = description.get("VersionIdsToStages") or {}
        self.metadata = SecretMetadata.from_description(description)
        self.log = self.log.bind(secret_arn=self.arn)
        return _guard(description, self)

    def current_version_id(self) -> str | None:
        return self.version_with(CURRENT)

    def version_with(self, stage: str) -> str | None:
        return next((version for version, stages in self.stages.items() if stage in stages), None)

    def current_value(self) -> SecretValue | None:
        """The value this rotation replaces: AWSCURRENT, or AWSPREVIOUS once the token is AWSCURRENT (None: none)."""
        version, stage = self._replaced_version()
        if version is None:
            return None
        text = self._secret_string(version, stage)
        if text is None:
            # Never bootstrap over a version that exists: that would discard who it belongs to.
            raise ValueFault(stage, None, "is missing: the version exists but has no value")
        return self._checked(text, stage)

    def replaced_version_id(self) -> str | None:
        return self._replaced_version()[0]

    def _replaced_version(self) -> tuple[str | None, str]:
        version = self.current_version_id()
        if version == self.token:
            return self.version_with(PREVIOUS), PREVIOUS
        return version, CURRENT

    def pending_value(self) -> SecretValue | None:
        text = self._secret_string(self.token, PENDING)
        return None if text is None else self._checked(text, PENDING)

    def require_pending_value(self) -> SecretValue:
        value = self.pending_value()
        if value is None:
            raise ValueError(f"version {self.token} has no AWSPENDING value yet: createSecret must run first")
        return value

    def put_pending_value(self, text: str) -> bool:
        """False when the token already holds a value: PutSecretValue refuses another under one ClientRequestToken
        ("you can't modify a secret version": PutSecretValue API reference), so a version's value never changes.
        moto overwrites instead (tests/lambdas/harness.py makes it refuse as AWS)."""
        extra = {"RotationToken": self.event.rotation_token} if self.event.rotation_token else {}
        try:
            self.client.put_secret_value(SecretId=self.arn, ClientRequestToken=self.token, SecretString=text,
                                         VersionStages=[PENDING], **extra)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceExistsException":
                return False
            raise
        return True

    def move_stage(self, stage: str, to_version: str | None = None, from_version: str | None = None) -> None:
        versions = {"MoveToVersionId": to_version, "RemoveFromVersionId": from_version}
        self.client.update_secret_version_stage(SecretId=self.arn, VersionStage=stage,
                                                **{name: v for name, v in versions.items() if v})

    def _secret_string(self, version: str, stage: str) -> str | None:
        # Name version and stage: a bare call can return another (stale) version. Values never change: read once.
        if (version, stage) in self._texts:
            return self._texts[version, stage]
        try:
            response = self.client.get_secret_value(SecretId=self.arn, VersionId=version, VersionStage=stage)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            # Undescribed (testSecret), a version without the stage meets the guards next.
            if code == "ResourceNotFoundException" or (code == "InvalidRequestException" and not self.described):
                return None
            raise
        text = response.get("SecretString")
        if text is None:
            raise ValueFault(stage, None, "is binary: it holds no SecretString")
        self._texts[version, stage] = text
        return text

    def _checked(self, text: str, label: str) -> SecretValue:
        value = parse_secret_json(text, label)
        if self.described:
            self.rotator.check_value(value, self.metadata, label)
        else:
            self.rotator.check_types(value, label)
        return value


def handle(event: object, rotator: Rotator) -> None:
    try:
        request = parse_event(event)
    except EventError as error:
        RotationLog(kind=rotator.kind).error(f"event refused: {error}", outcome="refused", event_field=error.field,
                                             **describe_error(error))
        raise
    log = RotationLog(step=request.step, secret_arn=request.secret_id, version_id=request.token, kind=rotator.kind)
    rotation = None
    try:
        rotation = Rotation(secretsmanager_client(), request, rotator, log)
        # testSecret starts with its stage-qualified read instead (test_secret); every other step describes first.
        if request.step != "testSecret" and not rotation.describe():
            rotation.log.info("version is already AWSCURRENT: nothing to do", outcome="skipped")
            return
        try:
            _STEP_FUNCTIONS[request.step](rotation)
        except ValueFault as fault:
            version = rotation.token if fault.label == PENDING else rotation.version_with(fault.label)
            raise fault.located(rotation.arn, version) from None
    except Exception as error:
        message = "rotation step failed" if unreachable_endpoint(error) is None else UNREACHABLE_MESSAGE
        (log if rotation is None else rotation.log).error(message, outcome="failed", **describe_error(error))
        raise
    rotation.log.info("rotation step done", outcome="done")


def _guard(description: DescribeSecretResponseTypeDef, rotation: Rotation) -> bool:
    """False when the step has nothing left to do."""
    enabled = description.get("RotationEnabled")
    if enabled is not True:
        state = "absent" if enabled is None else "false"
        raise ValueError(f"secret {rotation.arn} is not enabled for rotation (RotationEnabled is {state})")
    kind = rotation.metadata.require(KIND)
    if kind != rotation.rotator.kind:
        raise ValueError(f"secret tag '{KIND}' is '{kind}' but this function rotates '{rotation.rotator.kind}'")
    token_stages = rotation.stages.get(rotation.token)
    if token_stages is None:
        raise ValueError(f"event field 'ClientRequestToken' is not a version of secret {rotation.arn}")
    if CURRENT in token_stages and PENDING not in token_stages:
        return False
    if PENDING not in token_stages:
        raise ValueError(f"event field 'ClientRequestToken' names a version of {rotation.arn} that is not AWSPENDING")
    # AWSCURRENT with AWSPENDING: a first value, or a finished rotation. The steps are idempotent: they run again.
    return True


def create_secret(rotation: Rotation) -> None:
    rotator = rotation.rotator
    if rotator.created(rotation):
        rotation.log.info("AWSPENDING value already exists", outcome="kept")
        return
    current = rotation.current_value() if rotator.reads_current_to_create else None
    value = rotator.made_from(rotation, rotator.new_value(rotation.metadata, current))
    rotator.check_value(value, rotation.metadata, PENDING)
    if rotation.put_pending_value(json.dumps(value)):
        outcome = "bootstrapped" if rotation.replaced_version_id() is None else "created"
        rotation.log.info("stored new AWSPENDING value", stage=PENDING, outcome=outcome)
    else:
        value = rotation.require_pending_value()
        rotator.check_stored(rotation, value)
        rotation.log.info("AWSPENDING value already exists", outcome="kept")
    rotator.after_create(rotation, value)


def set_secret(rotation: Rotation) -> None:
    rotation.rotator.set_value(rotation)


def test_secret(rotation: Rotation) -> None:
    # No DescribeSecret: VersionId and VersionStage "must refer to the same secret version" (GetSecretValue API
    # reference), so a value proves the token AWSPENDING, its fields the kind.
    pending = rotation.pending_value()
    if pending is None:  # not AWSPENDING, or no value yet: the guards tell
        if not rotation.describe():
            rotation.log.info("version is already AWSCURRENT: nothing to do", outcome="skipped")
            return
        # RotateSecret with RotateImmediately=false (the stack's) runs this step alone "to test the rotation
        # configuration" on an empty AWSPENDING version: failing would fail every schedule change.
        rotation.log.info("configuration test: no new value pending", stage=PENDING, outcome="configuration-tested")
        return
    rotation.rotator.test_value(rotation, pending)


def finish_secret(rotation: Rotation) -> None:
    previous = rotation.current_version_id()

    def promote() -> None:
        if previous == rotation.token:
            return  # moved by an earlier run of this step (or the secret's first value)
        # Secrets Manager attaches AWSPREVIOUS to the version AWSCURRENT is removed from.
        rotation.move_stage(CURRENT, to_version=rotation.token, from_version=previous)
        rotation.log.info("moved AWSCURRENT to the new version", stage=CURRENT)

    rotation.rotator.finish_value(rotation, promote)
    # AWSPENDING stays on the new AWSCURRENT, as AWS's template leaves it: an end state RotateSecret accepts.


_STEP_FUNCTIONS: dict[str, Callable[[Rotation], None]] = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}
