"""Daily age check of one environment's secrets, published as the CloudWatch metrics the age alarms watch.

An EventBridge schedule (`rate(1 day)`) invokes it, and the operator CLI's `revoke` and `promote` on demand
(`{}`); its only configuration is `SECURESTACK_ENVIRONMENT`. It lists the environment's secrets
(`securestack/<env>/{api-keys,webhooks,database}/...`; verifier records are not secrets anyone rotates), reads each one's rotation schedule and tags with DescribeSecret (ListSecrets "might not
reflect changes from the last five minutes", its API reference says, and `revoke` tags a secret just before an
operator looks at the alarm) and the creation date of its AWSCURRENT version with ListSecretVersionIds, and
publishes in the namespace `Securestack/Secrets`:

- per secret (dimensions Environment, Secret = its name): `SecretAgeDays` (days since the AWSCURRENT version was
  created; only when there is one) and `SecretHasCurrentValue` (1 or 0);
- per environment (dimension Environment): `OverdueSecrets`, `SecretsWithoutCurrentValue`, `CompromisedSecrets`.

Overdue: a vendor secret older than its rotation days; a self-issued one older than its rotation days + 1
(Secrets Manager rotates within a window on day N), which is how a rotation that stopped working shows. It never
calls GetSecretValue: names, tags, dates and stages only, so no value can reach a log line or a metric.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rotation_common.clients import aws_client
from rotation_common.logging_json import describe_error

# The type checker reads this file as secret_age.handler (TYPE_CHECKING is true for it only), as the tests import it.
if TYPE_CHECKING or __package__:
    from secret_age.clients import cloudwatch_client
else:  # in the Lambda archive this function's files sit at the root
    from clients import cloudwatch_client

ENVIRONMENT_VARIABLE = "SECURESTACK_ENVIRONMENT"
ENVIRONMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
NAMESPACE = "Securestack/Secrets"
SECRET_PATHS = ("api-keys", "webhooks", "database")
CURRENT = "AWSCURRENT"

# Tags the stack and the operator CLI write (contract 15).
ENV_TAG = "securestack:env"
ISSUER_TAG = "securestack:issuer"
ROTATION_DAYS_TAG = "securestack:rotation-days"
COMPROMISED_TAG = "securestack:compromised"
ISSUER_SELF, ISSUER_VENDOR = "self", "vendor"
# Secrets Manager starts a scheduled rotation within a window on its day, so a healthy self-issued secret may be
# up to a day older than its schedule.
SELF_ISSUED_WINDOW_DAYS = 1

AGE_METRIC, HAS_CURRENT_METRIC = "SecretAgeDays", "SecretHasCurrentValue"
OVERDUE_METRIC, WITHOUT_CURRENT_METRIC, COMPROMISED_METRIC = \
    "OverdueSecrets", "SecretsWithoutCurrentValue", "CompromisedSecrets"
# PutMetricData took at most 20 metrics per request until 2023 (now 1000, 1 MB): 20 is within both, and an
# environment's few dozen secrets still need only a few requests a day.
METRICS_PER_REQUEST = 20
VERSIONS_PER_PAGE = 100  # ListSecretVersionIds' MaxResults maximum
SECONDS_PER_DAY = 86400
RATE_IN_DAYS = re.compile(r"^rate\((\d+) days?\)$")

# Problems a secret can have, as logged (`problems`) and counted.
OVERDUE, NO_SCHEDULE, NO_CURRENT, COMPROMISED, UNREADABLE = \
    "overdue", "no-rotation-schedule", "no-current-value", "compromised", "unreadable"

LOGGER_NAME = "securestack.secret_age"
# Names, counts, days and error codes only: the function never holds a value, and a field outside this list is a
# programming error the tests catch. (Its own list, not rotation_common.logging_json's: that module is packaged
# with every rotator, and the API key rotator's code is at its 50 KB budget, tests/lambdas/test_packaging.py.)
ALLOWED_FIELDS = frozenset({"secret_name", "issuer", "problems", "age_days", "rotation_days", "secrets", "metrics",
                            "outcome", "event_field", "error_type", "error_code", "aws_endpoint", "fault_stage",
                            "fault_version_id", "fault_field"})


class _StdoutHandler(logging.Handler):
    """The JSON line alone on stdout (CloudWatch gets it as is), wherever sys.stdout points at emit time."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(record.getMessage() + "\n")
            sys.stdout.flush()
        except Exception:  # a log line must never stop the check
            self.handleError(record)


class AgeLog:
    """One JSON object per line: a constant message and allowed fields."""

    def __init__(self) -> None:
        self._logger = logging.getLogger(LOGGER_NAME)
        if not self._logger.handlers:
            self._logger.addHandler(_StdoutHandler())
        self._logger.propagate = False  # the runtime's root handler would prefix the JSON with text
        self._logger.setLevel(logging.INFO)

    def info(self, message: str, **fields: object) -> None:
        self._log(logging.INFO, message, fields)

    def warning(self, message: str, **fields: object) -> None:
        self._log(logging.WARNING, message, fields)

    def error(self, message: str, **fields: object) -> None:
        self._log(logging.ERROR, message, fields)

    def _log(self, level: int, message: str, fields: dict[str, object]) -> None:
        unknown = set(fields) - ALLOWED_FIELDS
        if unknown:
            raise TypeError(f"log fields not allowed: {sorted(unknown)}")
        line = {"level": logging.getLevelName(level), "message": message, "kind": "secret-age", **fields}
        self._logger.log(level, json.dumps(line, sort_keys=True, default=str))


LOG = AgeLog()


class ConfigurationError(ValueError):
    """The function's environment names no environment: nothing can be checked."""


@dataclass
class SecretState:
    """What the check found about one secret (never its value)."""

    name: str
    issuer: str = ISSUER_SELF
    age_days: float | None = None  # None: no AWSCURRENT version
    rotation_days: int | None = None  # None: no schedule and no securestack:rotation-days tag
    compromised: bool = False
    unreadable: bool = False  # DescribeSecret or ListSecretVersionIds failed: counted as without a current value

    @property
    def has_current(self) -> bool:
        return self.age_days is not None and not self.unreadable

    @property
    def overdue(self) -> bool:
        if not self.has_current:
            return False  # counted as without a current value instead
        if self.rotation_days is None:
            return True  # nothing says how old it may get: a vendor key nobody scheduled
        window = SELF_ISSUED_WINDOW_DAYS if self.issuer == ISSUER_SELF else 0
        assert self.age_days is not None  # has_current
        return self.age_days > self.rotation_days + window

    def problems(self) -> list[str]:
        found = []
        if self.unreadable:
            found.append(UNREADABLE)
        elif not self.has_current:
            found.append(NO_CURRENT)
        if self.overdue:
            found.append(OVERDUE if self.rotation_days is not None else NO_SCHEDULE)
        if self.compromised:
            found.append(COMPROMISED)
        return found


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def configured_environment() -> str:
    environment = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not ENVIRONMENT_NAME.match(environment):
        LOG.error(f"environment variable {ENVIRONMENT_VARIABLE} is missing or not an environment name",
                  outcome="refused")
        raise ConfigurationError(f"environment variable {ENVIRONMENT_VARIABLE} is missing or not an environment name "
                                 "(lowercase letters, digits and '-')")
    return environment


def scheduled_event_problem(event: object) -> str | None:
    """The field that makes `event` something else than an EventBridge scheduled event or an operator's on-demand
    run (`{}`: the operator CLI's `revoke` and `promote` start the function so the compromised alarm moves at once),
    else None."""
    if not isinstance(event, Mapping):
        return "event"
    if not event:
        return None
    if event.get("source") != "aws.events":
        return "source"
    if event.get("detail-type") != "Scheduled Event":
        return "detail-type"
    return None


def tags_of(description: Mapping[str, Any]) -> dict[str, str]:
    return {tag.get("Key", ""): tag.get("Value", "") for tag in description.get("Tags") or []}


def environment_secrets(client: Any, environment: str) -> Iterator[Mapping[str, Any]]:
    """ListSecrets entries of the environment's keys, webhook secrets and database login.

    The tag-key and tag-value filters match independently (any tag with that key, any tag with that value), so
    the environment tag and the name are checked again here."""
    prefixes = tuple(f"securestack/{environment}/{path}/" for path in SECRET_PATHS)
    filters = [{"Key": "tag-key", "Values": [ENV_TAG]}, {"Key": "tag-value", "Values": [environment]}]
    for page in client.get_paginator("list_secrets").paginate(Filters=filters):
        for entry in page.get("SecretList", []):
            if str(entry.get("Name", "")).startswith(prefixes) and tags_of(entry).get(ENV_TAG) == environment:
                yield entry


def current_version_created(client: Any, secret_arn: str) -> datetime.datetime | None:
    """When the AWSCURRENT version was created; None when no version is AWSCURRENT."""
    request: dict[str, Any] = {"SecretId": secret_arn, "IncludeDeprecated": False, "MaxResults": VERSIONS_PER_PAGE}
    while True:
        page = client.list_secret_version_ids(**request)
        for version in page.get("Versions", []):
            if CURRENT in version.get("VersionStages", []):
                created = version["CreatedDate"]
                if not isinstance(created, datetime.datetime):
                    raise TypeError("CreatedDate is not a date")
                return created
        if not page.get("NextToken"):
            return None
        request["NextToken"] = page["NextToken"]


def positive_days(text: str | None) -> int | None:
    return int(text) if text and text.strip().isdigit() and int(text) >= 1 else None


def rotation_days_of(description: Mapping[str, Any], tags: Mapping[str, str]) -> int | None:
    """The schedule Secrets Manager rotates on when rotation is enabled, else the `securestack:rotation-days` tag
    (a vendor secret, or a self-issued one whose rotation was turned off)."""
    if description.get("RotationEnabled"):
        rules = description.get("RotationRules") or {}
        days = rules.get("AutomaticallyAfterDays")
        if isinstance(days, int) and days >= 1:
            return days
        rate = RATE_IN_DAYS.match(str(rules.get("ScheduleExpression") or ""))
        if rate:
            return int(rate.group(1))
    return positive_days(tags.get(ROTATION_DAYS_TAG))


def issuer_of(tags: Mapping[str, str]) -> str:
    """`self` when untagged (the database login, secrets made before issue 15); any other value than `self` gets a
    vendor secret's stricter rule (no rotation window)."""
    issuer = tags.get(ISSUER_TAG, "").strip()
    return ISSUER_SELF if issuer in ("", ISSUER_SELF) else ISSUER_VENDOR


def secret_state(client: Any, entry: Mapping[str, Any], now: datetime.datetime) -> SecretState:
    name, arn = str(entry.get("Name")), str(entry.get("ARN"))
    try:
        description = client.describe_secret(SecretId=arn)
        tags = tags_of(description)
        created = current_version_created(client, arn)
    except Exception as error:  # one secret that cannot be read must not hide the others
        LOG.error("secret could not be described: counted as without a current value", secret_name=name,
                  problems=[UNREADABLE], outcome="unreadable", **describe_error(error))
        return SecretState(name, unreadable=True)
    state = SecretState(name, issuer=issuer_of(tags), rotation_days=rotation_days_of(description, tags),
                        compromised=bool(tags.get(COMPROMISED_TAG, "").strip()))
    if created is not None:
        state.age_days = max(0.0, (now - created).total_seconds() / SECONDS_PER_DAY)
    return state


def _datum(metric: str, value: float, dimensions: list[dict[str, str]], now: datetime.datetime,
           unit: str) -> dict[str, Any]:
    return {"MetricName": metric, "Dimensions": dimensions, "Timestamp": now, "Value": value, "Unit": unit}


def metric_data(environment: str, states: list[SecretState], now: datetime.datetime) -> list[dict[str, Any]]:
    """The environment's counts first (what the alarms watch, in the first request), then each secret's."""
    environment_dimension = [{"Name": "Environment", "Value": environment}]
    data = [
        _datum(OVERDUE_METRIC, sum(s.overdue for s in states), environment_dimension, now, "Count"),
        _datum(WITHOUT_CURRENT_METRIC, sum(not s.has_current for s in states), environment_dimension, now, "Count"),
        _datum(COMPROMISED_METRIC, sum(s.compromised for s in states), environment_dimension, now, "Count"),
    ]
    for state in states:
        dimensions = [*environment_dimension, {"Name": "Secret", "Value": state.name}]
        data.append(_datum(HAS_CURRENT_METRIC, 1 if state.has_current else 0, dimensions, now, "None"))
        if state.has_current and state.age_days is not None:
            data.append(_datum(AGE_METRIC, round(state.age_days, 3), dimensions, now, "None"))
    return data


def publish(cloudwatch: Any, data: list[dict[str, Any]]) -> None:
    """Every batch is tried; any refused one fails the invocation afterwards (the function's Errors alarm)."""
    batches = [data[start:start + METRICS_PER_REQUEST] for start in range(0, len(data), METRICS_PER_REQUEST)]
    refused = 0
    for batch in batches:
        try:
            cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=batch)
        except Exception as error:
            refused += 1
            LOG.error("metrics could not be published", metrics=len(batch), outcome="publish-failed",
                      **describe_error(error))
    if refused:
        raise RuntimeError(f"{refused} of {len(batches)} PutMetricData requests failed (see the log)")


def log_problems(states: list[SecretState]) -> None:
    for state in states:
        problems = state.problems()
        if problems and not state.unreadable:  # an unreadable secret was logged when it failed
            LOG.warning("secret needs attention", secret_name=state.name, issuer=state.issuer, problems=problems,
                        age_days=None if state.age_days is None else round(state.age_days, 1),
                        rotation_days=state.rotation_days, outcome="attention")


def lambda_handler(event: object, context: object) -> dict[str, Any]:
    environment = configured_environment()
    problem = scheduled_event_problem(event)
    if problem is not None:
        # The event carries nothing the check needs: the alarms are fed anyway.
        LOG.warning("event is not an EventBridge scheduled event: checking the secrets anyway", event_field=problem,
                    outcome="unexpected-event")
    now = utc_now()
    secrets_client = aws_client("secretsmanager")
    try:
        entries = list(environment_secrets(secrets_client, environment))
    except Exception as error:  # nothing to measure: the run fails (the Errors alarm), the counts go missing
        LOG.error("secrets could not be listed", outcome="list-failed", **describe_error(error))
        raise
    states = [secret_state(secrets_client, entry, now) for entry in entries]
    log_problems(states)
    data = metric_data(environment, states, now)
    publish(cloudwatch_client(), data)
    LOG.info("secret ages published", secrets=len(states), metrics=len(data), outcome="published")
    return {
        "environment": environment, "secrets": len(states), "metrics": len(data), "unexpectedEvent": problem,
        "overdue": sorted(s.name for s in states if s.overdue),
        "withoutCurrentValue": sorted(s.name for s in states if not s.has_current),
        "compromised": sorted(s.name for s in states if s.compromised),
    }
