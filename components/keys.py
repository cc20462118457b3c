"""EnvironmentKeys: the customer-managed KMS keys of one environment (data, secrets, logs)."""
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from .args import as_args, check_environment, check_range, check_tags, field_error
from .common import aws_identity, formatted, policy_json, renamed_from, stateful_options

KEY_PURPOSES = ("data", "secrets", "logs")


def account_root_statement(account: pulumi.Input[str], partition: pulumi.Input[str]) -> dict[str, Any]:
    """Key administration by the account itself, so IAM policies decide who may use the key.

    In a key policy `Resource: "*"` means "this key"; the principal is named, never `*`.
    """
    return {"Sid": "AccountAdministersThroughIam", "Effect": "Allow",
            "Principal": {"AWS": formatted("arn:{0}:iam::{1}:root", partition, account)},
            "Action": "kms:*", "Resource": "*"}


def logs_service_statement(account: pulumi.Input[str], region: pulumi.Input[str],
                           partition: pulumi.Input[str]) -> dict[str, Any]:
    """CloudWatch Logs may use the key only for log groups of this account and region."""
    return {"Sid": "CloudWatchLogsOfThisAccount", "Effect": "Allow",
            "Principal": {"Service": formatted("logs.{0}.amazonaws.com", region)},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": formatted(
                "arn:{0}:logs:{1}:{2}:log-group:*", partition, region, account)}}}


def customer_managed_key(resource_name: str, *, description: str,
                         statements: Sequence[pulumi.Input[Mapping[str, Any]]],
                         deletion_window_days: int, tags: Mapping[str, str], opts: pulumi.ResourceOptions,
                         region: Optional[str] = None) -> aws.kms.Key:
    """A symmetric CMK with yearly rotation, an explicit policy and the lockout safety check left on."""
    return aws.kms.Key(
        resource_name, description=description, key_usage="ENCRYPT_DECRYPT",
        customer_master_key_spec="SYMMETRIC_DEFAULT", enable_key_rotation=True, rotation_period_in_days=365,
        deletion_window_in_days=deletion_window_days, bypass_policy_lockout_safety_check=False,
        policy=policy_json(list(statements)), region=region, tags=dict(tags), opts=opts)


@dataclass
class KeyPolicyStatements:
    """Key-policy statements added to one environment key each, after the account's own administration statement
    (and, on the logs key, CloudWatch Logs of this account and region). Each statement is one JSON object text."""

    data: list[pulumi.Input[str]] = field(default_factory=list)
    """Statements added to the data key's policy (database storage, backups, Performance Insights). Default: none."""
    secrets: list[pulumi.Input[str]] = field(default_factory=list)
    """Statements added to the secrets key's policy (Secrets Manager entries, Lambda environments). Default: none."""
    logs: list[pulumi.Input[str]] = field(default_factory=list)
    """Statements added to the logs key's policy (e.g. CloudTrail writing the trail). Default: none."""

    def for_purpose(self, purpose: str) -> list[pulumi.Input[str]]:
        return list(getattr(self, purpose))


@dataclass
class EnvironmentKeysArgs:
    """Inputs of EnvironmentKeys: whose keys they are and how long a deleted key waits."""

    environment: str
    """Environment name (lowercase letters, digits and single hyphens, at most 12): in aliases and descriptions.
    Required."""
    production: bool = True
    """Whether the keys protect themselves (`protect` and retain on delete). Default: true."""
    deletion_window_days: int = 30
    """Days KMS waits before deleting a key scheduled for deletion (7-30). Default: 30, the longest."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every key (the key's purpose is added as `securestack:key-purpose`). Default: none."""
    extra_statements: KeyPolicyStatements = field(default_factory=KeyPolicyStatements)
    """Statements added to each key's policy, per purpose. Default: none."""

    def __post_init__(self) -> None:
        check_environment(self)
        check_range(self, "deletion_window_days", 7, 30)
        check_tags(self)
        for purpose in KEY_PURPOSES:
            for index, statement in enumerate(self.extra_statements.for_purpose(purpose)):
                if isinstance(statement, str) and not _is_statement(statement):
                    raise field_error(self, f"extra_statements.{purpose}[{index}]",
                                      "is not a key-policy statement (a JSON object with Effect and Action)")


def _is_statement(text: str) -> bool:
    try:
        statement = json.loads(text)
    except ValueError:
        return False
    return isinstance(statement, dict) and "Effect" in statement and ("Action" in statement or "NotAction" in statement)


class EnvironmentKeys(pulumi.ComponentResource):
    """One CMK per purpose, used by nothing outside this environment."""

    data_key_arn: pulumi.Output[str]
    """ARN of the data key (database storage, backups, Performance Insights, the master password)."""
    secrets_key_arn: pulumi.Output[str]
    """ARN of the secrets key (Secrets Manager entries, the rotators' environments)."""
    logs_key_arn: pulumi.Output[str]
    """ARN of the logs key (every log group, the audit trail)."""

    def __init__(self, name: str, args: EnvironmentKeysArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(EnvironmentKeysArgs, args)
        super().__init__("securestack:index:EnvironmentKeys", name, None,
                         renamed_from("securestack:keys:EnvironmentKeys", opts))
        self.account_id, self.partition, self.region = aws_identity(self)
        keys = {purpose: self._key(name, purpose, args) for purpose in KEY_PURPOSES}
        self.data_key_arn = keys["data"].arn
        self.secrets_key_arn = keys["secrets"].arn
        self.logs_key_arn = keys["logs"].arn
        self.register_outputs({"data_key_arn": self.data_key_arn, "secrets_key_arn": self.secrets_key_arn,
                               "logs_key_arn": self.logs_key_arn})

    def _statements(self, purpose: str, args: EnvironmentKeysArgs) -> list[pulumi.Input[Mapping[str, Any]]]:
        statements: list[pulumi.Input[Mapping[str, Any]]] = [account_root_statement(self.account_id, self.partition)]
        if purpose == "logs":
            statements.append(logs_service_statement(self.account_id, self.region, self.partition))
        # Each added statement is JSON text (it may come from another language); parsed, it joins the document.
        statements.extend(pulumi.Output.from_input(text).apply(json.loads)
                          for text in args.extra_statements.for_purpose(purpose))
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
