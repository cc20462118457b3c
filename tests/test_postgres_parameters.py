"""The parameter group's PostgreSQL parameters against a real server, so a typo fails here, not in `pulumi up`.

Every parameter each stack file's stack sends (all but RDS's own `rds.*`) must exist in the server's `pg_settings`,
carry a value valid for its type (bool spelling, integer/real within min_val..max_val, one of the enum values),
and be applied `immediate` only when the server can change it without a restart (context not `postmaster`).
The server itself then judges each value (ALTER SYSTEM parses it exactly as postgresql.conf would).
"""
from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Mapping, Optional

import pytest

from securestack.components.database import postgres_parameters
from securestack.infra.settings.database import DatabaseSettings
from tests.support.stacks import STACK_FILES, shipped_recording

pytestmark = pytest.mark.postgres

RDS_ONLY = "rds."
# PostgreSQL's bool spellings (parse_bool); RDS parameter groups use 1/0.
BOOL_SPELLINGS = {"on", "off", "true", "false", "yes", "no", "1", "0"}
PARAMETER_NAME = re.compile(r"^[a-z_][a-z0-9_.]*$")


@dataclass(frozen=True)
class ServerSetting:
    name: str
    vartype: str
    context: str
    min_val: Optional[str]
    max_val: Optional[str]
    enumvals: Optional[tuple[str, ...]]


def _number(text: str, vartype: str):
    return int(text) if vartype == "integer" else float(text)


def value_problem(setting: ServerSetting, value: str) -> Optional[str]:
    """Why the server would refuse `value` for `setting`, from pg_settings' own metadata; None if valid."""
    if setting.vartype == "bool":
        return None if value.lower() in BOOL_SPELLINGS else f"'{value}' is not a boolean"
    if setting.vartype in ("integer", "real"):
        try:
            number = _number(value, setting.vartype)
        except ValueError:
            return f"'{value}' is not an {setting.vartype} (give it in the parameter's base unit)"
        low, high = _number(setting.min_val, setting.vartype), _number(setting.max_val, setting.vartype)
        return None if low <= number <= high else f"{value} is outside {setting.min_val}..{setting.max_val}"
    if setting.vartype == "enum":
        return None if value in setting.enumvals else f"'{value}' is not one of {list(setting.enumvals)}"
    return None if "\x00" not in value else "a string cannot hold NUL"


def parameter_problems(parameters: list[Mapping[str, str]], server: Mapping[str, ServerSetting]) -> list[str]:
    """Every problem of a parameter group's parameters (name, value, applyMethod) against pg_settings."""
    problems = []
    for parameter in parameters:
        name, value, apply_method = parameter["name"], parameter["value"], parameter.get("applyMethod", "immediate")
        if name.startswith(RDS_ONLY):
            continue
        setting = server.get(name)
        if setting is None:
            problems.append(f"{name}: no such parameter in pg_settings")
            continue
        problem = value_problem(setting, value)
        if problem:
            problems.append(f"{name}: {problem}")
        if apply_method == "immediate" and setting.context == "postmaster":
            problems.append(f"{name}: needs a restart (context postmaster); use applyMethod pending-reboot")
    return problems


@pytest.fixture(scope="module")
def server_settings(postgres_server) -> dict[str, ServerSetting]:
    connection = postgres_server.connect_superuser()
    try:
        rows = connection.run("SELECT name, vartype, context, min_val, max_val, enumvals FROM pg_settings")
    finally:
        connection.close()
    return {row[0]: ServerSetting(row[0], row[1], row[2], row[3], row[4], tuple(row[5]) if row[5] else None)
            for row in rows}


@pytest.fixture(scope="module")
def server_version(postgres_server) -> str:
    connection = postgres_server.connect_superuser()
    try:
        return connection.run("SHOW server_version")[0][0]
    finally:
        connection.close()


def sent_parameters(stack: str) -> list[dict]:
    """The parameters exactly as the stack sends them to the engine."""
    return shipped_recording(stack).one("aws:rds/parameterGroup:ParameterGroup").inputs["parameters"]


def as_sent(parameters: Mapping[str, str]) -> list[dict]:
    return [{"name": n, "value": v, "applyMethod": "immediate"} for n, v in parameters.items()]


def settings_variants() -> list[DatabaseSettings]:
    """Every log_statement the settings allow and both ends of log_min_duration_statement's range."""
    field = DatabaseSettings.model_fields["log_min_duration_statement_ms"]
    bounds = [m for m in field.metadata if hasattr(m, "ge") or hasattr(m, "le")]
    low = next(m.ge for m in bounds if hasattr(m, "ge"))
    high = next(m.le for m in bounds if hasattr(m, "le"))
    statements = typing.get_args(DatabaseSettings.model_fields["log_statement"].annotation)
    return [DatabaseSettings(log_statement=statement, log_min_duration_statement_ms=duration)
            for statement in statements for duration in (low, high)]


@pytest.mark.parametrize("stack", STACK_FILES)
def test_shipped_parameters_are_valid_on_a_real_server(server_settings, server_version, stack):
    parameters = sent_parameters(stack)
    assert [p for p in parameters if not p["name"].startswith(RDS_ONLY)], "nothing to check"
    assert parameter_problems(parameters, server_settings) == [], f"PostgreSQL {server_version}"


def test_every_value_the_settings_allow_is_valid(server_settings, server_version):
    for settings in settings_variants():
        problems = parameter_problems(as_sent(postgres_parameters(settings.log_statement,
                                                              settings.log_min_duration_statement_ms)),
                                      server_settings)
        assert problems == [], f"PostgreSQL {server_version}, {settings.log_statement=}"


@pytest.mark.parametrize("stack", STACK_FILES)
def test_the_server_accepts_every_value(postgres_server, stack):
    """ALTER SYSTEM parses the value as postgresql.conf would (then RESET: nothing is reloaded)."""
    connection = postgres_server.connect_superuser()
    try:
        for parameter in sent_parameters(stack):
            if parameter["name"].startswith(RDS_ONLY):
                continue
            alter_and_reset(connection, parameter["name"], parameter["value"])
    finally:
        connection.close()


def alter_and_reset(connection, name: str, value: str) -> None:
    assert PARAMETER_NAME.match(name), name
    literal = value.replace("'", "''")
    connection.run(f"ALTER SYSTEM SET {name} = '{literal}'")  # autocommit: a refused value changes nothing
    connection.run(f"ALTER SYSTEM RESET {name}")


@pytest.mark.parametrize("broken, expected", [
    ({"name": "log_conections", "value": "1"}, "log_conections: no such parameter"),
    ({"name": "ssl_min_protocol_version", "value": "TLSv1.4"}, "ssl_min_protocol_version: 'TLSv1.4' is not one of"),
    ({"name": "log_statement", "value": "everything"}, "log_statement: 'everything' is not one of"),
    ({"name": "log_connections", "value": "maybe"}, "log_connections: 'maybe' is not a boolean"),
    ({"name": "idle_in_transaction_session_timeout", "value": "-5"}, "is outside 0.."),
    ({"name": "idle_in_transaction_session_timeout", "value": "10min"}, "is not an integer"),
    ({"name": "shared_buffers", "value": "16384"}, "shared_buffers: needs a restart"),
])
def test_the_validator_catches_mistakes(server_settings, broken, expected):
    good = sent_parameters("dev")
    problems = parameter_problems([*good, {**broken, "applyMethod": "immediate"}], server_settings)
    assert len(problems) == 1 and expected in problems[0], problems


def test_the_server_refuses_a_misspelled_parameter(postgres_server):
    import pg8000.native

    connection = postgres_server.connect_superuser()
    try:
        with pytest.raises(pg8000.native.DatabaseError, match="log_conections"):
            connection.run("ALTER SYSTEM SET log_conections = '1'")
    finally:
        connection.close()
