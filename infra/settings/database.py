"""Database settings: RDS PostgreSQL sizing, backups (PITR), protection, restore path."""
from __future__ import annotations

import difflib
import re
from datetime import datetime, timezone
from typing import Any, Literal, Optional

from pydantic import Field, ValidationInfo, field_validator, model_validator

from securestack.components.backup import BACKUP_START_WINDOW_MINUTES, DEFAULT_BACKUP_SCHEDULE
from securestack.components.database import (DAILY_WINDOW, ENGINE_VERSION, INSTANCE_CLASS, KMS_KEY_ARN,
                                             MONITORING_INTERVALS_SECONDS, PERFORMANCE_INSIGHTS_RETENTION_DAYS,
                                             RESERVED_USERNAMES, SQL_NAME, SUPPORTED_MAJOR_VERSIONS, WEEKLY_WINDOW,
                                             instance_identifier, weekly_bounds, windows_overlap)

from . import rds_catalog
from .base import CONFIG_NAMESPACE, SettingsModel, earlier, fields_unparsed
from .common import Tier, check_stack_region_and_account
from .regions import check_region

# The formats and ranges EncryptedPostgres and DatabaseBackupPlan accept are theirs: the settings check the same
# (with config key paths), then add what only the stack can judge (production, region, account, other sections).
IDENTIFIER = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,11}$")


def _minutes(hh: str, mm: str) -> int:
    return int(hh) * 60 + int(mm)


def source_instance_identifier(source_environment: str) -> str:
    """The identifier EncryptedPostgres gives an environment's instance (securestack-<env>-postgres)."""
    return instance_identifier(source_environment)


class RestoreSettings(SettingsModel):
    """Point-in-time restore: the database is created from a source instance's automated backups.

    A restore is the one declared cross-environment reference a stack may make: it names the source
    environment, its instance and the key that instance is encrypted with. RestoreDBInstanceToPointInTime has no
    KmsKeyId (botocore's rds model; the Terraform provider sends none either): the copy stays encrypted with the
    source's key, so that key is what the instance records, and it must outlive the restored copy.
    """

    source_environment: str
    source_db_instance_identifier: str
    source_kms_key_arn: str
    restore_time: Optional[datetime] = None
    use_latest_restorable_time: bool = False

    @field_validator("source_environment")
    @classmethod
    def _other_environment(cls, value: str, info: ValidationInfo) -> str:
        if not ENVIRONMENT.match(value) or "--" in value or value.endswith("-"):
            raise ValueError(f"'{value}' is not an environment name (the source stack's name, e.g. prod)")
        if value == (info.context or {}).get("environment"):
            raise ValueError(f"is this stack's own environment '{value}': the restored copy would take the "
                             "source's names; restore into a stack of its own (e.g. <env>restore)")
        return value

    @field_validator("source_db_instance_identifier")
    @classmethod
    def _identifier(cls, value: str, info: ValidationInfo) -> str:
        if not IDENTIFIER.match(value) or value.endswith("-") or "--" in value:
            raise ValueError(f"'{value}' is not an RDS instance identifier")
        source = earlier(info, "source_environment")
        if source is not None and value != source_instance_identifier(source):
            raise ValueError(f"'{value}' is not the instance of sourceEnvironment '{source}' "
                             f"({source_instance_identifier(source)})")
        return value

    @field_validator("source_kms_key_arn")
    @classmethod
    def _source_key(cls, value: str, info: ValidationInfo) -> str:
        match = KMS_KEY_ARN.match(value)
        if not match:
            raise ValueError(f"'{value}' is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>, as "
                             "`aws rds describe-db-instances` reports the source's KmsKeyId)")
        # A point-in-time restore reads the source's automated backups in this account and region.
        check_stack_region_and_account(match, info, "key", "a point-in-time restore in {region} keeps the source's "
                                       "key, which is in the source's region")
        return value

    @field_validator("restore_time")
    @classmethod
    def _utc_in_past(cls, value: Optional[datetime]) -> Optional[datetime]:
        if value is None:
            return value
        if value.tzinfo is None:
            raise ValueError("must carry a time zone, e.g. 2026-11-20T03:15:00Z")
        if value > datetime.now(timezone.utc):
            raise ValueError("is in the future")
        return value.astimezone(timezone.utc)

    @model_validator(mode="after")
    def _one_point_in_time(self, info: ValidationInfo) -> "RestoreSettings":
        if fields_unparsed(info, "restore_time", "use_latest_restorable_time"):
            return self
        if (self.restore_time is None) == (not self.use_latest_restorable_time):
            raise ValueError("give exactly one of restoreTime or useLatestRestorableTime: true")
        return self


# AWS Backup does not start a backup of an RDS instance in the hour before or during its maintenance window (AWS
# Backup developer guide, "Backup plan options and configuration"): a job scheduled there is held back.
BACKUP_BLOCKED_BEFORE_MAINTENANCE_MINUTES = 60
DAILY_CRON = re.compile(r"^cron\((\d{1,2}) (\d{1,2}) [?*] \* [?*] \*\)$")


class AwsBackupSettings(SettingsModel):
    """AWS Backup plan: daily backups kept in a vault, copied to a second region with its own key."""

    # 07:00 UTC: clear of the default backupWindow (03:00-03:30) and, on Sundays, of the default maintenance
    # window (04:30-05:30) with the hour before it in which AWS Backup starts no RDS backup.
    schedule: str = DEFAULT_BACKUP_SCHEDULE
    retention_days: int = Field(35, ge=7, le=3650)
    copy_region: str
    copy_retention_days: int = Field(35, ge=7, le=3650)

    @field_validator("copy_region")
    @classmethod
    def _second_region(cls, value: str, info: ValidationInfo) -> str:
        check_region(value)
        if value == (info.context or {}).get("region"):
            raise ValueError(f"must differ from aws:region ({value}): the copy is what survives a regional outage")
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not re.match(r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$", value):
            raise ValueError("must be an AWS cron expression with six fields, e.g. cron(0 7 ? * * *)")
        return value


class DatabaseSettings(SettingsModel):
    """Every default is the safe one; a non-production stack has to ask for weaker settings."""

    engine_version: str = "16"
    instance_class: str = "db.t4g.medium"
    allocated_storage_gb: int = Field(20, ge=20, le=65536)
    max_allocated_storage_gb: int = Field(100, ge=20, le=65536)
    database_name: str = "app"
    master_username: str = "securestack_admin"
    app_username: str = "app"
    backup_retention_days: int = Field(35, ge=7, le=35)
    backup_window: str = "03:00-03:30"
    maintenance_window: str = "sun:04:30-sun:05:30"
    multi_az: bool = True
    deletion_protection: bool = True
    skip_final_snapshot: bool = False
    performance_insights_retention_days: int = 7
    monitoring_interval_seconds: int = 60
    log_min_duration_statement_ms: int = Field(1000, ge=-1, le=2147483647)
    log_statement: Literal["none", "ddl", "mod", "all"] = "ddl"
    aws_backup: Optional[AwsBackupSettings] = None
    restore: Optional[RestoreSettings] = None

    @field_validator("engine_version")
    @classmethod
    def _engine_version(cls, value: str) -> str:
        match = ENGINE_VERSION.match(value)
        if not match or int(match.group(1)) not in SUPPORTED_MAJOR_VERSIONS:
            majors = ", ".join(str(v) for v in SUPPORTED_MAJOR_VERSIONS)
            raise ValueError(f"'{value}' is not a supported RDS PostgreSQL version (major {majors}, e.g. '16' or "
                             f"'16.11')")
        if value not in rds_catalog.engine_versions():
            major = int(match.group(1))
            minors = ", ".join(f"{major}.{minor}" for minor in rds_catalog.ENGINE_MINOR_VERSIONS.get(major, ()))
            raise ValueError(f"'{value}' is not a version RDS creates PostgreSQL {major} instances on (as of "
                             f"{rds_catalog.AS_OF}: '{major}' or {minors}; infra/settings/rds_catalog.py)")
        return value

    @field_validator("instance_class")
    @classmethod
    def _instance_class(cls, value: str) -> str:
        if not INSTANCE_CLASS.match(value):
            raise ValueError(f"'{value}' is not an RDS instance class (e.g. db.t4g.medium)")
        if value.startswith(("db.t2.", "db.m1.", "db.m2.")):
            raise ValueError(f"'{value}' cannot encrypt Performance Insights/storage on current engines")
        if value not in rds_catalog.INSTANCE_CLASSES:
            close = difflib.get_close_matches(value, sorted(rds_catalog.INSTANCE_CLASSES), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(f"'{value}' is not an instance class RDS offers for PostgreSQL (as of "
                             f"{rds_catalog.AS_OF}, infra/settings/rds_catalog.py){hint}")
        return value

    @field_validator("database_name", "app_username")
    @classmethod
    def _sql_name(cls, value: str) -> str:
        if not SQL_NAME.match(value):
            raise ValueError(f"'{value}' must be lowercase letters, digits and _ starting with a letter (max 63)")
        return value

    @field_validator("master_username")
    @classmethod
    def _master_username(cls, value: str) -> str:
        if not SQL_NAME.match(value):
            raise ValueError(f"'{value}' must be lowercase letters, digits and _ starting with a letter")
        if value in RESERVED_USERNAMES:
            raise ValueError(f"'{value}' is a default/reserved admin name; choose a non-default one (RDS.25)")
        return value

    @field_validator("backup_window")
    @classmethod
    def _daily_window(cls, value: str) -> str:
        match = DAILY_WINDOW.match(value)
        if not match:
            raise ValueError("must be hh24:mi-hh24:mi in UTC, e.g. 03:00-03:30")
        start, end = _minutes(*match.group(1, 2)), _minutes(*match.group(3, 4))
        if (end - start) % 1440 < 30:
            raise ValueError("must last at least 30 minutes")
        return value

    @field_validator("maintenance_window")
    @classmethod
    def _weekly_window(cls, value: str, info: ValidationInfo) -> str:
        if not WEEKLY_WINDOW.match(value):
            raise ValueError("must be ddd:hh24:mi-ddd:hh24:mi in UTC, e.g. sun:04:30-sun:05:30")
        if weekly_bounds(value)[1] < 30:
            raise ValueError("must last at least 30 minutes (RDS refuses shorter maintenance windows)")
        backup = earlier(info, "backup_window")
        if backup is not None and windows_overlap(backup, value):
            raise ValueError(f"overlaps backupWindow {backup} (RDS refuses that)")
        return value

    @field_validator("performance_insights_retention_days")
    @classmethod
    def _pi_retention(cls, value: int) -> int:
        if value not in PERFORMANCE_INSIGHTS_RETENTION_DAYS:
            raise ValueError("must be 7 or a multiple of 31 up to 731")
        return value

    @field_validator("monitoring_interval_seconds")
    @classmethod
    def _monitoring_interval(cls, value: int) -> int:
        if value not in MONITORING_INTERVALS_SECONDS:
            raise ValueError(f"must be one of {MONITORING_INTERVALS_SECONDS} (0 would turn enhanced monitoring off)")
        return value

    @field_validator("aws_backup")
    @classmethod
    def _backup_clear_of_maintenance(cls, value: Optional[AwsBackupSettings],
                                     info: ValidationInfo) -> Optional[AwsBackupSettings]:
        maintenance = earlier(info, "maintenance_window")
        if value is not None and maintenance is not None and _backup_start_blocked(value.schedule, maintenance):
            raise ValueError(
                f"schedule {value.schedule} (plus its {BACKUP_START_WINDOW_MINUTES}-minute start window) falls in "
                f"maintenanceWindow {maintenance} or the hour before it, when AWS Backup starts no RDS backup; "
                "move the schedule")
        return value

    # Checks across fields sit on the later-declared field (the earlier one is in info.data by then), so the
    # error names the key to fix instead of the whole securestack:database section.
    @field_validator("max_allocated_storage_gb")
    @classmethod
    def _autoscaling_ceiling(cls, value: int, info: ValidationInfo) -> int:
        allocated = earlier(info, "allocated_storage_gb")
        if allocated is not None and value < allocated:
            raise ValueError(f"must be >= allocatedStorageGb ({allocated})")
        return value

    @field_validator("app_username")
    @classmethod
    def _app_username(cls, value: str, info: ValidationInfo) -> str:
        if value == earlier(info, "master_username"):
            raise ValueError("must differ from masterUsername")
        if len(value) + len("_clone") > 63:
            raise ValueError("is too long for its alternate '<name>_clone' (63 chars)")
        return value

    def cross_section_problems(self, sections: dict[str, Any], context: dict[str, Any]) -> list[tuple[str, str]]:
        """A restore stack, copied from its source's file, never touches the source's DNS names: with a domain of
        its own making (certificate + alias record in hostedZoneId) that domain must carry this environment."""
        load_balancer, environment = sections.get("load_balancer"), context.get("environment")
        if self.restore is None or load_balancer is None or not environment or load_balancer.domain_name is None:
            return []
        if names_environment(load_balancer.domain_name, environment):
            return []
        return [(f"{CONFIG_NAMESPACE}:loadBalancer.domainName",
                 f"'{load_balancer.domain_name}' does not carry this restore stack's environment '{environment}': its "
                 f"alias and certificate records would take the source's names in hostedZoneId; use a name with "
                 f"'{environment}' as a label (e.g. api.{environment}.example.com) or certificateArn (no records)")]

    def production_problems(self) -> list[tuple[str, str]]:
        """(key, message) for every setting a production stack may not weaken."""
        problems = []
        if not self.deletion_protection:
            problems.append(("deletionProtection", "must be true in a production stack"))
        if not self.multi_az:
            problems.append(("multiAz", "must be true in a production stack"))
        if self.backup_retention_days < 35:
            problems.append(("backupRetentionDays", "must be 35 in a production stack"))
        if self.skip_final_snapshot:
            problems.append(("skipFinalSnapshot", "must be false in a production stack"))
        if self.aws_backup is None:
            problems.append(("awsBackup", "is required in a production stack (daily copy to a second region)"))
        return problems


def names_environment(domain_name: str, environment: str) -> bool:
    """Whether a DNS name carries the environment as a label, or as a label's first or last '-' part
    (api.prodrestore.example.com, api-prodrestore.example.com)."""
    return any(label == environment or label.startswith(f"{environment}-") or label.endswith(f"-{environment}")
               for label in domain_name.split(".")[:-1])


def _backup_start_blocked(schedule: str, maintenance: str) -> bool:
    """Whether a daily cron(M H ? * * *) start window meets the maintenance window or the hour before it (other
    cron forms are not judged)."""
    daily = DAILY_CRON.match(schedule)
    if not daily or not WEEKLY_WINDOW.match(maintenance):
        return False
    week = 7 * 1440
    m_start, m_len = weekly_bounds(maintenance)
    blocked_start, blocked_len = m_start - BACKUP_BLOCKED_BEFORE_MAINTENANCE_MINUTES, \
        m_len + BACKUP_BLOCKED_BEFORE_MAINTENANCE_MINUTES
    start_of_day = int(daily.group(2)) * 60 + int(daily.group(1))
    for day in range(7):
        start = day * 1440 + start_of_day
        if (start - blocked_start) % week < blocked_len or \
                (blocked_start - start) % week < BACKUP_START_WINDOW_MINUTES:
            return True
    return False
