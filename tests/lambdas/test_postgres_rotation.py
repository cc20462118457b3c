"""Rotation of PostgreSQL application users against a real PostgreSQL 15 (TLS, scram-sha-256).

Each test gets its own database, master role (CREATEROLE, owner of the database, like an RDS
master) and role names, on the session's server; Secrets Manager is moto. The numbers in the
docstrings refer to the issue's test list.
"""

import json
import secrets
from dataclasses import dataclass, field

import pytest
from botocore.exceptions import ClientError
from pg8000.exceptions import DatabaseError, InterfaceError

import postgres_user_rotation.handler as pg_handler
from postgres_user_rotation import database
from tests.lambdas.harness import FINISHED, STEPS, AppCluster, patch_moto_first_value
from tests.support.postgres import PostgresUnavailable, running_postgres

pytestmark = pytest.mark.postgres


@dataclass
class AppDatabase:
    """One test's application on the module's database: its role names and secrets in moto."""

    cluster: AppCluster
    rotation: object
    suffix: str
    master_arn: str = ""
    roles: list = field(default_factory=list)

    @property
    def server(self):
        return self.cluster.server

    @property
    def dbname(self):
        return self.cluster.dbname

    @property
    def master_user(self):
        return self.cluster.master_user

    def superuser(self):
        return self.server.connect_superuser(self.dbname)

    def tags(self, base, owner, **overrides):
        tags = {
            "securestack:env": "dev",
            "securestack:name": "orders-db",
            "securestack:kind": "postgres-user",
            "securestack:db-host": self.server.host,
            "securestack:db-port": str(self.server.port),
            "securestack:db-name": self.dbname,
            "securestack:db-username": base,
            "securestack:db-owner-role": owner,
            # Spelled as the infrastructure writes it: '!' is not allowed in tag values.
            "securestack:master-secret-arn": self.master_arn.replace("!", "@21"),
        }
        self.roles += [base, base + "_clone", owner]
        return {**tags, **overrides}

    def value(self, username, password, **overrides):
        return {
            "engine": "postgres",
            "host": self.server.host,
            "port": self.server.port,
            "dbname": self.dbname,
            "username": username,
            "password": password,
            "masterarn": self.master_arn,
            **overrides,
        }

    def create_login(self, name, password):
        """A login role made by a DBA outside the rotation (not yet in the owner role)."""
        connection = self.superuser()
        connection.run(f"CREATE ROLE {database.quote_identifier(name)} LOGIN PASSWORD {database.quote_literal(password)}")
        connection.close()

    def user_secret(self, base="app", owner="app_owner", existing_user=True, **tag_overrides):
        """A user secret whose AWSCURRENT is the base user (made by a DBA), or with no value."""
        base, owner = f"{base}_{self.suffix}", f"{owner}_{self.suffix}"
        value = None
        if existing_user:
            password = secrets.token_urlsafe(24)
            self.create_login(base, password)
            value = self.value(base, password)
        return self.rotation.create_secret(f"db-user-{secrets.token_hex(4)}", self.tags(base, owner, **tag_overrides), value)

    def logs_in(self, value):
        try:
            connection = self.server.connect(value["username"], value["password"], value["dbname"])
        except DatabaseError as error:
            if database.sqlstate(error) in ("28P01", "28000"):
                return False
            raise
        connection.close()
        return True

    def connect_as(self, value):
        return self.server.connect(value["username"], value["password"], value["dbname"])

    def acting_role(self, value):
        connection = self.connect_as(value)
        try:
            return connection.run("SELECT current_user")[0][0]
        finally:
            connection.close()

    def role_state(self):
        """Roles, passwords, memberships and login settings of this test's roles."""
        connection = self.superuser()
        try:
            names = sorted(set(self.roles))
            roles = connection.run(
                "SELECT rolname, rolcanlogin, rolinherit, rolpassword FROM pg_authid"
                " WHERE rolname = ANY(:names) ORDER BY rolname",
                names=names,
            )
            members = connection.run(
                "SELECT g.rolname, u.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
                " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = ANY(:names) ORDER BY 1, 2",
                names=names,
            )
            settings = connection.run(
                "SELECT u.rolname, s.setconfig FROM pg_db_role_setting s JOIN pg_roles u ON u.oid = s.setrole"
                " WHERE u.rolname = ANY(:names) ORDER BY 1",
                names=names,
            )
            return {"roles": roles, "members": members, "settings": settings}
        finally:
            connection.close()

    def drop_roles(self):
        connection = self.superuser()
        try:
            existing = connection.run("SELECT rolname FROM pg_roles WHERE rolname = ANY(:names)", names=self.roles)
            names = ", ".join(database.quote_identifier(row[0]) for row in existing)
            if names:
                connection.run(f"DROP OWNED BY {names}")  # their tables and grants, then them
                connection.run(f"DROP ROLE {names}")
        finally:
            connection.close()


def provision_app(cluster, rotation, master_password=None):
    app = AppDatabase(cluster, rotation, secrets.token_hex(4))
    # As RDS stores a managed master secret: username and password only.
    master_value = {"username": cluster.master_user, "password": master_password or cluster.master_password}
    app.master_arn = rotation.client.create_secret(
        Name=f"rds!db-{app.suffix}", SecretString=json.dumps(master_value)
    )["ARN"]
    return app


@pytest.fixture(scope="module")
def app_cluster(postgres_server):
    cluster = AppCluster.create(postgres_server)
    yield cluster
    cluster.drop()


@pytest.fixture
def app_db(app_cluster, rotation, monkeypatch, secret_values):
    monkeypatch.setenv("PG_CA_BUNDLE", app_cluster.server.ca_file)
    app = provision_app(app_cluster, rotation)
    secret_values.add(app_cluster.master_password, app_cluster.server.superuser_password)
    yield app
    app.drop_roles()


def rotate(app, arn, token=None, steps=STEPS):
    return app.rotation.rotate(pg_handler, arn, token, steps)


def current(app, arn):
    return app.rotation.value(arn, "AWSCURRENT")


# 1 and 8: full rotations, alternating users, password-only changes


def test_first_rotation_creates_the_clone_and_later_ones_only_change_a_password(app_db):
    arn = app_db.user_secret()
    base_value = current(app_db, arn)

    rotate(app_db, arn)

    clone_value = current(app_db, arn)
    assert clone_value["username"] == base_value["username"] + "_clone"
    assert app_db.rotation.value(arn, "AWSPREVIOUS") == base_value
    assert app_db.logs_in(clone_value) and app_db.logs_in(base_value)  # previous still works
    owner = f"app_owner_{app_db.suffix}"
    assert app_db.acting_role(clone_value) == owner
    assert app_db.acting_role(base_value) == owner  # the DBA-made user joined the owner role

    before = app_db.role_state()
    rotate(app_db, arn)
    after = app_db.role_state()

    new_base = current(app_db, arn)
    assert new_base["username"] == base_value["username"] and new_base["password"] != base_value["password"]
    assert not app_db.logs_in(base_value) and app_db.logs_in(new_base) and app_db.logs_in(clone_value)
    changed = [(b, a) for b, a in zip(before["roles"], after["roles"]) if b != a]
    assert [(b[0], b[:3] == a[:3]) for b, a in changed] == [(base_value["username"], True)]  # password only
    assert (before["members"], before["settings"]) == (after["members"], after["settings"])


def test_both_users_read_and_write_tables_created_by_either(app_db):
    arn = app_db.user_secret()
    rotate(app_db, arn)
    base_value, clone_value = app_db.rotation.value(arn, "AWSPREVIOUS"), current(app_db, arn)

    as_base, as_clone = app_db.connect_as(base_value), app_db.connect_as(clone_value)
    try:
        orders, refunds = f"orders_{app_db.suffix}", f"refunds_{app_db.suffix}"
        as_base.run(f"CREATE TABLE {orders} (id int PRIMARY KEY)")
        as_base.run(f"INSERT INTO {orders} VALUES (1)")
        as_clone.run(f"INSERT INTO {orders} VALUES (2)")
        as_clone.run(f"CREATE TABLE {refunds} (order_id int REFERENCES {orders})")
        as_clone.run(f"INSERT INTO {refunds} VALUES (2)")
        as_base.run(f"INSERT INTO {refunds} VALUES (1)")
        assert as_base.run(f"SELECT count(*) FROM {refunds}")[0][0] == 2
        assert as_clone.run(f"SELECT count(*) FROM {orders}")[0][0] == 2
        as_clone.run(f"ALTER TABLE {orders} ADD COLUMN note text")  # owner-only: works for both
        owners = as_base.run(
            "SELECT tablename, tableowner FROM pg_tables WHERE tablename = ANY(:names) ORDER BY 1",
            names=[orders, refunds],
        )
    finally:
        as_base.close()
        as_clone.close()
    assert owners == [[orders, f"app_owner_{app_db.suffix}"], [refunds, f"app_owner_{app_db.suffix}"]]


# 2 and 3: idempotent steps, late retries


def test_every_step_twice_the_second_changes_nothing(app_db, aws_calls):
    arn = app_db.user_secret()
    token = app_db.rotation.start(arn)
    for step in STEPS:
        app_db.rotation.step(pg_handler, arn, token, step)
        secret_before, db_before = app_db.rotation.snapshot(arn), app_db.role_state()
        master_reads = len(aws_calls.params("GetSecretValue"))
        app_db.rotation.step(pg_handler, arn, token, step)
        assert app_db.rotation.snapshot(arn) == secret_before, step
        assert app_db.role_state() == db_before, step
        reads = aws_calls.params("GetSecretValue")[master_reads:]
        assert all(p["SecretId"] != app_db.master_arn for p in reads), step  # no master login
    # The retried createSecret sends PutSecretValue again; Secrets Manager refuses a second value under the token
    # (moto made to refuse as AWS does: harness.refuse_second_values) and the snapshot above shows nothing changed.
    assert aws_calls.count("PutSecretValue") == 2
    assert app_db.logs_in(current(app_db, arn))


def test_each_step_makes_only_the_calls_it_needs(app_db, aws_calls):
    """Issue 16 target 4, by count (bench/rotation.py sets it beside AWS's template): a DescribeSecret in every step
    but testSecret (its stage-qualified read of the token is its guard), each version read once; setSecret reads the
    master secret only to change a password (the first rotation creates the clone, the second changes the base
    user's password); no ECS call without the `securestack:ecs-service` tag; AWSPENDING left on AWSCURRENT."""
    from tests.lambdas.harness import operations_per_step

    describe, read, write, move = "DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"
    expected = {
        # AWSCURRENT (must log in; the new value is for its user's alternate and names its version: "replaces")
        "createSecret": [describe, read, write],
        "setSecret": [describe, read, read],  # AWSPENDING (made from the AWSCURRENT described), the master secret
        "testSecret": [read],  # AWSPENDING by version id and stage: logs in, acts as the owner role
        "finishSecret": [describe, read, move],  # AWSPENDING: a value, made from the AWSCURRENT described
    }
    arn = app_db.user_secret()
    assert operations_per_step(app_db.rotation, pg_handler, arn, aws_calls) == expected
    assert operations_per_step(app_db.rotation, pg_handler, arn, aws_calls) == expected


@pytest.mark.parametrize("step", STEPS)
def test_late_retry_after_finish_changes_nothing(app_db, step):
    arn = app_db.user_secret()
    token = rotate(app_db, arn)
    secret_before, db_before = app_db.rotation.snapshot(arn), app_db.role_state()
    app_db.rotation.step(pg_handler, arn, token, step)
    assert app_db.rotation.snapshot(arn) == secret_before
    assert app_db.role_state() == db_before


# 5: failures in every step (AWS and database), then the whole rotation retried


class FaultyConnection:
    """A pg8000 connection whose first statement containing `fragment` fails."""

    def __init__(self, connection, fragment, remaining):
        self._connection, self._fragment, self._remaining = connection, fragment, remaining

    def run(self, sql, **params):
        if self._remaining[0] > 0 and self._fragment in sql:
            self._remaining[0] -= 1
            raise DatabaseError({"S": "ERROR", "C": "XX000", "M": "injected by the test"})
        return self._connection.run(sql, **params)

    def close(self):
        self._connection.close()


def break_database(monkeypatch, fragment=None, connect_user=None):
    """Fail once: the first statement containing `fragment`, or connecting as `connect_user`."""
    original, remaining = database.connect, [1]

    def connect(credentials, context):
        if connect_user and credentials.username == connect_user and remaining[0] > 0:
            remaining[0] -= 1
            raise InterfaceError("communication error (injected by the test)")
        connection = original(credentials, context)
        return FaultyConnection(connection, fragment, remaining) if fragment else connection

    monkeypatch.setattr(database, "connect", connect)


FAULTS = [
    ("createSecret", "aws", "PutSecretValue"),
    ("setSecret", "aws", "master GetSecretValue"),
    ("setSecret", "db", "master connect"),
    ("setSecret", "db", "GRANT"),  # inside the transaction, after CREATE ROLE
    ("setSecret", "db", "ALTER ROLE"),
    ("testSecret", "db", "INSERT INTO securestack_rotation_probe"),
    ("testSecret", "aws", "GetSecretValue"),
    ("finishSecret", "aws", "UpdateSecretVersionStage"),
]


@pytest.mark.parametrize(("failing_step", "source", "what"), FAULTS)
def test_failure_in_a_step_then_retried_rotation_completes_and_current_always_logs_in(
    app_db, aws_calls, monkeypatch, failing_step, source, what
):
    arn = app_db.user_secret()
    old = current(app_db, arn)
    token = app_db.rotation.start(arn)
    rotate(app_db, arn, token, steps=STEPS[: STEPS.index(failing_step)])
    if what == "master GetSecretValue":
        aws_calls.fail("secrets-manager", "GetSecretValue", matching={"SecretId": app_db.master_arn})
    elif what == "master connect":
        break_database(monkeypatch, connect_user=app_db.master_user)
    elif source == "aws":
        aws_calls.fail("secrets-manager", what, when="after" if failing_step == "finishSecret" else "before")
    else:
        break_database(monkeypatch, fragment=what)

    with pytest.raises((ClientError, DatabaseError, InterfaceError), match="injected"):
        app_db.rotation.step(pg_handler, arn, token, failing_step)
    assert app_db.logs_in(current(app_db, arn))

    for step in STEPS:  # the retry, step by step: AWSCURRENT logs in at every point
        app_db.rotation.step(pg_handler, arn, token, step)
        assert app_db.logs_in(current(app_db, arn)), step

    new = current(app_db, arn)
    assert new["username"] == old["username"] + "_clone"
    assert app_db.rotation.value(arn, "AWSPREVIOUS") == old and app_db.logs_in(old)
    assert app_db.rotation.stages(arn)[token] == FINISHED


# 7: first rotation of a secret with no value


@pytest.mark.parametrize("first_value_becomes_current", [True, False], ids=["put-makes-current", "finish-makes-current"])
def test_first_rotation_bootstraps_the_base_user_and_owner_role_from_tags(app_db, monkeypatch, first_value_becomes_current):
    patch_moto_first_value(monkeypatch, first_value_becomes_current)
    arn = app_db.user_secret(existing_user=False)

    rotate(app_db, arn)

    value = current(app_db, arn)
    assert value == {**app_db.value(f"app_{app_db.suffix}", value["password"]), "replaces": None}  # a first value
    assert app_db.acting_role(value) == f"app_owner_{app_db.suffix}"
    rotate(app_db, arn)
    assert current(app_db, arn)["username"] == f"app_{app_db.suffix}_clone"
    assert app_db.logs_in(app_db.rotation.value(arn, "AWSPREVIOUS"))


# 8: refusals


def test_server_without_tls_is_refused_and_never_used_in_plaintext(rotation, monkeypatch, secret_values):
    try:
        context = running_postgres(tls=False)
        server = context.__enter__()
    except PostgresUnavailable as missing:
        pytest.skip(str(missing))
    try:
        app = provision_app(AppCluster.create(server), rotation)
        secret_values.add(app.cluster.master_password, server.superuser_password)
        arn = app.user_secret()
        monkeypatch.delenv("PG_CA_BUNDLE", raising=False)  # the packaged RDS bundle
        old = current(app, arn)
        token = rotation.start(arn)
        # createSecret is the first step to connect (it logs in as AWSCURRENT before storing anything).
        with pytest.raises(InterfaceError, match="Server refuses SSL"):
            rotation.step(pg_handler, arn, token, "createSecret")
        assert current(app, arn) == old and app.logs_in(old)  # (the test itself may use plaintext)
        assert rotation.snapshot(arn)[token][1] is None  # nothing stored
    finally:
        context.__exit__(None, None, None)


def test_server_certificate_not_signed_by_the_bundle_is_refused(app_db, monkeypatch):
    arn = app_db.user_secret()
    monkeypatch.setenv("PG_CA_BUNDLE", str(database.PACKAGED_CA_BUNDLE))  # the test CA is not in it
    token = app_db.rotation.start(arn)
    with pytest.raises(Exception) as raised:
        app_db.rotation.step(pg_handler, arn, token, "createSecret")  # the first step to connect
    assert "certificate verify failed" in repr(raised.value) + repr(raised.value.__cause__)
    assert app_db.rotation.snapshot(arn)[token][1] is None  # nothing stored


def test_missing_ca_bundle_names_the_variable(app_db, monkeypatch):
    arn = app_db.user_secret()
    monkeypatch.setenv("PG_CA_BUNDLE", "/nonexistent/bundle.pem")
    token = app_db.rotation.start(arn)
    with pytest.raises(ValueError, match="'PG_CA_BUNDLE'"):
        app_db.rotation.step(pg_handler, arn, token, "createSecret")  # the first step to connect


def test_wrong_master_credentials_are_refused_and_current_still_logs_in(app_db, rotation):
    app = provision_app(app_db.cluster, rotation, master_password="not-the-password")
    arn = app.user_secret()
    app_db.roles += app.roles  # dropped with the fixture's
    old = current(app, arn)
    token = rotation.start(arn)
    rotation.step(pg_handler, arn, token, "createSecret")
    with pytest.raises(ValueError, match="master credentials from 'masterarn' cannot log in"):
        rotation.step(pg_handler, arn, token, "setSecret")
    assert app.logs_in(old) and current(app, arn) == old
    assert not app.logs_in(rotation.value(arn, "AWSPENDING"))



def test_a_malformed_master_secret_is_named_with_its_version_not_the_user_secret(app_db, rotation, rotation_log_lines):
    """Issue 14: an int username in the master secret fails naming the master secret and its AWSCURRENT version
    (not the user secret being rotated), before any connection as the master."""
    rotation.client.put_secret_value(SecretId=app_db.master_arn, SecretString=json.dumps(
        {"username": 7, "password": app_db.cluster.master_password}), VersionStages=["AWSCURRENT"])
    master_version = next(v for v, stages in rotation.stages(app_db.master_arn).items() if "AWSCURRENT" in stages)
    arn = app_db.user_secret()
    token = rotation.start(arn)
    rotation.step(pg_handler, arn, token, "createSecret")
    with pytest.raises(ValueError, match="AWSCURRENT value field 'username' must be a string, not a number") as raised:
        rotation.step(pg_handler, arn, token, "setSecret")
    assert f"(secret {app_db.master_arn}, version {master_version})" in str(raised.value)
    failed = [line for line in rotation_log_lines() if line.get("outcome") == "failed"]
    assert [(line["secret_arn"], line["fault_version_id"]) for line in failed] == [(arn, master_version)]

def test_mixed_case_names_and_names_of_exactly_63_bytes_rotate(app_db):
    base = "Mixed.Case-" + "x" * (63 - len("_clone") - len("Mixed.Case-") - len("_12345678"))
    arn = app_db.user_secret(base=base, owner="App Owner")
    rotate(app_db, arn)
    rotate(app_db, arn)
    clone_value, base_value = app_db.rotation.value(arn, "AWSPREVIOUS"), current(app_db, arn)
    assert len(clone_value["username"].encode()) == 63
    assert app_db.acting_role(clone_value) == app_db.acting_role(base_value) == f"App Owner_{app_db.suffix}"


def test_names_longer_than_63_bytes_with_the_suffix_are_refused(app_db):
    arn = app_db.user_secret(base="x" * (64 - len("_clone") - len("_12345678")))
    token = app_db.rotation.start(arn)
    before = app_db.rotation.snapshot(arn)
    with pytest.raises(ValueError, match="'securestack:db-username' with '_clone' is longer than PostgreSQL's 63-byte"):
        app_db.rotation.step(pg_handler, arn, token, "createSecret")
    assert app_db.rotation.snapshot(arn) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"username": "someone_else"}, "AWSPENDING value field 'username' is neither the base user"),
        ("the current user", "AWSPENDING value field 'username' is not the alternate"),
        ({"host": "db.elsewhere.example"}, "field 'host' differs from secret tag 'securestack:db-host'"),
        ({"dbname": "postgres"}, "field 'dbname' differs from secret tag 'securestack:db-name'"),
        ({"masterarn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:other"}, "field 'masterarn' differs"),
    ],
)
def test_pending_value_for_another_user_or_database_is_refused(app_db, change, message):
    arn = app_db.user_secret()
    old = current(app_db, arn)
    token = app_db.rotation.start(arn)
    if change == "the current user":
        change = {"username": old["username"]}
    pending = {**old, "username": old["username"] + "_clone", "password": secrets.token_urlsafe(24), **change}
    app_db.rotation.put_pending(arn, token, pending)
    db_before = app_db.role_state()
    for step in ("createSecret", "setSecret", "finishSecret"):  # the steps that read AWSPENDING with the tags
        with pytest.raises(ValueError, match=message):
            app_db.rotation.step(pg_handler, arn, token, step)
    assert app_db.role_state() == db_before


def test_current_value_disagreeing_with_the_tags_is_refused(app_db):
    arn = app_db.user_secret(**{"securestack:db-host": "db.elsewhere.example"})
    with pytest.raises(ValueError, match="AWSCURRENT value field 'host' differs from secret tag 'securestack:db-host'"):
        app_db.rotation.step(pg_handler, arn, app_db.rotation.start(arn), "createSecret")


def test_current_credentials_that_cannot_log_in_stop_the_rotation(app_db):
    arn = app_db.user_secret()
    old = current(app_db, arn)
    app_db.superuser().run(f"ALTER ROLE {old['username']} PASSWORD 'changed-behind-our-back'")
    token = app_db.rotation.start(arn)
    # createSecret logs in as AWSCURRENT before it stores a value for the alternate user (setSecret then trusts the
    # version the value names: REPLACES); a hand-made pending value without it meets the same check in setSecret.
    with pytest.raises(ValueError, match="AWSCURRENT credentials cannot log in"):
        app_db.rotation.step(pg_handler, arn, token, "createSecret")
    assert app_db.rotation.snapshot(arn)[token][1] is None
    app_db.rotation.put_pending(arn, token, {**old, "username": old["username"] + "_clone", "password": "x" * 43})
    with pytest.raises(ValueError, match="AWSCURRENT credentials cannot log in"):
        app_db.rotation.step(pg_handler, arn, token, "setSecret")


def test_test_secret_refuses_pending_credentials_that_cannot_log_in(app_db):
    arn = app_db.user_secret()
    token = app_db.rotation.start(arn)
    app_db.rotation.step(pg_handler, arn, token, "createSecret")  # setSecret skipped
    with pytest.raises(ValueError, match="AWSPENDING credentials cannot log in"):
        app_db.rotation.step(pg_handler, arn, token, "testSecret")


def test_test_secret_refuses_a_user_that_does_not_act_as_the_owner_role(app_db):
    arn = app_db.user_secret()
    token = app_db.rotation.start(arn)
    app_db.rotation.step(pg_handler, arn, token, "createSecret")
    pending = app_db.rotation.value(arn, "AWSPENDING")
    app_db.create_login(pending["username"], pending["password"])  # made by hand, outside the scheme
    with pytest.raises(ValueError, match="does not act as the owner role"):
        app_db.rotation.step(pg_handler, arn, token, "testSecret")
    app_db.rotation.step(pg_handler, arn, token, "setSecret")  # setSecret repairs it
    app_db.rotation.step(pg_handler, arn, token, "testSecret")


def test_the_server_only_ever_receives_a_scram_verifier(app_db):
    arn = app_db.user_secret()
    rotate(app_db, arn)
    value = current(app_db, arn)
    stored = app_db.superuser().run("SELECT rolpassword FROM pg_authid WHERE rolname = :n", n=value["username"])[0][0]
    assert database.VERIFIER_PATTERN.fullmatch(stored) and value["password"] not in stored


def test_the_configuration_test_of_a_rotation_that_is_not_immediate_changes_nothing(app_db):
    """Issue 11 item 10: Secrets Manager's testSecret-only run (RotateImmediately=false) on a copy of AWSCURRENT
    passes without touching the database, and that copy is never promoted."""
    arn = app_db.user_secret()
    token = app_db.rotation.start(arn)
    app_db.rotation.put_pending(arn, token, current(app_db, arn))
    before, db_before = app_db.rotation.snapshot(arn), app_db.role_state()
    app_db.rotation.step(pg_handler, arn, token, "testSecret")
    with pytest.raises(ValueError, match="AWSPENDING value field 'username' is not the alternate of the AWSCURRENT"):
        app_db.rotation.step(pg_handler, arn, token, "finishSecret")
    assert app_db.rotation.snapshot(arn) == before and app_db.role_state() == db_before
