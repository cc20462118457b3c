"""DatabaseBackupPlan: AWS Backup daily backups, copied to a second region under that region's own key."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws

from securestack.infra.settings.database import BACKUP_START_WINDOW_MINUTES, AwsBackupSettings

from .common import aws_identity, renamed_from, service_assume_role_policy, stateful_options
from .keys import account_root_statement, customer_managed_key

BACKUP_SERVICE_POLICY = "arn:{partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"


@dataclass
class DatabaseBackupPlanArgs:
    environment: str
    production: bool
    settings: AwsBackupSettings
    database_arn: pulumi.Input[str]
    data_key_arn: pulumi.Input[str]
    key_deletion_window_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)


class DatabaseBackupPlan(pulumi.ComponentResource):
    def __init__(self, name: str, args: DatabaseBackupPlanArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("securestack:index:DatabaseBackupPlan", name, None,
                         renamed_from("securestack:backup:DatabaseBackupPlan", opts))
        self._name, self._args, self._tags = name, args, dict(args.tags)
        account, partition, _ = aws_identity(self)
        env, settings = args.environment, args.settings
        vault = aws.backup.Vault(f"{name}-vault", name=f"securestack-{env}", kms_key_arn=args.data_key_arn,
                                 tags=self._tags, opts=stateful_options(self, args.production))
        copy_key = customer_managed_key(
            f"{name}-copy-key", description=f"securestack {env} backup copies in {settings.copy_region}",
            statements=[account_root_statement(account, partition)],
            deletion_window_days=args.key_deletion_window_days,
            tags={**self._tags, "securestack:key-purpose": "backup-copy"}, region=settings.copy_region,
            opts=stateful_options(self, args.production))
        copy_vault = aws.backup.Vault(f"{name}-copy-vault", name=f"securestack-{env}-copy", region=settings.copy_region,
                                      kms_key_arn=copy_key.arn, tags=self._tags,
                                      opts=stateful_options(self, args.production))
        plan = aws.backup.Plan(f"{name}-plan", name=f"securestack-{env}-database", rules=[{
            "rule_name": "daily-with-cross-region-copy", "target_vault_name": vault.name,
            "schedule": settings.schedule, "start_window": BACKUP_START_WINDOW_MINUTES, "completion_window": 240,
            "lifecycle": {"delete_after": settings.retention_days},
            "copy_actions": [{"destination_vault_arn": copy_vault.arn,
                              "lifecycle": {"delete_after": settings.copy_retention_days}}],
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
