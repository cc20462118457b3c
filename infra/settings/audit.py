"""Audit settings: the CloudTrail trail (or an existing organization trail), its bucket, alarm recipients."""
from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Optional
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from .base import SettingsModel, earlier

LOG_GROUP_NAME = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
                   r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
# An IAM role or user ARN (wildcards allowed in the name); it ends up inside a metric filter pattern,
# so quotes, backslashes and spaces, which would break out of the pattern's string, are refused.
PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@*/-]{1,512}$")
# S3's lifecycle `Days` and `NoncurrentDays` are the API's `Days` shape, an `integer` (botocore's
# data/s3/2006-03-01/service-2.json; AWS models' integers are 32-bit signed), "a non-zero positive integer" (S3 API
# reference, LifecycleExpiration): S3 refuses more than 2^31 - 1 days.
S3_LIFECYCLE_DAYS_MAX = 2**31 - 1
# CloudTrail logs must outlive an investigation: production keeps them at least a year (CIS, PCI DSS 10.7).
PRODUCTION_MIN_LOG_DAYS = 365


class AlarmSubscription(SettingsModel):
    """Who receives the security alarms: an email address or an HTTPS endpoint (never plain HTTP)."""

    protocol: Literal["email", "https"]
    endpoint: str

    @field_validator("endpoint")
    @classmethod
    def _endpoint_fits_protocol(cls, value: str, info: ValidationInfo) -> str:
        protocol = earlier(info, "protocol")
        if protocol == "email":
            return _check_email(value)
        if protocol == "https":
            return _check_https_url(value)
        return value  # the protocol itself is reported as wrong


def _check_email(value: str) -> str:
    if len(value) > 254 or not EMAIL.match(value):
        raise ValueError(f"'{value}' is not an email address")
    return value


def _check_https_url(value: str) -> str:
    if value.lower().startswith("http://"):
        raise ValueError(f"'{value}' uses http://; alarms may only be delivered over https://")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise ValueError(f"'{value}' is not a URL") from None
    if parts.scheme != "https":
        raise ValueError(f"'{value}' must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials (user:password@); they would be stored in clear text")
    if not parts.hostname or not _valid_host(parts.hostname):
        raise ValueError(f"'{value}' has no valid host name")
    if any(c.isspace() for c in value) or parts.fragment:
        raise ValueError(f"'{value}' is not a URL SNS can deliver to (spaces or a #fragment)")
    return value


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        labels = host.rstrip(".").split(".")
        return len(labels) >= 2 and all(HOST_LABEL.match(label) for label in labels)


def check_principal_arn(value: str) -> str:
    if not PRINCIPAL_ARN.match(value):
        raise ValueError(f"'{value}' is not an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)")
    return value


class TrailBucketLifecycle(SettingsModel):
    """How long the trail's S3 copy of the logs is kept (the CloudWatch copy follows `logs.retentionDays`)."""

    transition_to_glacier_days: Optional[int] = Field(90, ge=1, le=S3_LIFECYCLE_DAYS_MAX)
    expiration_days: int = Field(2557, ge=1, le=S3_LIFECYCLE_DAYS_MAX)
    noncurrent_version_expiration_days: int = Field(30, ge=1, le=S3_LIFECYCLE_DAYS_MAX)

    @field_validator("expiration_days")
    @classmethod
    def _after_transition(cls, value: int, info: ValidationInfo) -> int:
        transition = earlier(info, "transition_to_glacier_days")
        if transition is not None and transition >= value:
            raise ValueError(f"must be greater than transitionToGlacierDays ({transition})")
        return value


class AuditSettings(SettingsModel):
    """Secure by default: a new multi-region trail; naming an organization trail's log group is the exception."""

    # Set it to monitor an existing organization trail's log group (in this account and region) instead of
    # creating a trail; only the metric filters, alarms and the alarm topic are then made.
    organization_trail_log_group_name: Optional[str] = None
    bucket_lifecycle: TrailBucketLifecycle = TrailBucketLifecycle()
    subscriptions: tuple[AlarmSubscription, ...] = ()
    # BlockedRequests of the web ACL summed over 5 minutes that counts as a spike.
    waf_blocked_requests_threshold: int = Field(500, ge=1)
    # IAM roles/users besides the app and rotator roles the program names that may read or write this
    # environment's secrets without raising the unexpected-principal alarm (e.g. a break-glass role).
    expected_secret_principals: tuple[Annotated[str, AfterValidator(check_principal_arn)], ...] = ()
    # How long the stack's S3 server access logs (requests on the trail and ALB log buckets) are kept.
    server_access_log_expiration_days: int = Field(PRODUCTION_MIN_LOG_DAYS, ge=1, le=3650)

    @field_validator("organization_trail_log_group_name")
    @classmethod
    def _log_group_name(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not LOG_GROUP_NAME.match(value):
            raise ValueError(f"'{value}' is not a CloudWatch Logs log group name")
        return value

    @field_validator("subscriptions")
    @classmethod
    def _distinct_subscriptions(cls, values: tuple[AlarmSubscription, ...]) -> tuple[AlarmSubscription, ...]:
        seen = [(s.protocol, s.endpoint.lower()) for s in values]
        if len(seen) != len(set(seen)):
            raise ValueError("the same endpoint is subscribed twice")
        return values

    @property
    def creates_trail(self) -> bool:
        return self.organization_trail_log_group_name is None

    def production_problems(self) -> list[tuple[str, str]]:
        problems = []
        if not self.subscriptions:
            problems.append(("subscriptions", "needs at least one recipient in a production stack "
                                              "(an alarm nobody receives is not monitoring)"))
        if self.creates_trail and self.bucket_lifecycle.expiration_days < PRODUCTION_MIN_LOG_DAYS:
            problems.append(("bucketLifecycle.expirationDays",
                             f"must be >= {PRODUCTION_MIN_LOG_DAYS} in a production stack"))
        if self.server_access_log_expiration_days < PRODUCTION_MIN_LOG_DAYS:
            problems.append(("serverAccessLogExpirationDays",
                             f"must be >= {PRODUCTION_MIN_LOG_DAYS} in a production stack"))
        return problems
