"""Rotation of secrets that live only in Secrets Manager (API keys, webhook signing secrets).

Nothing outside Secrets Manager has to learn the new value: consumers read AWSCURRENT and
verifiers accept AWSCURRENT and AWSPREVIOUS, so setSecret only re-checks the pending value and
testSecret validates its format. Identity fields (env, name, scopes) are carried unchanged from
the current value; only the first value of a secret takes them from its tags.
"""

from rotation_common.protocol import CURRENT, PENDING, Rotator
from rotation_common.values import check_timestamp, require_same, secrets_equal, utc_timestamp


class StandaloneSecretRotator(Rotator):
    secret_field = ""  # the field holding the secret itself ("key", "secret")
    identity_fields = ()  # fields a rotation must carry unchanged

    def generate_secret(self, metadata):
        raise NotImplementedError

    def check_secret_format(self, secret, metadata):
        """Raise a ValueError naming the field unless `secret` is well formed."""
        raise NotImplementedError

    def identity_from_metadata(self, metadata):
        raise NotImplementedError

    @property
    def value_fields(self):
        return (self.secret_field, *self.identity_fields, "created_at")

    def new_value(self, metadata, current):
        identity, _ = self._expected_identity(metadata, current)
        return {self.secret_field: self.generate_secret(metadata), **identity, "created_at": utc_timestamp()}

    def set_value(self, rotation, pending, current):
        self._check_identity(rotation.metadata, pending, current)

    def test_value(self, rotation, pending, current):
        self._check_identity(rotation.metadata, pending, current)
        self.check_secret_format(pending[self.secret_field], rotation.metadata)
        check_timestamp(pending["created_at"], PENDING)
        if current is not None and secrets_equal(pending[self.secret_field], current[self.secret_field]):
            raise ValueError(f"{PENDING} value field '{self.secret_field}' equals the {CURRENT} one")

    def _expected_identity(self, metadata, current):
        if current is None:
            return self.identity_from_metadata(metadata), "the secret's tags"
        return {name: current[name] for name in self.identity_fields}, CURRENT

    def _check_identity(self, metadata, pending, current):
        expected, source = self._expected_identity(metadata, current)
        require_same(pending, expected, self.identity_fields, source)
