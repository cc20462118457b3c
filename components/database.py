"""EncryptedPostgres: RDS PostgreSQL encrypted with the environment key, PITR backups, TLS enforced."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from securestack.infra.settings.database import DatabaseSettings

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


def postgres_parameters(settings: DatabaseSettings) -> dict[str, str]:
    """The engine parameters the parameter group sets (all but rds.* are checked against a real server's
    pg_settings in the tests, so a typo fails there, not half-way through `pulumi up`)."""
    return {
        "rds.force_ssl": "1",
        "ssl_min_protocol_version": "TLSv1.2",
        "password_encryption": "scram-sha-256",
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
        "log_statement": settings.log_statement,
        "log_min_duration_statement": str(settings.log_min_duration_statement_ms),
        "idle_in_transaction_session_timeout": "600000",
    }


def major_version(engine_version: str) -> str:
    return engine_version.split(".")[0]


@dataclass
class EncryptedPostgresArgs:
    environment: str
    production: bool
    settings: DatabaseSettings
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    data_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    tags: Mapping[str, str] = field(default_factory=dict)


class EncryptedPostgres(pulumi.ComponentResource):
    """Private, TLS-only PostgreSQL; admits port 5432 only from security groups named via `admit`."""

    def __init__(self, name: str, args: EncryptedPostgresArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("securestack:index:EncryptedPostgres", name, None,
                         renamed_from("securestack:database:EncryptedPostgres", opts))
        self._name, self._args, self._tags = name, args, dict(args.tags)
        self.identifier = f"securestack-{args.environment}-postgres"
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
        self.register_outputs({"endpoint": self.endpoint, "port": self.port, "arn": self.arn,
                               "security_group_id": self.security_group_id,
                               "master_secret_arn": self.master_secret_arn})

    def admit(self, source_name: str, source_security_group_id: pulumi.Input[str]) -> aws.vpc.SecurityGroupIngressRule:
        """Lets one named security group reach PostgreSQL; nothing else ever can."""
        return aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-from-{source_name}", security_group_id=self.security_group.id, ip_protocol="tcp",
            from_port=POSTGRES_PORT, to_port=POSTGRES_PORT, referenced_security_group_id=source_security_group_id,
            description=f"PostgreSQL from {source_name}", tags=self._tags, opts=pulumi.ResourceOptions(parent=self))

    def _parameter_group(self) -> aws.rds.ParameterGroup:
        settings = self._args.settings
        return aws.rds.ParameterGroup(
            f"{self._name}-params", family=f"postgres{major_version(settings.engine_version)}",
            description=f"TLS-only, audited PostgreSQL for {self.identifier}",
            parameters=[{"name": n, "value": v, "apply_method": "immediate"}
                        for n, v in postgres_parameters(settings).items()],
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
        restore = self._args.settings.restore
        if restore is None:
            return None
        # Exactly one point in time (settings guarantee it); the other key is left out rather than sent as null.
        if restore.restore_time is not None:
            point = {"restore_time": restore.restore_time.strftime("%Y-%m-%dT%H:%M:%SZ")}
        else:
            point = {"use_latest_restorable_time": True}
        return {"source_db_instance_identifier": restore.source_db_instance_identifier, **point}

    def _storage_key_arn(self) -> pulumi.Input[str]:
        """The key the storage is encrypted with, as AWS will report it: a restored copy keeps its source's key
        (declared in the restore settings), a new database uses this stack's data key."""
        restore = self._args.settings.restore
        return restore.source_kms_key_arn if restore is not None else self._args.data_key_arn

    def _final_snapshot_identifier(self, storage_key_arn: pulumi.Input[str]) -> pulumi.Output[str]:
        """`<identifier>-final-<8 hex>`: a new suffix per instance, so a second destroy never collides with the
        first one's snapshot (RDS DBSnapshotIdentifier: 1-255 letters, digits, hyphens, a letter first, no '--',
        no trailing '-'). A new stack draws a new suffix; the keepers are the inputs that replace the instance, so
        a replacement draws one too (a restored copy ignores those after creation: only its identifier counts)."""
        settings = self._args.settings
        keepers: dict[str, pulumi.Input[str]] = {"identifier": self.identifier}
        if settings.restore is None:
            keepers.update(kmsKeyId=storage_key_arn, dbName=settings.database_name,
                           username=settings.master_username)
        suffix = random.RandomId(f"{self._name}-final-snapshot-suffix", byte_length=4, keepers=keepers,
                                 opts=pulumi.ResourceOptions(parent=self))
        return suffix.hex.apply(lambda hex_: f"{self.identifier}-final-{hex_}")

    def _instance_options(self, log_groups) -> pulumi.ResourceOptions:
        options = stateful_options(self, self._args.production, depends_on=log_groups)
        if self._args.settings.restore is not None:
            options = pulumi.ResourceOptions.merge(options, pulumi.ResourceOptions(
                ignore_changes=list(RESTORE_ONLY_INPUTS)))
        return options

    def _instance(self, subnet_group, parameter_group, monitoring_role, log_groups) -> aws.rds.Instance:
        args, settings = self._args, self._args.settings
        restore = self._restore_args()
        storage_key_arn = self._storage_key_arn()
        return aws.rds.Instance(
            f"{self._name}-instance",
            identifier=self.identifier, engine="postgres", engine_version=settings.engine_version,
            instance_class=settings.instance_class, storage_type="gp3",
            allocated_storage=settings.allocated_storage_gb, max_allocated_storage=settings.max_allocated_storage_gb,
            storage_encrypted=True, kms_key_id=storage_key_arn,
            # A restore takes the database name and master user from the source's backups.
            db_name=None if restore else settings.database_name,
            username=None if restore else settings.master_username,
            manage_master_user_password=True, master_user_secret_kms_key_id=args.data_key_arn,
            db_subnet_group_name=subnet_group.name, vpc_security_group_ids=[self.security_group.id],
            parameter_group_name=parameter_group.name, port=POSTGRES_PORT, publicly_accessible=False,
            multi_az=settings.multi_az, ca_cert_identifier=CA_CERTIFICATE,
            iam_database_authentication_enabled=True,
            backup_retention_period=settings.backup_retention_days, backup_window=settings.backup_window,
            maintenance_window=settings.maintenance_window, copy_tags_to_snapshot=True,
            delete_automated_backups=not args.production,
            final_snapshot_identifier=self._final_snapshot_identifier(storage_key_arn),
            skip_final_snapshot=settings.skip_final_snapshot,
            deletion_protection=settings.deletion_protection,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            monitoring_interval=settings.monitoring_interval_seconds, monitoring_role_arn=monitoring_role.arn,
            performance_insights_enabled=True, performance_insights_kms_key_id=args.data_key_arn,
            performance_insights_retention_period=settings.performance_insights_retention_days,
            auto_minor_version_upgrade=True, allow_major_version_upgrade=False, apply_immediately=False,
            restore_to_point_in_time=restore,
            tags={**self._tags, "securestack:backup": "daily"},
            opts=self._instance_options(log_groups))
