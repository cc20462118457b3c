"""Edge settings: the internet-facing, TLS-only load balancer, its certificate, WAF and access logs."""
from __future__ import annotations

import re
from typing import Callable, Literal, Optional

from pydantic import Field, ValidationInfo, field_validator, model_validator

# The component owns what AWS and Security Hub accept for its fields; the settings check the same rules at their
# config keys (infra imports from components, never the other way).
from securestack.components.load_balancer import (DEFAULT_TLS_POLICY, ELB17_TLS_POLICIES,  # noqa: F401
                                                  HEALTH_CHECK_MATCHER, HEALTH_CHECK_PATH, HSTS_MIN_MAX_AGE_SECONDS,
                                                  WAF_RATE_LIMIT_MAX, WAF_RATE_LIMIT_MIN)

from .base import SettingsModel, earlier, fields_unparsed
from .common import check_log_retention, check_stack_region_and_account


PRODUCTION_MIN_ACCESS_LOG_DAYS = 365  # a year of request history for incident response (PCI DSS 10.5.1)

CERTIFICATE_ARN = re.compile(
    r"^arn:aws(-[a-z]+)*:acm:(?P<region>[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d):(?P<account>\d{12}):"
    r"certificate/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
HOSTED_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
NO_CERTIFICATE = ("no certificate source: set certificateArn (an existing ACM certificate) or domainName + "
                  "hostedZoneId (a DNS-validated certificate is created)")
BOTH_CERTIFICATES = "set either certificateArn or domainName + hostedZoneId, not both"
_INVALID = object()


def _matching(pattern: re.Pattern[str], expectation: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"'{value}' {expectation}")
        return value
    return check


class LoadBalancerSettings(SettingsModel):
    """Every default is the safe one; a non-production stack has to ask for weaker settings."""

    tls_policy: str = DEFAULT_TLS_POLICY
    # Exactly one certificate source: an existing certificate, or a domain + the zone that proves it.
    certificate_arn: Optional[str] = None
    domain_name: Optional[str] = None
    hosted_zone_id: Optional[str] = None
    target_protocol: Literal["HTTPS", "HTTP"] = "HTTPS"
    target_port: int = Field(8443, ge=1, le=65535)
    health_check_path: str = "/health"
    health_check_matcher: str = "200"
    deregistration_delay_seconds: int = Field(30, ge=0, le=3600)
    idle_timeout_seconds: int = Field(60, ge=1, le=4000)
    hsts_max_age_seconds: int = Field(HSTS_MIN_MAX_AGE_SECONDS, ge=HSTS_MIN_MAX_AGE_SECONDS,
                                      le=2 * HSTS_MIN_MAX_AGE_SECONDS)
    rate_limit: int = Field(2000, ge=WAF_RATE_LIMIT_MIN, le=WAF_RATE_LIMIT_MAX)
    rate_limit_window_seconds: Literal[60, 120, 300, 600] = 300
    access_log_expiration_days: int = Field(PRODUCTION_MIN_ACCESS_LOG_DAYS, ge=1, le=3650)
    # None: the stack-wide securestack:logs.retentionDays.
    waf_log_retention_days: Optional[int] = None
    deletion_protection: bool = True

    @field_validator("tls_policy")
    @classmethod
    def _tls_policy(cls, value: str) -> str:
        if value not in ELB17_TLS_POLICIES:
            raise ValueError(f"'{value}' is not a TLS policy Security Hub ELB.17 accepts; use one of "
                             f"{', '.join(ELB17_TLS_POLICIES)}")
        return value

    @field_validator("certificate_arn")
    @classmethod
    def _certificate_arn(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        if value is None:
            return value
        match = CERTIFICATE_ARN.match(value)
        if not match:
            raise ValueError(f"'{value}' is not an ACM certificate ARN "
                             "(arn:aws:acm:<region>:<account>:certificate/<uuid>)")
        check_stack_region_and_account(match, info, "certificate", "a load balancer in {region} can only use an "
                                       "ACM certificate of its own region", "; a listener can only use its own "
                                       "account's certificates")
        return value

    @field_validator("domain_name")
    @classmethod
    def _domain_name(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        if value is None:
            return value
        if earlier(info, "certificate_arn") is not None:
            raise ValueError(BOTH_CERTIFICATES)
        labels = value.split(".")
        if len(value) > 253 or len(labels) < 2 or not all(DNS_LABEL.match(label) for label in labels) \
                or labels[-1].isdigit():
            raise ValueError(f"'{value}' is not a DNS name (lowercase labels of letters, digits and '-', "
                             "e.g. api.example.com; no wildcard)")
        return value

    @field_validator("hosted_zone_id")
    @classmethod
    def _hosted_zone_id(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        if value is None:
            return value
        if not HOSTED_ZONE_ID.match(value):
            raise ValueError(f"'{value}' is not a Route 53 hosted zone id (e.g. Z0123456789ABCDEFGHIJ)")
        # domain_name is absent from info.data when it failed its own check (already reported)
        if earlier(info, "domain_name", _INVALID) is None:
            raise ValueError(BOTH_CERTIFICATES if earlier(info, "certificate_arn") is not None else
                             "needs domainName, the name of the certificate to create")
        return value

    _health_check_path = field_validator("health_check_path")(_matching(
        HEALTH_CHECK_PATH, "must be a URL path starting with '/' (no spaces, max 1024)"))
    _health_check_matcher = field_validator("health_check_matcher")(_matching(
        HEALTH_CHECK_MATCHER, "must be HTTP codes 200-499: '200', '200,204' or '200-299'"))

    @field_validator("waf_log_retention_days")
    @classmethod
    def _waf_log_retention(cls, value: Optional[int]) -> Optional[int]:
        return value if value is None else check_log_retention(value)

    @model_validator(mode="after")
    def _certificate_source_complete(self, info: ValidationInfo) -> "LoadBalancerSettings":
        # Double sources and a zone without a domain are reported at their keys above. An absent key has no
        # place of its own in the error, so these two name the keys to add in the message.
        if fields_unparsed(info, "certificate_arn", "domain_name", "hosted_zone_id"):
            return self
        if self.certificate_arn is None and self.domain_name is None and self.hosted_zone_id is None:
            raise ValueError(NO_CERTIFICATE)
        if self.domain_name is not None and self.hosted_zone_id is None:
            raise ValueError("hostedZoneId is required with domainName: the certificate's DNS validation record "
                             "goes to that Route 53 zone")
        return self

    @property
    def creates_certificate(self) -> bool:
        return self.certificate_arn is None

    def hsts_header(self) -> str:
        return f"max-age={self.hsts_max_age_seconds}; includeSubDomains"

    def production_problems(self) -> list[tuple[str, str]]:
        """(key, message) for every setting a production stack may not weaken."""
        problems = []
        if not self.deletion_protection:
            problems.append(("deletionProtection", "must be true in a production stack"))
        if self.target_protocol != "HTTPS":
            problems.append(("targetProtocol", "must be HTTPS in a production stack (TLS all the way to the app)"))
        if self.access_log_expiration_days < PRODUCTION_MIN_ACCESS_LOG_DAYS:
            problems.append(("accessLogExpirationDays",
                             f"must be >= {PRODUCTION_MIN_ACCESS_LOG_DAYS} in a production stack"))
        return problems
