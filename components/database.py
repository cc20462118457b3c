"""EncryptedPostgres: RDS PostgreSQL encrypted with the environment key, PITR backups, TLS enforced."""
import enum
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from .args import as_args, check_environment, check_log_retention, check_one_of, check_range, check_tags, field_error
from .common import aws_identity, encrypted_log_group, renamed_from, service_assume_role_policy, stateful_options

POSTGRES_PORT = 5432
LOG_EXPORTS = ("postgresql", "upgrade")
ENHANCED_MONITORING_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
CA_CERTIFICATE = "rds-ca-rsa2048-g1"
# Inputs a restore sets only at creation, or that AWS then reports from the source (the source's key: the
# RestoreDBInstanceToPointInTime API has no KmsKeyId; the database name and master user come from the backups).
# All of them force a replacement in the provider (ForceNew in the Terraform schema; a kms_key_id other than the
# backups' key plans a replacement: hashicorp/terraform-provider-aws#15390; so does dropping the restore block:
# #34522): once the instance exists, they are never diffed again.
RESTORE_ONLY_INPUTS = ("restoreToPointInTime", "kmsKeyId", "dbName", "username")

# What RDS for PostgreSQL and its APIs accept (RDS user guide: DB instance settings, CreateDBInstance).
SUPPORTED_MAJOR_VERSIONS = (14, 15, 16, 17)  # under standard support, engine "postgres"
ENGINE_VERSION = re.compile(r"^(\d{2})(\.\d{1,2})?$")
INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")
# These classes cannot encrypt storage or Performance Insights on current engines.
UNENCRYPTABLE_CLASSES = ("db.t2.", "db.m1.", "db.m2.")
STORAGE_GB_RANGE = (20, 65536)  # gp3
SQL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# RDS refuses these as master user names, and Security Hub RDS.25 asks for a non-default one.
RESERVED_USERNAMES = ("postgres", "admin", "administrator", "root", "rdsadmin", "master", "user", "rds_superuser")
# Automated backups: at least a week of point-in-time recovery; 35 days is RDS's maximum.
BACKUP_RETENTION_RANGE = (7, 35)
DAILY_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
WEEKLY_WINDOW = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-"
                           r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIN_WINDOW_MINUTES = 30
PERFORMANCE_INSIGHTS_RETENTION_DAYS = (7, *range(31, 732, 31))
MONITORING_INTERVALS_SECONDS = (1, 5, 10, 15, 30, 60)  # 0 would turn enhanced monitoring off
LOG_MIN_DURATION_RANGE = (-1, 2147483647)  # PostgreSQL's bounds for log_min_duration_statement (ms)
# The RDS instance identifier form (letters, digits, hyphens, a letter first, no '--', no trailing '-', 1-63).
DB_INSTANCE_IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# The key ARN `aws rds describe-db-instances` reports as KmsKeyId (a key id is a UUID, or mrk-<32 hex> for a
# multi-Region key); an alias would not compare equal to what AWS records for the instance.
KMS_KEY_ARN = re.compile(r"^arn:aws(-[a-z]+)*:kms:(?P<region>[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d):(?P<account>\d{12}):"
                         r"key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$")
# The UTC instant RestoreDBInstanceToPointInTime takes as RestoreTime.
RESTORE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class LogStatement(enum.Enum):
    """Which SQL statements PostgreSQL logs (its `log_statement` parameter)."""

    NONE = "none"
    """No statement is logged for its kind (slow ones still are, see log_min_duration_statement_ms)."""
    DDL = "ddl"
    """Data definition: CREATE, ALTER, DROP."""
    MOD = "mod"
    """DDL plus data-modifying statements (INSERT, UPDATE, DELETE, TRUNCATE, COPY FROM...)."""
    ALL = "all"
    """Every statement."""


def postgres_parameters(log_statement: str, log_min_duration_statement_ms: int) -> dict[str, str]:
    """The engine parameters the parameter group sets (all but rds.* are checked against a real server's
    pg_settings in the tests, so a typo fails there, not half-way through `pulumi up`)."""
    return {
        "rds.force_ssl": "1",
        "ssl_min_protocol_version": "TLSv1.2",
        "password_encryption": "scram-sha-256",
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
        "log_statement": log_statement,
        "log_min_duration_statement": str(log_min_duration_statement_ms),
        "idle_in_transaction_session_timeout": "600000",
    }


def major_version(engine_version: str) -> str:
    return engine_version.split(".")[0]


def instance_identifier(environment: str) -> str:
    """The identifier EncryptedPostgres gives an environment's instance."""
    return f"securestack-{environment}-postgres"


def _minutes(hh: str, mm: str) -> int:
    return int(hh) * 60 + int(mm)


def weekly_bounds(maintenance_window: str) -> tuple[int, int]:
    """(start minute of the week, length in minutes) of a valid ddd:hh24:mi-ddd:hh24:mi window."""
    match = WEEKLY_WINDOW.match(maintenance_window)
    if match is None:
        raise ValueError(f"{maintenance_window!r} is not a ddd:hh24:mi-ddd:hh24:mi window")
    start = DAYS.index(match.group(1)) * 1440 + _minutes(match.group(2), match.group(3))
    end = DAYS.index(match.group(4)) * 1440 + _minutes(match.group(5), match.group(6))
    return start, (end - start) % (7 * 1440)


def windows_overlap(backup_window: str, maintenance_window: str) -> bool:
    """Whether a daily hh24:mi-hh24:mi window meets a weekly one on any day (RDS refuses that)."""
    backup = DAILY_WINDOW.match(backup_window)
    if not backup or not WEEKLY_WINDOW.match(maintenance_window):
        return False
    week = 7 * 1440
    b_start, b_end = _minutes(*backup.group(1, 2)), _minutes(*backup.group(3, 4))
    b_len = (b_end - b_start) % 1440
    m_start, m_len = weekly_bounds(maintenance_window)
    for day in range(7):
        start = day * 1440 + b_start
        # intervals on a circle of one week
        if (start - m_start) % week < m_len or (m_start - start) % week < b_len:
            return True
    return False


@dataclass
class PointInTimeRestore:
    """Create the database as a point-in-time copy of another instance's automated backups (same account and
    region). RestoreDBInstanceToPointInTime has no KmsKeyId: the copy stays encrypted with the source's key, which
    must outlive it. Give exactly one of `restore_time` and `use_latest_restorable_time`."""

    source_db_instance_identifier: str
    """Identifier of the source RDS instance (e.g. securestack-prod-postgres). Required."""
    source_kms_key_arn: str
    """ARN of the key the source is encrypted with (its KmsKeyId in `aws rds describe-db-instances`; a key ARN,
    not an alias). Required."""
    restore_time: Optional[str] = None
    """The instant to restore, in UTC: YYYY-MM-DDTHH:MM:SSZ, in the past. Default: none."""
    use_latest_restorable_time: bool = False
    """Restore the latest restorable time instead of `restore_time`. Default: false."""

    def __post_init__(self) -> None:
        identifier = self.source_db_instance_identifier
        if not isinstance(identifier, str) or not DB_INSTANCE_IDENTIFIER.match(identifier) or len(identifier) > 63:
            raise field_error(self, "source_db_instance_identifier", f"{identifier!r} is not an RDS instance identifier")
        if not isinstance(self.source_kms_key_arn, str) or not KMS_KEY_ARN.match(self.source_kms_key_arn):
            raise field_error(self, "source_kms_key_arn", f"{self.source_kms_key_arn!r} is not a KMS key ARN "
                              "(arn:aws:kms:<region>:<account>:key/<id>)")
        if self.restore_time is not None:
            self._check_restore_time()
        if (self.restore_time is None) == (not self.use_latest_restorable_time):
            raise field_error(self, "restore_time", "give exactly one of restore_time or use_latest_restorable_time")

    def _check_restore_time(self) -> None:
        try:
            instant = datetime.strptime(str(self.restore_time), RESTORE_TIME_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            raise field_error(self, "restore_time", f"{self.restore_time!r} is not a UTC time "
                              "YYYY-MM-DDTHH:MM:SSZ") from None
        if instant > datetime.now(timezone.utc):
            raise field_error(self, "restore_time", f"{self.restore_time} is in the future")


@dataclass
class EncryptedPostgresArgs:
    """Inputs of EncryptedPostgres. Every default is the production-grade choice; a weaker one has to be asked for."""

    environment: str
    """Environment name (lowercase letters, digits and single hyphens, at most 12): the instance is
    `securestack-<env>-postgres`. Required."""
    vpc_id: pulumi.Input[str]
    """ID of the VPC the database's security group belongs to. Required."""
    private_subnet_ids: pulumi.Input[list[str]]
    """IDs of at least 2 private subnets in different AZs (the DB subnet group). Required."""
    data_key_arn: pulumi.Input[str]
    """ARN of the KMS key encrypting storage, the master password's secret and Performance Insights (a restored
    copy's storage keeps its source's key). Required."""
    logs_key_arn: pulumi.Input[str]
    """ARN of the KMS key encrypting the exported log groups; its policy must let CloudWatch Logs use it.
    Required."""
    production: bool = True
    """Whether the instance protects itself (`protect`, retained on delete) and keeps automated backups after a
    deletion. Default: true."""
    engine_version: str = "16"
    """PostgreSQL version, a major (e.g. 16, minor upgrades automatic) or major.minor; majors 14-17. Default: 16."""
    instance_class: str = "db.t4g.medium"
    """RDS instance class (e.g. db.r6g.large). Default: db.t4g.medium."""
    allocated_storage_gb: int = 20
    """Initial gp3 storage in GiB (20-65536). Default: 20."""
    max_allocated_storage_gb: int = 100
    """Ceiling of storage autoscaling in GiB (>= allocated_storage_gb, <= 65536). Default: 100."""
    database_name: str = "app"
    """Name of the database created (lowercase letters, digits, _; a letter first; at most 63). Default: app."""
    master_username: str = "securestack_admin"
    """Master user name (as database_name, not a default name such as postgres or admin: RDS.25); its password is
    managed by RDS in Secrets Manager. Default: securestack_admin."""
    backup_retention_days: int = 35
    """Days of automated backups, hence of point-in-time recovery (7-35). Default: 35, the longest."""
    backup_window: str = "03:00-03:30"
    """Daily automated backup window, hh24:mi-hh24:mi in UTC, at least 30 minutes. Default: 03:00-03:30."""
    maintenance_window: str = "sun:04:30-sun:05:30"
    """Weekly maintenance window, ddd:hh24:mi-ddd:hh24:mi in UTC, at least 30 minutes, clear of backup_window.
    Default: sun:04:30-sun:05:30."""
    multi_az: bool = True
    """A standby in a second AZ. Default: true."""
    deletion_protection: bool = True
    """RDS refuses to delete the instance while on. Default: true."""
    skip_final_snapshot: bool = False
    """Delete without a final snapshot (`<identifier>-final-<random>`). Default: false."""
    performance_insights_retention_days: int = 7
    """Days Performance Insights keeps its data (7, or a multiple of 31 up to 731). Default: 7 (no extra charge)."""
    monitoring_interval_seconds: int = 60
    """Enhanced monitoring interval in seconds (1, 5, 10, 15, 30 or 60). Default: 60."""
    log_min_duration_statement_ms: int = 1000
    """Statements running at least this many milliseconds are logged (-1: none, 0: all). Default: 1000."""
    log_statement: LogStatement = LogStatement.DDL
    """Which statements are logged regardless of duration. Default: ddl."""
    log_retention_days: int = 365
    """Days the exported PostgreSQL and upgrade logs are kept (a CloudWatch Logs retention value). Default: 365."""
    restore: Optional[PointInTimeRestore] = None
    """Create the instance as a point-in-time copy of another one's backups. Default: none (a new database)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource (the instance also gets `securestack:backup: daily`). Default: none."""

    def __post_init__(self) -> None:
        check_environment(self)
        if isinstance(self.private_subnet_ids, list) and len(self.private_subnet_ids) < 2:
            raise field_error(self, "private_subnet_ids", "needs at least 2 subnets (in different AZs)")
        self._check_engine()
        check_range(self, "allocated_storage_gb", *STORAGE_GB_RANGE)
        check_range(self, "max_allocated_storage_gb", self.allocated_storage_gb, STORAGE_GB_RANGE[1])
        self._check_names()
        check_range(self, "backup_retention_days", *BACKUP_RETENTION_RANGE)
        self._check_windows()
        check_one_of(self, "performance_insights_retention_days", PERFORMANCE_INSIGHTS_RETENTION_DAYS,
                     "a Performance Insights retention (7 or a multiple of 31 up to 731)")
        check_one_of(self, "monitoring_interval_seconds", MONITORING_INTERVALS_SECONDS,
                     "an enhanced monitoring interval")
        check_range(self, "log_min_duration_statement_ms", *LOG_MIN_DURATION_RANGE)
        if not isinstance(self.log_statement, LogStatement):
            raise field_error(self, "log_statement", f"{self.log_statement!r} is not one of "
                              f"{', '.join(repr(member.value) for member in LogStatement)}")
        check_log_retention(self, "log_retention_days")
        check_tags(self)

    def _check_engine(self) -> None:
        match = ENGINE_VERSION.match(str(self.engine_version))
        if not match or int(match.group(1)) not in SUPPORTED_MAJOR_VERSIONS:
            majors = ", ".join(str(v) for v in SUPPORTED_MAJOR_VERSIONS)
            raise field_error(self, "engine_version", f"{self.engine_version!r} is not a supported RDS PostgreSQL "
                              f"version (major {majors}, e.g. '16' or '16.4')")
        if not isinstance(self.instance_class, str) or not INSTANCE_CLASS.match(self.instance_class):
            raise field_error(self, "instance_class", f"{self.instance_class!r} is not an RDS instance class "
                              "(e.g. db.t4g.medium)")
        if self.instance_class.startswith(UNENCRYPTABLE_CLASSES):
            raise field_error(self, "instance_class", f"{self.instance_class!r} cannot encrypt storage and "
                              "Performance Insights on current engines")

    def _check_names(self) -> None:
        for name in ("database_name", "master_username"):
            value = getattr(self, name)
            if not isinstance(value, str) or not SQL_NAME.match(value):
                raise field_error(self, name, f"{value!r} must be lowercase letters, digits and _ starting with a "
                                  "letter (at most 63)")
        if self.master_username in RESERVED_USERNAMES:
            raise field_error(self, "master_username", f"{self.master_username!r} is a default/reserved admin name; "
                              "choose a non-default one (RDS.25)")

    def _check_windows(self) -> None:
        backup = DAILY_WINDOW.match(str(self.backup_window))
        if not backup:
            raise field_error(self, "backup_window", f"{self.backup_window!r} is not hh24:mi-hh24:mi in UTC "
                              "(e.g. 03:00-03:30)")
        if (_minutes(*backup.group(3, 4)) - _minutes(*backup.group(1, 2))) % 1440 < MIN_WINDOW_MINUTES:
            raise field_error(self, "backup_window", f"{self.backup_window} lasts less than {MIN_WINDOW_MINUTES} "
                              "minutes")
        if not WEEKLY_WINDOW.match(str(self.maintenance_window)):
            raise field_error(self, "maintenance_window", f"{self.maintenance_window!r} is not ddd:hh24:mi-ddd:hh24:mi "
                              "in UTC (e.g. sun:04:30-sun:05:30)")
        if weekly_bounds(self.maintenance_window)[1] < MIN_WINDOW_MINUTES:
            raise field_error(self, "maintenance_window", f"{self.maintenance_window} lasts less than "
                              f"{MIN_WINDOW_MINUTES} minutes (RDS refuses shorter maintenance windows)")
        if windows_overlap(self.backup_window, self.maintenance_window):
            raise field_error(self, "maintenance_window", f"{self.maintenance_window} overlaps backup_window "
                              f"{self.backup_window} (RDS refuses that)")


class EncryptedPostgres(pulumi.ComponentResource):
    """Private, TLS-only PostgreSQL; admits port 5432 only from security groups named via `admit`."""

    endpoint: pulumi.Output[str]
    """`<address>:<port>` of the instance."""
    address: pulumi.Output[str]
    """DNS name of the instance (resolves to private addresses only)."""
    port: pulumi.Output[int]
    """Port PostgreSQL listens on (5432)."""
    arn: pulumi.Output[str]
    """ARN of the RDS instance."""
    security_group_id: pulumi.Output[str]
    """ID of the database's security group (5432 only from the groups `admit` names)."""
    master_secret_arn: pulumi.Output[str]
    """ARN of the Secrets Manager secret RDS manages for the master password (under the data key)."""

    def __init__(self, name: str, args: EncryptedPostgresArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(EncryptedPostgresArgs, args)
        super().__init__("securestack:index:EncryptedPostgres", name, None,
                         renamed_from("securestack:database:EncryptedPostgres", opts))
        self._name, self._args, self._tags = name, args, dict(args.tags)
        self.identifier = instance_identifier(args.environment)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", vpc_id=args.vpc_id,
            description=f"PostgreSQL {self.identifier}: 5432 only from named security groups",
            tags={**self._tags, "Name": f"{self.identifier}"}, opts=pulumi.ResourceOptions(parent=self))
        subnet_group = aws.rds.SubnetGroup(f"{name}-subnets", subnet_ids=args.private_subnet_ids,
                                           description=f"private subnets of {self.identifier}",
                                           tags=self._tags, opts=pulumi.ResourceOptions(parent=self))
        parameter_group = self._parameter_group()
        log_groups = self._log_groups()
        monitoring_role = self._monitoring_role()
        self.instance = self._instance(subnet_group, parameter_group, monitoring_role, log_groups)
        self.endpoint = self.instance.endpoint
        self.address = self.instance.address
        self.port = self.instance.port
        self.arn = self.instance.arn
        self.security_group_id = self.security_group.id
        self.master_secret_arn = self.instance.master_user_secrets.apply(
            lambda secrets: secrets[0]["secret_arn"] if secrets else None)
        self.register_outputs({"endpoint": self.endpoint, "address": self.address, "port": self.port,
                               "arn": self.arn, "security_group_id": self.security_group_id,
                               "master_secret_arn": self.master_secret_arn})

    def admit(self, source_name: str, source_security_group_id: pulumi.Input[str]) -> aws.vpc.SecurityGroupIngressRule:
        """Lets one named security group reach PostgreSQL; nothing else ever can."""
        return aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-from-{source_name}", security_group_id=self.security_group.id, ip_protocol="tcp",
            from_port=POSTGRES_PORT, to_port=POSTGRES_PORT, referenced_security_group_id=source_security_group_id,
            description=f"PostgreSQL from {source_name}", tags=self._tags, opts=pulumi.ResourceOptions(parent=self))

    def _parameter_group(self) -> aws.rds.ParameterGroup:
        args = self._args
        return aws.rds.ParameterGroup(
            f"{self._name}-params", family=f"postgres{major_version(args.engine_version)}",
            description=f"TLS-only, audited PostgreSQL for {self.identifier}",
            parameters=[{"name": n, "value": v, "apply_method": "immediate"}
                        for n, v in postgres_parameters(args.log_statement.value,
                                                    args.log_min_duration_statement_ms).items()],
            tags=self._tags, opts=pulumi.ResourceOptions(parent=self))

    def _log_groups(self) -> list[aws.cloudwatch.LogGroup]:
        # Created before RDS would create them itself unencrypted and kept forever.
        return [encrypted_log_group(f"{self._name}-{export}-logs",
                                    log_group_name=f"/aws/rds/instance/{self.identifier}/{export}",
                                    kms_key_arn=self._args.logs_key_arn,
                                    retention_days=self._args.log_retention_days, tags=self._tags, parent=self)
                for export in LOG_EXPORTS]

    def _monitoring_role(self) -> aws.iam.Role:
        account, partition, _ = aws_identity(self)
        role = aws.iam.Role(f"{self._name}-monitoring-role",
                            assume_role_policy=service_assume_role_policy("monitoring.rds.amazonaws.com", account),
                            description=f"Enhanced monitoring of {self.identifier}", tags=self._tags,
                            opts=pulumi.ResourceOptions(parent=self))
        aws.iam.RolePolicyAttachment(f"{self._name}-monitoring-policy", role=role.name,
                                     policy_arn=partition.apply(lambda p: ENHANCED_MONITORING_POLICY.format(partition=p)),
                                     opts=pulumi.ResourceOptions(parent=self))
        return role

    def _restore_args(self) -> Optional[dict]:
        restore = self._args.restore
        if restore is None:
            return None
        # Exactly one point in time (PointInTimeRestore guarantees it); the other key is left out, not sent as null.
        if restore.restore_time is not None:
            point = {"restore_time": restore.restore_time}
        else:
            point = {"use_latest_restorable_time": True}
        return {"source_db_instance_identifier": restore.source_db_instance_identifier, **point}

    def _storage_key_arn(self) -> pulumi.Input[str]:
        """The key the storage is encrypted with, as AWS will report it: a restored copy keeps its source's key
        (declared in `restore`), a new database uses this stack's data key."""
        restore = self._args.restore
        return restore.source_kms_key_arn if restore is not None else self._args.data_key_arn

    def _final_snapshot_identifier(self, storage_key_arn: pulumi.Input[str]) -> pulumi.Output[str]:
        """`<identifier>-final-<8 hex>`: a new suffix per instance, so a second destroy never collides with the
        first one's snapshot (RDS DBSnapshotIdentifier: 1-255 letters, digits, hyphens, a letter first, no '--',
        no trailing '-'). A new stack draws a new suffix; the keepers are the inputs that replace the instance, so
        a replacement draws one too (a restored copy ignores those after creation: only its identifier counts)."""
        args = self._args
        keepers: dict[str, pulumi.Input[str]] = {"identifier": self.identifier}
        if args.restore is None:
            keepers.update(kmsKeyId=storage_key_arn, dbName=args.database_name, username=args.master_username)
        suffix = random.RandomId(f"{self._name}-final-snapshot-suffix", byte_length=4, keepers=keepers,
                                 opts=pulumi.ResourceOptions(parent=self))
        return suffix.hex.apply(lambda hex_: f"{self.identifier}-final-{hex_}")

    def _instance_options(self, log_groups) -> pulumi.ResourceOptions:
        options = stateful_options(self, self._args.production, depends_on=log_groups)
        if self._args.restore is not None:
            options = pulumi.ResourceOptions.merge(options, pulumi.ResourceOptions(
                ignore_changes=list(RESTORE_ONLY_INPUTS)))
        return options

    def _instance(self, subnet_group, parameter_group, monitoring_role, log_groups) -> aws.rds.Instance:
        args = self._args
        restore = self._restore_args()
        storage_key_arn = self._storage_key_arn()
        return aws.rds.Instance(
            f"{self._name}-instance",
            identifier=self.identifier, engine="postgres", engine_version=args.engine_version,
            instance_class=args.instance_class, storage_type="gp3",
            allocated_storage=args.allocated_storage_gb, max_allocated_storage=args.max_allocated_storage_gb,
            storage_encrypted=True, kms_key_id=storage_key_arn,
            # A restore takes the database name and master user from the source's backups.
            db_name=None if restore else args.database_name,
            username=None if restore else args.master_username,
            manage_master_user_password=True, master_user_secret_kms_key_id=args.data_key_arn,
            db_subnet_group_name=subnet_group.name, vpc_security_group_ids=[self.security_group.id],
            parameter_group_name=parameter_group.name, port=POSTGRES_PORT, publicly_accessible=False,
            multi_az=args.multi_az, ca_cert_identifier=CA_CERTIFICATE,
            iam_database_authentication_enabled=True,
            backup_retention_period=args.backup_retention_days, backup_window=args.backup_window,
            maintenance_window=args.maintenance_window, copy_tags_to_snapshot=True,
            delete_automated_backups=not args.production,
            final_snapshot_identifier=self._final_snapshot_identifier(storage_key_arn),
            skip_final_snapshot=args.skip_final_snapshot,
            deletion_protection=args.deletion_protection,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            monitoring_interval=args.monitoring_interval_seconds, monitoring_role_arn=monitoring_role.arn,
            performance_insights_enabled=True, performance_insights_kms_key_id=args.data_key_arn,
            performance_insights_retention_period=args.performance_insights_retention_days,
            auto_minor_version_upgrade=True, allow_major_version_upgrade=False, apply_immediately=False,
            restore_to_point_in_time=restore,
            tags={**self._tags, "securestack:backup": "daily"},
            opts=self._instance_options(log_groups))
