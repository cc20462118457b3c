"""Rotation of secrets that live only in Secrets Manager (API keys, webhook signing secrets): nothing is pushed
anywhere, identity fields (env, name, scopes) come from the tags. finishSecret honours `securestack:revoke-previous`
(`python -m infra.secrets rotate --revoke-previous`): the replaced value ends right after the move, then the tag is
removed, last, so that a failure before leaves it for the retry.
"""

from collections.abc import Callable

from rotation_common.protocol import CURRENT, PENDING, PREVIOUS, Rotation, Rotator
from rotation_common.metadata import REVOKE_PREVIOUS, TAG_PREFIX, SecretMetadata
from rotation_common.values import (
    SecretValue, ValueFault, check_timestamp, require_fields, require_scope_list, require_text, secrets_equal,
    utc_timestamp)


class StandaloneSecretRotator(Rotator):
    secret_field = ""  # the field holding the secret itself ("key", "secret")
    identity_fields: tuple[str, ...] = ()  # fields a rotation must carry unchanged

    def generate_secret(self, metadata: SecretMetadata) -> str:
        raise NotImplementedError

    def check_secret_format(self, secret: object, metadata: SecretMetadata | None) -> None:
        """`metadata` is None in testSecret (no tags)."""
        raise NotImplementedError

    def identity_from_metadata(self, metadata: SecretMetadata) -> SecretValue:
        raise NotImplementedError

    def check_value(self, value: SecretValue, metadata: SecretMetadata, label: str) -> None:
        """Types, then identity fields against their tags (scopes as a set: their order grants nothing)."""
        self.check_types(value, label)
        tagged = self.identity_from_metadata(metadata)
        for name in self.identity_fields:
            same = sorted(value[name]) == sorted(tagged[name]) if name == "scopes" else value[name] == tagged[name]
            if not same:
                raise ValueFault(label, name, f"differs from secret tag '{TAG_PREFIX}{name}'")

    def check_types(self, value: SecretValue, label: str) -> None:
        require_fields(value, self.value_fields, label)
        for name in self.value_fields:
            if name == "scopes":
                require_scope_list(value, name, label)
            else:
                require_text(value, name, label)

    @property
    def value_fields(self) -> tuple[str, ...]:
        return (self.secret_field, *self.identity_fields, "created_at")

    def new_value(self, metadata: SecretMetadata, current: SecretValue | None) -> SecretValue:
        return {self.secret_field: self.generate_secret(metadata), **self.identity_from_metadata(metadata),
                "created_at": utc_timestamp()}

    def created(self, rotation: Rotation) -> bool:
        self.set_value(rotation)
        return False

    def check_stored(self, rotation: Rotation, pending: SecretValue) -> None:
        self.check_format(rotation, pending)
        replaced = rotation.current_value()
        if replaced is not None and secrets_equal(pending[self.secret_field], replaced[self.secret_field]):
            raise ValueFault(PENDING, self.secret_field, f"equals the {CURRENT} one")

    def set_value(self, rotation: Rotation) -> None:
        rotation.metadata.revoke_previous()  # a malformed tag stops the rotation before anything is stored or moves

    def test_value(self, rotation: Rotation, pending: SecretValue) -> None:
        self.check_format(rotation, pending)

    def check_format(self, rotation: Rotation, pending: SecretValue) -> None:
        self.check_secret_format(pending[self.secret_field], rotation.metadata if rotation.described else None)
        check_timestamp(pending["created_at"], PENDING)

    def finish_value(self, rotation: Rotation, promote: Callable[[], None]) -> None:
        revoke = rotation.metadata.revoke_previous()  # a malformed tag stops the step before anything moves
        self.promote_and_retire(rotation, promote, revoke)
        if revoke:
            rotation.client.untag_resource(SecretId=rotation.arn, TagKeys=[REVOKE_PREVIOUS])
            rotation.log.info("previous value revoked; revoke tag removed", outcome="revoked")

    def promote_and_retire(self, rotation: Rotation, promote: Callable[[], None], revoke: bool) -> None:
        """Refuse an empty version or a copy (both read), move AWSCURRENT; on `revoke`, drop the replaced version's
        AWSPREVIOUS label, the one way a receiver finds the replaced value."""
        self.check_stored(rotation, rotation.require_pending_value())
        replaced = rotation.replaced_version_id()
        promote()
        # `replaced` holds AWSPREVIOUS now: the old AWSCURRENT just moved from, or (a retry) the labelled one.
        if revoke and replaced is not None:
            rotation.move_stage(PREVIOUS, from_version=replaced)
