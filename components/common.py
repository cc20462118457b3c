"""Small helpers the components share (not components themselves)."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws


def policy_json(statements: Sequence[Mapping[str, Any]]) -> pulumi.Output[str]:
    """An IAM/KMS/bucket policy document as JSON text; statements may hold Outputs."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def service_assume_role_policy(service: str, source_account: Optional[pulumi.Input[str]] = None) -> pulumi.Output[str]:
    """Trust policy for an AWS service; bound to our account where the service supports it (confused deputy)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return policy_json([statement])


def encrypted_log_group(resource_name: str, *, log_group_name: pulumi.Input[str], kms_key_arn: pulumi.Input[str],
                        retention_days: int, tags: Mapping[str, str], parent: pulumi.Resource,
                        protect: bool = False) -> aws.cloudwatch.LogGroup:
    """Every log group the stack creates is KMS-encrypted with the environment's logs key and has a retention."""
    return aws.cloudwatch.LogGroup(
        resource_name, name=log_group_name, kms_key_id=kms_key_arn, retention_in_days=retention_days,
        tags=dict(tags), opts=pulumi.ResourceOptions(parent=parent, protect=protect))


def stateful_options(parent: pulumi.Resource, production: bool, **extra: Any) -> pulumi.ResourceOptions:
    """Stateful children (keys, database, secrets, vaults) protect themselves in production."""
    return pulumi.ResourceOptions(parent=parent, protect=production, retain_on_delete=production, **extra)


def aws_identity(parent: pulumi.Resource) -> tuple[pulumi.Output[str], pulumi.Output[str], pulumi.Output[str]]:
    """(account id, partition, region) of the provider the component deploys with."""
    opts = pulumi.InvokeOutputOptions(parent=parent)
    account = aws.get_caller_identity_output(opts=opts).account_id
    partition = aws.get_partition_output(opts=opts).partition
    region = aws.get_region_output(opts=opts).region
    return account, partition, region
