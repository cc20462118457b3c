"""EnvironmentKeys: the customer-managed KMS keys of one environment (data, secrets, logs)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from .common import aws_identity, policy_json, renamed_from, stateful_options

KEY_PURPOSES = ("data", "secrets", "logs")


def account_root_statement(account: pulumi.Input[str], partition: pulumi.Input[str]) -> dict[str, Any]:
    """Key administration by the account itself, so IAM policies decide who may use the key.

    In a key policy `Resource: "*"` means "this key"; the principal is named, never `*`.
    """
    return {"Sid": "AccountAdministersThroughIam", "Effect": "Allow",
            "Principal": {"AWS": pulumi.Output.format("arn:{0}:iam::{1}:root", partition, account)},
            "Action": "kms:*", "Resource": "*"}


def logs_service_statement(account: pulumi.Input[str], region: pulumi.Input[str],
                           partition: pulumi.Input[str]) -> dict[str, Any]:
    """CloudWatch Logs may use the key only for log groups of this account and region."""
    return {"Sid": "CloudWatchLogsOfThisAccount", "Effect": "Allow",
            "Principal": {"Service": pulumi.Output.format("logs.{0}.amazonaws.com", region)},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": pulumi.Output.format(
                "arn:{0}:logs:{1}:{2}:log-group:*", partition, region, account)}}}


def customer_managed_key(resource_name: str, *, description: str, statements: Sequence[Mapping[str, Any]],
                         deletion_window_days: int, tags: Mapping[str, str], opts: pulumi.ResourceOptions,
                         region: Optional[str] = None) -> aws.kms.Key:
    """A symmetric CMK with yearly rotation, an explicit policy and the lockout safety check left on."""
    return aws.kms.Key(
        resource_name, description=description, key_usage="ENCRYPT_DECRYPT",
        customer_master_key_spec="SYMMETRIC_DEFAULT", enable_key_rotation=True, rotation_period_in_days=365,
        deletion_window_in_days=deletion_window_days, bypass_policy_lockout_safety_check=False,
        policy=policy_json(list(statements)), region=region, tags=dict(tags), opts=opts)


@dataclass
class EnvironmentKeysArgs:
    environment: str
    production: bool
    deletion_window_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)
    # Extra key-policy statements per purpose (e.g. CloudTrail on the logs key), account statements included.
    extra_statements: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)


class EnvironmentKeys(pulumi.ComponentResource):
    """One CMK per purpose, used by nothing outside this environment."""

    def __init__(self, name: str, args: EnvironmentKeysArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("securestack:index:EnvironmentKeys", name, None,
                         renamed_from("securestack:keys:EnvironmentKeys", opts))
        self.account_id, self.partition, self.region = aws_identity(self)
        keys = {purpose: self._key(name, purpose, args) for purpose in KEY_PURPOSES}
        self.data_key_arn = keys["data"].arn
        self.secrets_key_arn = keys["secrets"].arn
        self.logs_key_arn = keys["logs"].arn
        self.register_outputs({"data_key_arn": self.data_key_arn, "secrets_key_arn": self.secrets_key_arn,
                               "logs_key_arn": self.logs_key_arn})

    def _statements(self, purpose: str, args: EnvironmentKeysArgs) -> list[Mapping[str, Any]]:
        statements: list[Mapping[str, Any]] = [account_root_statement(self.account_id, self.partition)]
        if purpose == "logs":
            statements.append(logs_service_statement(self.account_id, self.region, self.partition))
        statements.extend(args.extra_statements.get(purpose, ()))
        return statements

    def _key(self, name: str, purpose: str, args: EnvironmentKeysArgs) -> aws.kms.Key:
        tags = {**args.tags, "securestack:key-purpose": purpose}
        key = customer_managed_key(
            f"{name}-{purpose}", description=f"securestack {args.environment} {purpose} key",
            statements=self._statements(purpose, args), deletion_window_days=args.deletion_window_days,
            tags=tags, opts=stateful_options(self, args.production))
        aws.kms.Alias(f"{name}-{purpose}-alias", name=f"alias/securestack/{args.environment}/{purpose}",
                      target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=self))
        return key
