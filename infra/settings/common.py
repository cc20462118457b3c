"""Settings shared by every part of the stack: tier, region/accounts, tags, logs, keys."""
from __future__ import annotations

import re
from enum import Enum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, RootModel, ValidationInfo, field_validator

# The only values CloudWatch Logs accepts for retentionInDays (the components' Args check the same).
from securestack.components.args import LOG_RETENTION_DAYS

from .base import AWS_TAG_KEY, AWS_TAG_VALUE, SettingsModel



class Tier(str, Enum):
    """What the environment is for. Production forbids every weaker setting."""

    PRODUCTION = "production"
    NON_PRODUCTION = "non-production"


def check_stack_region_and_account(match: re.Match[str], info: ValidationInfo, noun: str, other_region: str,
                                   other_account: str = "") -> None:
    """An ARN (a match with `region` and `account` groups) of the stack's region and allowed accounts, which the
    settings' validation context carries; otherwise a ValueError saying which, and why it matters."""
    context = info.context or {}
    region, accounts = context.get("region"), context.get("allowed_account_ids")
    if region and match.group("region") != region:
        raise ValueError(f"the {noun} is in {match.group('region')}; {other_region.format(region=region)}")
    if accounts and match.group("account") not in accounts:
        raise ValueError(f"the {noun} belongs to account {match.group('account')}, not to this stack's "
                         f"aws:allowedAccountIds ({', '.join(accounts)}){other_account}")


def check_log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        raise ValueError(f"{value} is not a CloudWatch Logs retention; use one of {allowed}")
    return value


class LogSettings(SettingsModel):
    """Retention of every CloudWatch log group the stack creates (all are KMS-encrypted)."""

    retention_days: int = 365

    _retention = field_validator("retention_days")(check_log_retention)


class KeySettings(SettingsModel):
    """Customer-managed KMS keys of the environment."""

    deletion_window_days: int = Field(30, ge=7, le=30)


def check_tag_key(key: str) -> str:
    if not AWS_TAG_KEY.match(key):
        raise ValueError(f"'{key}' is not a valid AWS tag key")
    if key.startswith("securestack:"):
        raise ValueError(f"tag key '{key}' is reserved for securestack's own metadata")
    return key


def check_tag_value(value: str) -> str:
    if len(value) > 256 or not AWS_TAG_VALUE.match(value):
        raise ValueError(f"'{value}' is a tag value AWS rejects (letters, digits, spaces and _ . : / = + - @ only, "
                         "max 256)")
    return value


class ExtraTags(RootModel[dict[Annotated[str, AfterValidator(check_tag_key)],
                               Annotated[str, AfterValidator(check_tag_value)]]]):
    """Tags added to every resource next to the ones securestack sets itself.

    A mapping validated entry by entry, so each bad tag is reported under its own key
    (`securestack:tags.owner: ...`), all of them at once.
    """

    model_config = ConfigDict(frozen=True)
