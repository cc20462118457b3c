"""DatabaseBackupPlan: AWS Backup daily backups, copied to a second region under that region's own key."""
import re
from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_aws as aws

from .args import as_args, check_environment, check_range, check_tags, field_error
from .common import aws_identity, renamed_from, service_assume_role_policy, stateful_options
from .keys import account_root_statement, customer_managed_key

BACKUP_SERVICE_POLICY = "arn:{partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"


# AWS Backup starts a job within this many minutes of its scheduled time (the plan rule's start window; the stack's
# settings use it to keep the schedule clear of the database's maintenance window).
BACKUP_START_WINDOW_MINUTES = 60
# A started job must finish within this many minutes or AWS Backup cancels it.
BACKUP_COMPLETION_WINDOW_MINUTES = 240
# 07:00 UTC: clear of EncryptedPostgres's default backup window (03:00-03:30) and, on Sundays, of its default
# maintenance window (04:30-05:30) with the hour before it, in which AWS Backup starts no RDS backup.
DEFAULT_BACKUP_SCHEDULE = "cron(0 7 ? * * *)"
AWS_CRON = re.compile(r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")
AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
# At least a week, the floor of the database's own point-in-time recovery; ten years bounds a typo.
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 7, 3650


@dataclass
class DatabaseBackupPlanArgs:
    """Inputs of DatabaseBackupPlan: the database to back up, when, for how long, and the second region."""

    environment: str
    """Environment name (lowercase letters, digits and single hyphens, at most 12): in the vaults' and the plan's
    names. Required."""
    database_arn: pulumi.Input[str]
    """ARN of the RDS instance to back up (e.g. EncryptedPostgres.arn). Required."""
    data_key_arn: pulumi.Input[str]
    """ARN of the KMS key the primary vault encrypts recovery points with (e.g. EnvironmentKeys.data_key_arn).
    Required."""
    copy_region: str
    """AWS region the daily copy goes to (e.g. us-west-2), under a key of its own there; it must differ from the
    stack's region, since the copy is what survives a regional outage. Required."""
    production: bool = True
    """Whether the vaults and the copy key protect themselves (`protect` and retain on delete). Default: true."""
    schedule: str = DEFAULT_BACKUP_SCHEDULE
    """When the daily backup starts: an AWS cron expression with six fields, in UTC. Default: cron(0 7 ? * * *)."""
    retention_days: int = 35
    """Days a recovery point is kept in the primary vault (7-3650). Default: 35."""
    copy_retention_days: int = 35
    """Days a copied recovery point is kept in the second region (7-3650). Default: 35."""
    key_deletion_window_days: int = 30
    """Days KMS waits before deleting the copy key once scheduled for deletion (7-30). Default: 30."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the vaults, the plan, the role and the copy key. Default: none."""

    def __post_init__(self) -> None:
        check_environment(self)
        if not isinstance(self.copy_region, str) or not AWS_REGION.match(self.copy_region):
            raise field_error(self, "copy_region", f"{self.copy_region!r} is not an AWS region name (e.g. us-west-2)")
        if not isinstance(self.schedule, str) or not AWS_CRON.match(self.schedule):
            raise field_error(self, "schedule", f"{self.schedule!r} is not an AWS cron expression with six fields "
                              "(e.g. cron(0 7 ? * * *))")
        check_range(self, "retention_days", MIN_RETENTION_DAYS, MAX_RETENTION_DAYS)
        check_range(self, "copy_retention_days", MIN_RETENTION_DAYS, MAX_RETENTION_DAYS)
        check_range(self, "key_deletion_window_days", 7, 30)
        check_tags(self)


class DatabaseBackupPlan(pulumi.ComponentResource):
    """Daily AWS Backup of one database into a vault under the data key, copied to a second region's vault under a
    key of that region."""

    vault_arn: pulumi.Output[str]
    """ARN of the primary backup vault (the stack's region)."""
    copy_vault_arn: pulumi.Output[str]
    """ARN of the copy vault in `copy_region`."""

    def __init__(self, name: str, args: DatabaseBackupPlanArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(DatabaseBackupPlanArgs, args)
        super().__init__("securestack:index:DatabaseBackupPlan", name, None,
                         renamed_from("securestack:backup:DatabaseBackupPlan", opts))
        self._name, self._args, self._tags = name, args, dict(args.tags)
        account, partition, _ = aws_identity(self)
        env = args.environment
        vault = aws.backup.Vault(f"{name}-vault", name=f"securestack-{env}", kms_key_arn=args.data_key_arn,
                                 tags=self._tags, opts=stateful_options(self, args.production))
        copy_key = customer_managed_key(
            f"{name}-copy-key", description=f"securestack {env} backup copies in {args.copy_region}",
            statements=[account_root_statement(account, partition)],
            deletion_window_days=args.key_deletion_window_days,
            tags={**self._tags, "securestack:key-purpose": "backup-copy"}, region=args.copy_region,
            opts=stateful_options(self, args.production))
        copy_vault = aws.backup.Vault(f"{name}-copy-vault", name=f"securestack-{env}-copy", region=args.copy_region,
                                      kms_key_arn=copy_key.arn, tags=self._tags,
                                      opts=stateful_options(self, args.production))
        plan = aws.backup.Plan(f"{name}-plan", name=f"securestack-{env}-database", rules=[{
            "rule_name": "daily-with-cross-region-copy", "target_vault_name": vault.name,
            "schedule": args.schedule, "start_window": BACKUP_START_WINDOW_MINUTES, "completion_window": BACKUP_COMPLETION_WINDOW_MINUTES,
            "lifecycle": {"delete_after": args.retention_days},
            "copy_actions": [{"destination_vault_arn": copy_vault.arn,
                              "lifecycle": {"delete_after": args.copy_retention_days}}],
        }], tags=self._tags, opts=pulumi.ResourceOptions(parent=self))
        role = aws.iam.Role(f"{name}-role", assume_role_policy=service_assume_role_policy("backup.amazonaws.com"),
                            description=f"AWS Backup for securestack {env}", tags=self._tags,
                            opts=pulumi.ResourceOptions(parent=self))
        aws.iam.RolePolicyAttachment(f"{name}-role-policy", role=role.name,
                                     policy_arn=partition.apply(lambda p: BACKUP_SERVICE_POLICY.format(partition=p)),
                                     opts=pulumi.ResourceOptions(parent=self))
        aws.backup.Selection(f"{name}-selection", name=f"securestack-{env}-database", plan_id=plan.id,
                             iam_role_arn=role.arn, resources=[args.database_arn],
                             opts=pulumi.ResourceOptions(parent=self))
        self.vault_arn, self.copy_vault_arn = vault.arn, copy_vault.arn
        self.register_outputs({"vault_arn": self.vault_arn, "copy_vault_arn": self.copy_vault_arn})
