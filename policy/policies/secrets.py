"""Secrets Manager: every secret under the environment's CMK, described, rotated at least every 90 days, and no
secret value ever passing through Pulumi."""
from __future__ import annotations

import re

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from .support import (Controls, StackGraph, get, is_false, label, number, peek, present, resource_policy, shown,
                      stack_policy)
from .types import SECRET, SECRET_READINESS, SECRET_ROTATION, SECRET_VERSION

AWS_MANAGED_SECRETS_KEY = "alias/aws/secretsmanager"
MAX_ROTATION_DAYS = 90  # the guides: rotate every 90 days
RATE = re.compile(r"^rate\((\d+) (day|days|hour|hours)\)$")
CRON = re.compile(r"^cron\((.+)\)$")
HOURS_PER_DAY = 24


@stack_policy("secret-rotation-configured", "Every Secrets Manager secret has automatic rotation by a rotation "
              "function", Controls(fsbp=("SecretsManager.1",), checkov=("CKV2_AWS_57",),
                                   sources=("guides: regular rotation",)), [SECRET, SECRET_ROTATION], Severity.HIGH)
def secret_rotation_configured(graph: StackGraph, report: ReportViolation) -> None:
    for secret in graph.of_type(SECRET):
        rotations = [r for r in graph.referrers(secret, "secretId", SECRET_ROTATION)
                     if not is_false(peek(r.props, "rotationEnabled")) and present(r.props, "rotationLambdaArn")]
        if not rotations:
            report(f"{label(secret)} has no enabled aws.secretsmanager.SecretRotation with a rotation function",
                   secret.urn)


@stack_policy("secret-first-rotation-only-immediate", "Only a secret's first rotation is immediate: every "
              "SecretRotation sets rotateImmediately false (pulumi-aws re-sends it with every update, so a schedule "
              "or rotator change would rotate at once) and its secret has a SecretReadiness check, which starts the "
              "first rotation and holds the deploy until the secret has a value",
              Controls(sources=("design: the rotator gives every secret its first value before a task starts",)),
              [SECRET_ROTATION, SECRET_READINESS, SECRET], Severity.MEDIUM)
def secret_first_rotation(graph: StackGraph, report: ReportViolation) -> None:
    checks = graph.of_type(SECRET_READINESS)
    for rotation in graph.of_type(SECRET_ROTATION):
        immediate = peek(rotation.props, "rotateImmediately")
        if not is_false(immediate):
            report(f"{label(rotation)} has rotateImmediately {shown(immediate)} (absent means true): every update "
                   "of it rotates the secret at once", rotation.urn)
        secrets = graph.referenced(rotation, "secretId", SECRET)
        if not any(graph.refers_to(check, "secretArn", secret) for check in checks for secret in secrets):
            report(f"{label(rotation)}: its secret has no SecretReadiness check, so its first value would wait for "
                   "the schedule and nothing would wait for it", rotation.urn)


def rotation_interval_days(rules) -> float | None:
    """Days between rotations for `automaticallyAfterDays` or a rate()/cron() `scheduleExpression`."""
    days = number(get(rules, "automaticallyAfterDays"))
    if days:
        return days
    expression = str(get(rules, "scheduleExpression") or "")
    rate = RATE.match(expression)
    if rate:
        amount = float(rate.group(1))
        return amount / HOURS_PER_DAY if rate.group(2).startswith("hour") else amount
    cron = CRON.match(expression)
    if cron:
        fields = cron.group(1).split()
        # minutes hours day-of-month month day-of-week [year]: every month (or more often) is <= 31 days.
        return 31.0 if len(fields) >= 5 and fields[3] in ("*", "?") else None
    return None


@resource_policy("secret-rotation-within-90-days", f"Secrets rotate at least every {MAX_ROTATION_DAYS} days",
                 Controls(fsbp=("SecretsManager.4",), checkov=("CKV_AWS_304",),
                          sources=("guides: rotate every 90 days",)), [SECRET_ROTATION], Severity.HIGH)
def secret_rotation_interval(args: ResourceValidationArgs, report: ReportViolation) -> None:
    days = rotation_interval_days(get(args.props, "rotationRules"))
    if days is None:
        report("rotationRules set no interval the policy can bound (automaticallyAfterDays, rate(...) or a cron "
               "that runs every month)")
    elif days > MAX_ROTATION_DAYS:
        report(f"rotationRules give {shown(days)} days between rotations; at most {MAX_ROTATION_DAYS}")


@resource_policy("secret-encrypted-with-cmk", "Secrets are encrypted with a customer-managed KMS key, not the "
                 "AWS-managed aws/secretsmanager key", Controls(checkov=("CKV_AWS_149",)), [SECRET], Severity.HIGH)
def secret_cmk(args: ResourceValidationArgs, report: ReportViolation) -> None:
    key = get(args.props, "kmsKeyId")
    if not key or str(key).endswith(AWS_MANAGED_SECRETS_KEY):
        report("kmsKeyId names no customer-managed key")


@resource_policy("secret-has-description", "Secrets say what they are (a description), never in their value",
                 Controls(sources=("design: metadata lives outside the value",)), [SECRET], Severity.LOW)
def secret_description(args: ResourceValidationArgs, report: ReportViolation) -> None:
    description = get(args.props, "description")
    if not isinstance(description, str) or not description.strip():
        report("description is empty")


@resource_policy("secret-version-no-plaintext", "No SecretVersion carries a value: secrets get their first value "
                 "from their rotator, so no secret sits in Pulumi state", Controls(
                     sources=("design: no secret value passes through Pulumi", "guides: never commit keys")),
                 [SECRET_VERSION], Severity.CRITICAL)
def secret_version_plaintext(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for key in ("secretString", "secretBinary", "secretStringWo"):
        if get(args.props, key):
            report(f"SecretVersion sets {key}")


POLICIES = [secret_rotation_configured, secret_first_rotation, secret_rotation_interval, secret_cmk,
            secret_description, secret_version_plaintext]
