"""The secret age alarms (issue 15): keys and webhook secrets are measured daily and alarmed on the audit topic.

A vendor-issued key has no rotator: nothing but its age says it is due. So a stack with any key or webhook secret
must have a function on a daily EventBridge schedule that may publish the `Securestack/Secrets` metrics (and may
not read a value), and one alarm per count it publishes (overdue, without a current value, compromised) for this
environment, above 0, treating missing data as breaching, notifying an SNS topic of the stack.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from pulumi_policy import PolicyResource, Severity

from .support import Report, SecurestackPolicy
from .support import (Controls, StackGraph, actions_of, get, items, kind_of, label, number, peek, plain,
                      role_policy_statements, stack_environment, stack_policy)
from .types import FUNCTION, METRIC_ALARM, PERMISSION, ROLE, ROLE_POLICY, SECRET, TOPIC

EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
NAMESPACE = "Securestack/Secrets"  # lambdas/secret_age/handler.py
COUNTS = ("OverdueSecrets", "SecretsWithoutCurrentValue", "CompromisedSecrets")
MEASURED_KINDS = ("api-key", "webhook-secret")
PUBLISH_ACTION = "cloudwatch:PutMetricData"
VALUE_ACTIONS = ("secretsmanager:getsecretvalue", "secretsmanager:batchgetsecretvalue", "secretsmanager:*")
RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
DAY_SECONDS = 86400


def at_least_daily(expression: Any) -> bool:
    """`rate(...)` of a day or less, or a cron that fires every day (day of month `*` or `?`, any day of week)."""
    text = str(expression or "").strip()
    rate = RATE.match(text)
    if rate:
        return int(rate.group(1)) * UNIT_SECONDS[rate.group(2).rstrip("s")] <= DAY_SECONDS
    if text.startswith("cron(") and text.endswith(")"):
        fields = text[5:-1].split()
        return len(fields) == 6 and fields[2] in ("*", "?") and fields[4] in ("*", "?")
    return False


def publishes_secret_metrics(statement: Mapping[str, Any]) -> bool:
    if PUBLISH_ACTION.lower() not in (a.lower() for a in actions_of(statement)):
        return False
    condition = plain(statement.get("Condition") or {})
    namespaces = {str(v) for operator in condition.values() if hasattr(operator, "get")
                  for v in items(operator.get("cloudwatch:namespace"))}
    return not namespaces or NAMESPACE in namespaces


def reads_values(statement: Mapping[str, Any]) -> bool:
    return any(a.lower() in VALUE_ACTIONS or a == "*" for a in actions_of(statement))


def scheduled_functions(graph: StackGraph) -> list[PolicyResource]:
    """Functions an EventBridge rule of the stack invokes at least daily, with the invoke permission for it."""
    found = []
    for rule in graph.of_type(EVENT_RULE):
        if not at_least_daily(get(rule.props, "scheduleExpression")):
            continue
        for target in graph.referrers(rule, "rule", EVENT_TARGET):
            for function in graph.referenced(target, "arn", FUNCTION):
                permitted = any(get(p.props, "principal") == "events.amazonaws.com"
                                and graph.refers_to(p, "sourceArn", rule)
                                for p in graph.referrers(function, "function", PERMISSION))
                if permitted and function not in found:
                    found.append(function)
    return found


def role_grants(graph: StackGraph, function: PolicyResource) -> list[Mapping[str, Any]]:
    return [s for role in graph.referenced(function, "role", ROLE) for s in role_policy_statements(graph, role,
                                                                                                   ROLE_POLICY)]


def notifies_both_ways(graph: StackGraph, alarm: PolicyResource) -> bool:
    """A topic hears when the alarm fires and when it clears (the vendor key promoted, the mark removed)."""
    return bool(graph.referenced(alarm, "alarmActions", TOPIC) and graph.referenced(alarm, "okActions", TOPIC))


def errors_alarmed(graph: StackGraph, function: PolicyResource) -> bool:
    """An alarm to a topic on the function's own AWS/Lambda Errors (it could not list or publish)."""
    return any(peek(a.props, "namespace") == "AWS/Lambda" and peek(a.props, "metricName") == "Errors"
               and graph.refers_to(a, "dimensions", function) and graph.referenced(a, "alarmActions", TOPIC)
               for a in graph.of_type(METRIC_ALARM))


def counts_alarmed(graph: StackGraph, environment: str) -> set[str]:
    """The counts an alarm of the stack watches as the age alarms must: this environment, above 0, missing data
    breaching, notifying a topic."""
    found = set()
    for alarm in graph.of_type(METRIC_ALARM):
        props = alarm.props
        threshold = number(peek(props, "threshold"))
        above_zero = (peek(props, "comparisonOperator") == "GreaterThanThreshold" and threshold == 0) or \
            (peek(props, "comparisonOperator") == "GreaterThanOrEqualToThreshold" and threshold == 1)
        if peek(props, "namespace") == NAMESPACE and above_zero \
                and peek(props, "treatMissingData") == "breaching" \
                and (peek(props, "dimensions") or {}).get("Environment") == environment \
                and notifies_both_ways(graph, alarm):
            found.add(str(peek(props, "metricName")))
    return found


@stack_policy("secret-age-alarmed", "A stack with API key or webhook secrets runs the secret age function on a "
              "daily schedule (it may publish the Securestack/Secrets metrics and read no value, and its errors "
              "raise an alarm) and alarms on its overdue, without-current-value and compromised counts for the "
              "environment (above 0, missing data breaching) to an SNS topic, when they fire and when they clear", Controls(sources=(
                  "README: Architecture (secret ages), Audit (the secret age alarms)",
                  "issue 15 item 3: age alarms for every secret of the environment",
                  "guides: rotate every 90 days, and at once after an exposure")),
              [SECRET, FUNCTION, PERMISSION, ROLE, ROLE_POLICY, EVENT_RULE, EVENT_TARGET, METRIC_ALARM, TOPIC],
              Severity.HIGH)
def secret_age_alarmed(graph: StackGraph, report: Report) -> None:
    if not any(kind_of(secret) in MEASURED_KINDS for secret in graph.of_type(SECRET)):
        return
    publishers = [f for f in scheduled_functions(graph) if any(publishes_secret_metrics(s)
                                                                for s in role_grants(graph, f))]
    if not publishers:
        report(f"no function on a daily EventBridge schedule may publish the {NAMESPACE} metrics: a key nobody "
               "rotates (vendor-issued) or whose rotation stopped grows old unnoticed")
    for function in publishers:
        if any(reads_values(s) for s in role_grants(graph, function)):
            report(f"{label(function)} publishes the secret ages but its role may read secret values (it needs "
                   "names, tags and dates only)", function.urn)
        if not errors_alarmed(graph, function):
            report(f"{label(function)} has no alarm to an SNS topic on its AWS/Lambda Errors: a run that failed "
                   "would go unnoticed until the count alarms run out of data", function.urn)
    missing = [count for count in COUNTS if count not in counts_alarmed(graph, stack_environment())]
    if missing:
        report(f"no alarm watches {NAMESPACE} {', '.join(missing)} for environment {stack_environment()} (above "
               "0, missing data breaching, notifying an SNS topic when it fires and when it clears)")


POLICIES: list[SecurestackPolicy] = [secret_age_alarmed]
