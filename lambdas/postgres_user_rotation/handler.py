"""Secrets Manager rotation function for PostgreSQL application users (alternating users).

Value: {"engine", "host", "port", "dbname", "username", "password", "masterarn"}. Each rotation
switches between the base user (tag `securestack:db-username`) and `<base>_clone`, setting a new
password on the one not in use, so AWSPREVIOUS keeps logging in until the next rotation. Both
users act as the shared owner role (tag `securestack:db-owner-role`). The master credentials
come from the secret at `masterarn`; an RDS-managed master secret holds only username and
password, so host, port and dbname always come from the user secret.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rotation_common import metadata as tags
from rotation_common.consumers import redeploy_consumers
from rotation_common.metadata import SecretMetadata
from rotation_common.protocol import CURRENT, PENDING, Rotation, Rotator, handle
from rotation_common.values import (
    SecretValue,
    ValueFault,
    parse_secret_json,
    require_fields,
    require_text,
)

if TYPE_CHECKING:  # boto3-stubs, a dev dependency: the Lambda runtime has boto3 only
    from mypy_boto3_secretsmanager import SecretsManagerClient

# The type checker reads this file as postgres_user_rotation.handler (TYPE_CHECKING is true for it only).
if TYPE_CHECKING or __package__:  # imported as postgres_user_rotation.handler (tests, tools)
    from postgres_user_rotation import database
else:  # in the Lambda archive this kind's files sit at the root
    import database

ENGINE = "postgres"
# In a pending value: the version id of the AWSCURRENT it was made from (None for a first value). setSecret and
# finishSecret compare it with the version DescribeSecret names instead of reading AWSCURRENT: createSecret checked
# the pending user is that version's alternate and logged in as it, and a version's value never changes.
REPLACES = "replaces"
CLONE_SUFFIX = "_clone"
PASSWORD_BYTES = 32
CONNECTION_FIELDS = ("engine", "host", "port", "dbname", "masterarn")
TEXT_FIELDS = ("host", "dbname", "username", "password", "masterarn")
_TAG_OF_FIELD = {
    "host": tags.DB_HOST,
    "port": tags.DB_PORT,
    "dbname": tags.DB_NAME,
    "masterarn": tags.MASTER_SECRET_ARN,
}


@dataclass(frozen=True)
class UserRotationPlan:
    """The checked pair of users of one rotation and the role they share."""

    pending: database.Credentials
    current: database.Credentials | None
    owner_role: str
    masterarn: str
    peers: tuple[str, ...] = ()  # the other user of the pair, a member of the owner role too


class PostgresUserRotator(Rotator):
    kind = "postgres-user"
    value_fields = ("engine", "host", "port", "dbname", "username", "password", "masterarn")
    reads_current_to_create = True  # the pending value is for the user AWSCURRENT does not hold

    def check_value(self, value: SecretValue, metadata: SecretMetadata, label: str) -> None:
        """Types first (an int 'username' is named, never an AttributeError in the driver), then every tag present:
        the connection tags and the base user. Runs on every version read with the tags at hand."""
        self.check_types(value, label)
        for name, tag in _TAG_OF_FIELD.items():
            tagged = metadata.master_secret_arn() if tag == tags.MASTER_SECRET_ARN else metadata.get(tag)
            if tagged is not None and str(value[name]) != tagged:
                raise ValueFault(label, name, f"differs from secret tag '{tag}'")
        base = metadata.get(tags.DB_USERNAME)
        if base is not None and value["username"] not in (base, base + CLONE_SUFFIX):
            raise ValueFault(label, "username", f"is neither the base user (secret tag '{tags.DB_USERNAME}') nor "
                                                f"its '{CLONE_SUFFIX}'")

    def check_types(self, value: SecretValue, label: str) -> None:
        require_fields(value, self.value_fields, label)
        if value["engine"] != ENGINE:
            raise ValueFault(label, "engine", f"is not '{ENGINE}'")
        for name in TEXT_FIELDS:
            require_text(value, name, label)
        _port(value["port"], label)

    def check_stored(self, rotation: Rotation, pending: SecretValue) -> None:
        # A value stored before this run (an earlier run, or someone else): the user AWSCURRENT does not hold, for
        # the same database. Never a copy: a copy names AWSCURRENT's user.
        current = rotation.current_value()
        check_pending(rotation.metadata, pending, current)
        _require_login(current)

    def new_value(self, metadata: SecretMetadata, current: SecretValue | None) -> SecretValue:
        connection = expected_connection(metadata, current)
        _require_login(current)
        return {
            "engine": connection["engine"],
            "host": connection["host"],
            "port": connection["port"],
            "dbname": connection["dbname"],
            "username": next_username(metadata, current),
            "password": secrets.token_urlsafe(PASSWORD_BYTES),
            "masterarn": connection["masterarn"],
        }

    def made_from(self, rotation: Rotation, value: SecretValue) -> SecretValue:
        return {**value, REPLACES: rotation.replaced_version_id()}

    def set_value(self, rotation: Rotation) -> None:
        pending = rotation.require_pending_value()
        if made_from_current(rotation, pending):
            plan = plan_from_pending(rotation, pending)
        else:  # made by hand, or before REPLACES: checked against AWSCURRENT, read
            plan = plan_rotation(rotation.metadata, pending, rotation.current_value())
        context = database.tls_context()
        log = rotation.log.bind(db_host=plan.pending.host, db_user=plan.pending.username)
        if database.session_role(plan.pending, context) == plan.owner_role:
            log.info("AWSPENDING credentials already log in", outcome="already-set")
            return
        # Logging in as the current user proves this secret controls it (confused deputy guard; createSecret did, for
        # the AWSCURRENT version REPLACES names).
        if plan.current is not None and database.session_role(plan.current, context) is None:
            raise ValueError(f"{CURRENT} credentials cannot log in to the database: refusing to rotate")
        master = master_credentials(rotation.client, plan)
        try:
            connection = database.connect(master, context)
        except database.LoginRefused:
            raise ValueError("master credentials from 'masterarn' cannot log in to the database") from None
        try:
            peers = plan.peers
            database.grant_login(
                connection, plan.pending.username, plan.pending.password, plan.owner_role, plan.pending.dbname, peers
            )
        finally:
            connection.close()
        log.info("set the AWSPENDING password in the database", outcome="set")

    def test_value(self, rotation: Rotation, pending: SecretValue) -> None:
        credentials = _credentials(pending)
        try:
            with database.session(credentials, database.tls_context()) as connection:
                # No tags here (testSecret's one call is the read of AWSPENDING): setSecret made the user act as the
                # tag's owner role, checked there; acting as a role other than itself proves that setting holds.
                acting_role = connection.run("SELECT current_user")[0][0]
                if acting_role == credentials.username:
                    raise ValueError(f"{PENDING} user does not act as the owner role on login")
                database.probe_app_privileges(connection)
        except database.LoginRefused:
            raise ValueError(f"{PENDING} credentials cannot log in to the database") from None
        except ValueError:
            # A copy of AWSCURRENT is Secrets Manager's configuration test (RotateSecret with RotateImmediately=false,
            # where moto copies AWSCURRENT): it passes unchanged. Only this failing path costs the guards and a read.
            if rotation.describe() and pending == rotation.current_value():
                rotation.log.info("configuration test: AWSPENDING holds AWSCURRENT", outcome="configuration-tested")
                return
            raise

    def finish_value(self, rotation: Rotation, promote: Callable[[], None]) -> None:
        # Never an empty version (AWSPENDING's value is read) nor a copy of AWSCURRENT: made from that version
        # (REPLACES, the check that saves reading it), or, read, its user is not the alternate.
        pending = rotation.require_pending_value()
        if not made_from_current(rotation, pending):
            check_pending(rotation.metadata, pending, rotation.current_value())
        promote()
        # The app's tasks get the database login injected when they start, so the consuming service (tag
        # `securestack:ecs-service`) is redeployed; its running tasks keep the previous user, still valid. A retry
        # after a crash here redeploys again (harmless).
        redeploy_consumers(rotation.metadata, rotation.log)


def expected_connection(metadata: SecretMetadata, current: SecretValue | None) -> dict[str, Any]:
    """Connection fields every version must share: the tags', or AWSCURRENT's (checked against them on reading)."""
    if current is None:
        return {
            "engine": ENGINE,
            "host": metadata.require(tags.DB_HOST),
            "port": metadata.require_port(),
            "dbname": metadata.require(tags.DB_NAME),
            "masterarn": metadata.master_secret_arn(required=True),
        }
    connection = {name: current[name] for name in CONNECTION_FIELDS}
    connection["port"] = _port(current["port"], CURRENT)
    return connection


def next_username(metadata: SecretMetadata, current: SecretValue | None) -> str:
    """The user the pending value is for: the base user first, then the other of the pair."""
    base = base_username(metadata, current)
    if current is None:
        return base
    clone = base + CLONE_SUFFIX
    if current["username"] == base:
        return clone
    if current["username"] == clone:
        return base
    raise ValueFault(CURRENT, "username", f"is neither the base user nor its '{CLONE_SUFFIX}'")


def base_username(metadata: SecretMetadata, current: SecretValue | None) -> str:
    base = metadata.get(tags.DB_USERNAME)
    if base is None:
        if current is None:
            base = metadata.require(tags.DB_USERNAME)  # raises: the tag is missing and there is no current user
        else:
            base = current["username"].removesuffix(CLONE_SUFFIX)
    database.check_identifier(base + CLONE_SUFFIX, f"secret tag '{tags.DB_USERNAME}' with '{CLONE_SUFFIX}'")
    return base


def check_pending(metadata: SecretMetadata, pending: SecretValue, current: SecretValue | None) -> dict[str, Any]:
    """Refuse a pending value for another database or a user that is not the alternate (a copy is not)."""
    expected = expected_connection(metadata, current)
    source = "the secret's tags" if current is None else CURRENT
    require_same({**pending, "port": _port(pending["port"], PENDING)}, expected, CONNECTION_FIELDS, source)
    if pending["username"] != next_username(metadata, current):
        raise ValueFault(PENDING, "username", f"is not the alternate of the {CURRENT} user")
    return expected


def plan_rotation(metadata: SecretMetadata, pending: SecretValue, current: SecretValue | None) -> UserRotationPlan:
    expected = check_pending(metadata, pending, current)
    return UserRotationPlan(
        pending=_credentials(pending),
        current=None if current is None else _credentials(current),
        owner_role=owner_role_tag(metadata),
        masterarn=expected["masterarn"],
        peers=() if current is None else (current["username"],),
    )


def made_from_current(rotation: Rotation, pending: SecretValue) -> bool:
    return REPLACES in pending and pending[REPLACES] == rotation.replaced_version_id()


def plan_from_pending(rotation: Rotation, pending: SecretValue) -> UserRotationPlan:
    """setSecret's plan without reading AWSCURRENT: `pending` was made from it (made_from_current), checked against
    the tags on reading; the other user of the pair is AWSCURRENT's."""
    metadata = rotation.metadata
    base = metadata.require(tags.DB_USERNAME)
    database.check_identifier(base + CLONE_SUFFIX, f"secret tag '{tags.DB_USERNAME}' with '{CLONE_SUFFIX}'")
    peer = base + CLONE_SUFFIX if pending["username"] == base else base
    return UserRotationPlan(pending=_credentials(pending), current=None, owner_role=owner_role_tag(metadata),
                            masterarn=pending["masterarn"], peers=() if pending[REPLACES] is None else (peer,))


def owner_role_tag(metadata: SecretMetadata) -> str:
    owner_role = metadata.require(tags.DB_OWNER_ROLE)
    database.check_identifier(owner_role, f"secret tag '{tags.DB_OWNER_ROLE}'")
    return owner_role


def _require_login(current: SecretValue | None) -> None:
    # Logging in as the current user proves this secret controls the pair (confused deputy guard), before a value
    # for its alternate is stored and setSecret sets its password.
    if current is not None and database.session_role(_credentials(current), database.tls_context()) is None:
        raise ValueError(f"{CURRENT} credentials cannot log in to the database: refusing to rotate")


def master_credentials(client: SecretsManagerClient, plan: UserRotationPlan) -> database.Credentials:
    response = client.get_secret_value(SecretId=plan.masterarn, VersionStage=CURRENT)
    try:
        master = parse_secret_json(response.get("SecretString", ""), CURRENT)
        require_fields(master, ("username", "password"), CURRENT)
        require_text(master, "username", CURRENT)
        require_text(master, "password", CURRENT)
        if master.get("host") and master["host"] != plan.pending.host:
            raise ValueFault(CURRENT, "host", "names another host than the user secret")
    except ValueFault as fault:  # in the master secret (masterarn), not in the secret being rotated
        raise fault.located(plan.masterarn, response.get("VersionId")) from None
    return database.Credentials(
        host=plan.pending.host,
        port=plan.pending.port,
        dbname=plan.pending.dbname,
        username=master["username"],
        password=master["password"],
    )


def require_same(pending: SecretValue, expected: SecretValue, names: Iterable[str], expected_label: str) -> None:
    """Fields that must not change across a rotation (host, port, ...)."""
    for name in names:
        if pending.get(name) != expected.get(name):
            raise ValueFault(PENDING, name, f"differs from {expected_label}")


def _credentials(value: SecretValue) -> database.Credentials:
    return database.Credentials(
        host=value["host"],
        port=int(value["port"]),
        dbname=value["dbname"],
        username=value["username"],
        password=value["password"],
    )


def _port(value: object, label: str) -> int:
    text = str(value)  # a JSON number or a string of digits
    if isinstance(value, bool) or not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueFault(label, "port", "is not a TCP port")
    return int(text)


ROTATOR = PostgresUserRotator()


def lambda_handler(event: object, context: object) -> None:
    handle(event, ROTATOR)
