"""PostgreSQL access for the rotation: verified TLS sessions and the role changes.

Every connection is TLS with certificate and host name verification against a CA bundle (the
Amazon RDS bundle shipped here, or PG_CA_BUNDLE). pg8000 raises instead of falling back to
plaintext when it is given an SSLContext and the server refuses TLS.

Alternating users share one owner role: both are members of it and have `role` set to it on
login, so every object either creates is owned by the owner role and usable by both. (AWS's
template grants the old user to the clone instead, which leaves objects created by the clone
owned by it and unreadable to the other user.)
"""

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pg8000.native
from pg8000.exceptions import DatabaseError
from pg8000.native import Connection  # pg8000 ships no types (pyproject.toml's mypy override): Any to mypy

PACKAGED_CA_BUNDLE = Path(__file__).with_name("rds-global-bundle.pem")
MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names
CONNECT_TIMEOUT_SECONDS = 10
# invalid_password, invalid_authorization_specification (e.g. role may not log in)
_LOGIN_REFUSED_CODES = {"28P01", "28000"}


# SCRAM-SHA-256 verifiers are computed here so the plaintext password never reaches the server:
# `ALTER ROLE ... PASSWORD '<verifier>'` stores the verifier as is, and a server that logs DDL
# then logs nothing usable. Algorithm: RFC 5802/7677, in PostgreSQL's pg_authid format.
SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
SCRAM_SALT_BYTES = 16
_B64 = r"[A-Za-z0-9+/]+={0,2}"
VERIFIER_PATTERN = re.compile(rf"SCRAM-SHA-256\$\d+:{_B64}\${_B64}:{_B64}")


def scram_sha256_verifier(password: str, iterations: int = SCRAM_ITERATIONS) -> str:
    salt = secrets.token_bytes(SCRAM_SALT_BYTES)
    # Our passwords are ASCII, for which SASLprep (RFC 4013) changes nothing.
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class LoginRefused(Exception):
    """The server refused these credentials (not a network or TLS failure)."""


@dataclass(frozen=True)
class Credentials:
    host: str
    port: int
    dbname: str
    username: str
    password: str = field(repr=False)


def tls_context() -> ssl.SSLContext:
    bundle = os.environ.get("PG_CA_BUNDLE") or str(PACKAGED_CA_BUNDLE)
    if not os.path.isfile(bundle):
        raise ValueError("environment variable 'PG_CA_BUNDLE' names no file (CA bundle for PostgreSQL TLS)")
    # create_default_context verifies the chain and the host name.
    context = ssl.create_default_context(cafile=bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def connect(credentials: Credentials, context: ssl.SSLContext) -> Connection:
    """A session over verified TLS; LoginRefused when the server rejects the credentials."""
    try:
        return pg8000.native.Connection(
            user=credentials.username,
            password=credentials.password,
            host=credentials.host,
            port=credentials.port,
            database=credentials.dbname,
            ssl_context=context,
            timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="securestack-rotation",
        )
    except DatabaseError as error:
        if sqlstate(error) in _LOGIN_REFUSED_CODES:
            raise LoginRefused(credentials.username) from None
        raise


@contextlib.contextmanager
def session(credentials: Credentials, context: ssl.SSLContext) -> Iterator[Connection]:
    connection = connect(credentials, context)
    try:
        yield connection
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def session_role(credentials: Credentials, context: ssl.SSLContext) -> str | None:
    """The role a fresh session of these credentials acts as, or None if login is refused."""
    try:
        with session(credentials, context) as connection:
            role: str = connection.run("SELECT current_user")[0][0]
            return role
    except LoginRefused:
        return None


def sqlstate(error: BaseException) -> str | None:
    details: object = error.args[0] if error.args else None
    if not isinstance(details, dict):
        return None
    code: str | None = details.get("C")  # pg8000 puts the server's error fields in a dict, SQLSTATE under "C"
    return code


def check_identifier(name: object, source: str) -> None:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"{source} is not a valid PostgreSQL role name")
    if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise ValueError(f"{source} is longer than PostgreSQL's {MAX_IDENTIFIER_BYTES}-byte limit for names")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    # standard_conforming_strings is on (the default since 9.1): only quotes need doubling.
    return "'" + text.replace("'", "''") + "'"


def grant_login(connection: Connection, user: str, password: str, owner_role: str, dbname: str,
                peers: Iterable[str] = ()) -> None:
    """As the master: give `user` this password and make it and `peers` act as `owner_role`.

    One transaction, so a failure leaves the database as it was. Changes are made only where
    needed, so a later rotation of an existing user changes nothing but its password.
    """
    verifier = scram_sha256_verifier(password)
    if not VERIFIER_PATTERN.fullmatch(verifier):  # it is embedded in SQL: be sure of its shape
        raise ValueError("computed password verifier has an unexpected format")
    connection.run("BEGIN")
    try:
        _ensure_owner_role(connection, owner_role, dbname)
        verb = "ALTER" if _role_exists(connection, user) else "CREATE"
        connection.run(f"{verb} ROLE {quote_identifier(user)} WITH LOGIN PASSWORD {quote_literal(verifier)}")
        for member in (user, *peers):
            _ensure_acts_as_owner(connection, member, owner_role)
        connection.run("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            connection.run("ROLLBACK")
        raise


def probe_app_privileges(connection: Connection) -> None:
    """Write and read a table, rolled back: fails unless the session may do the app's work."""
    connection.run("BEGIN")
    try:
        connection.run("CREATE TEMPORARY TABLE securestack_rotation_probe (checked_at timestamptz) ON COMMIT DROP")
        connection.run("INSERT INTO securestack_rotation_probe VALUES (now())")
        connection.run("SELECT count(*) FROM securestack_rotation_probe")
    finally:
        connection.run("ROLLBACK")


def _role_exists(connection: Connection, name: str) -> bool:
    return bool(connection.run("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :name", name=name))


def _ensure_owner_role(connection: Connection, owner_role: str, dbname: str) -> None:
    if _role_exists(connection, owner_role):
        return  # an existing owner role keeps the privileges its administrators gave it
    owner = quote_identifier(owner_role)
    connection.run(f"CREATE ROLE {owner} NOLOGIN")
    # What an application needs to own its objects; more is granted by the app's migrations.
    connection.run(f"GRANT CONNECT, TEMPORARY ON DATABASE {quote_identifier(dbname)} TO {owner}")
    connection.run(f"GRANT USAGE, CREATE ON SCHEMA public TO {owner}")


def _ensure_acts_as_owner(connection: Connection, user: str, owner_role: str) -> None:
    membership = connection.run(
        "SELECT 1 FROM pg_catalog.pg_auth_members m"
        " JOIN pg_catalog.pg_roles g ON g.oid = m.roleid"
        " JOIN pg_catalog.pg_roles u ON u.oid = m.member"
        " WHERE g.rolname = :owner AND u.rolname = :user",
        owner=owner_role,
        user=user,
    )
    if not membership:
        connection.run(f"GRANT {quote_identifier(owner_role)} TO {quote_identifier(user)}")
    role_setting = connection.run(
        "SELECT 1 FROM pg_catalog.pg_db_role_setting s"
        " JOIN pg_catalog.pg_roles u ON u.oid = s.setrole"
        " WHERE s.setdatabase = 0 AND u.rolname = :user AND :setting = ANY (s.setconfig)",
        user=user,
        setting=f"role={owner_role}",
    )
    if not role_setting:
        # Applied at every login: objects the user creates belong to the owner role.
        connection.run(f"ALTER ROLE {quote_identifier(user)} SET role = {quote_literal(owner_role)}")
