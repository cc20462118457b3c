"""Small helpers the components share (not components themselves)."""
import asyncio
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar, cast

import pulumi
import pulumi_aws as aws

T = TypeVar("T")


def combined(func: Callable[..., T], *inputs: pulumi.Input[Any]) -> pulumi.Output[T]:
    """`func(*values)` as an Output: what `Output.all(*inputs).apply(lambda values: func(*values))` gives (the
    inputs' resources, unknown if any input is, then `func` is not called; secret if any is), in two tasks.

    `Output.all` lifts every input through `Output.from_input`, an apply of its own for each (pulumi/output.py), to
    unwrap Outputs nested in its value; an Output's value never holds one (apply and from_input unwrap them), so for
    the ARNs, names and documents here that lifting only cost tasks: 2n + 4 for n inputs, a sixth of the dev stack
    program's tasks beyond the resources' own (issue 16, target 1). `func` returns a plain value."""
    if not any(isinstance(item, pulumi.Output) for item in inputs):
        return pulumi.Output.from_input(func(*inputs))
    shared = asyncio.ensure_future(_combine(func, inputs))

    async def part(index: int) -> Any:
        return (await shared)[index]

    return pulumi.Output(part(0), part(1), part(2), part(3))


async def _combine(func: Callable[..., Any], inputs: Sequence[pulumi.Input[Any]]) -> tuple[Any, Any, bool, bool]:
    """(resources, value, known, secret) of `combined`, read through the Outputs' own accessors."""
    values: list[Any] = []
    resources: set[pulumi.Resource] = set()
    known, secret = True, False
    for item in inputs:
        if isinstance(item, pulumi.Output):
            resources |= await item.resources()
            known = known and await item.is_known()
            secret = secret or await item.is_secret()
            values.append(await item.future(with_unknowns=True))
        else:
            values.append(item)
    return resources, (func(*values) if known else None), known, secret


def formatted(template: str, *inputs: pulumi.Input[Any]) -> pulumi.Output[str]:
    """`pulumi.Output.format(template, *inputs)` through `combined`."""
    return combined(lambda *values: template.format(*values), *inputs)


def concatenated(*inputs: pulumi.Input[str]) -> pulumi.Output[str]:
    """`pulumi.Output.concat(*inputs)` through `combined`."""
    return combined(lambda *values: "".join(values), *inputs)


def policy_json(statements: Sequence[pulumi.Input[Mapping[str, Any]]]) -> pulumi.Output[str]:
    """An IAM/KMS/bucket policy document as JSON text; statements may hold Outputs.

    The same text, dependencies, secretness and unknownness as `pulumi.Output.json_dumps(document)`, with one
    `combined` over the Outputs in it instead of json_dumps' `Output.from_input`, which lifts every nested dict
    and list into an Output of its own (pulumi/output.py): a secret's resource policy was ~25 Outputs and tasks,
    for each of a stack's thousands of secrets (issue 16)."""
    leaves: list[pulumi.Output[Any]] = []
    template = _with_placeholders({"Version": "2012-10-17", "Statement": list(statements)}, leaves)
    if not leaves:
        return pulumi.Output.from_input(json.dumps(template))
    return combined(lambda *values: json.dumps(_filled(template, values)), *leaves)


class _Placeholder:
    """Where the n-th Output of a document goes once its value is known."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


def _with_placeholders(value: Any, leaves: list[pulumi.Output[Any]]) -> Any:
    if isinstance(value, pulumi.Output):
        leaves.append(value)
        return _Placeholder(len(leaves) - 1)
    if isinstance(value, Mapping):
        return {key: _with_placeholders(item, leaves) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_with_placeholders(item, leaves) for item in value]
    return value


def _filled(value: Any, values: Sequence[Any]) -> Any:
    if isinstance(value, _Placeholder):
        return values[value.index]
    if isinstance(value, dict):
        return {key: _filled(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, values) for item in value]
    return value


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


def renamed_from(old_type: str, opts: Optional[pulumi.ResourceOptions]) -> pulumi.ResourceOptions:
    """`opts` plus an alias to the component's type token before 0.13 (`securestack:<module>:<Class>`; now
    `securestack:index:<Class>`, the component provider's convention), so a stack deployed before keeps its
    resources: the engine matches the old URNs, and children's URNs follow their parent's alias."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=old_type)]))


def stateful_options(parent: pulumi.Resource, production: bool, **extra: Any) -> pulumi.ResourceOptions:
    """Stateful children (keys, database, secrets, vaults) protect themselves in production."""
    return pulumi.ResourceOptions(parent=parent, protect=production, retain_on_delete=production, **extra)


# One lookup per provider and program run: every component deploys with the same provider, and each
# lookup is a round trip to the provider plugin. Kept on the provider object itself, so it lives exactly as long as
# the provider: a WeakKeyDictionary keyed by the provider never let go (its values, Outputs of invokes through the
# provider, reference the provider, and through its parent the whole stack), so each in-process run (a test
# session's recordings, bench/preview.py's repeats) kept every earlier run's resource graph alive (issue 16).
_IDENTITY_ATTRIBUTE = "_securestack_aws_identity"
AwsIdentity = tuple[pulumi.Output[str], pulumi.Output[str], pulumi.Output[str]]


def _look_up_identity(opts: pulumi.InvokeOutputOptions) -> AwsIdentity:
    account = aws.get_caller_identity_output(opts=opts).account_id
    partition = aws.get_partition_output(opts=opts).partition
    region = aws.get_region_output(opts=opts).region
    return account, partition, region


def provider_identity(provider: pulumi.ProviderResource) -> AwsIdentity:
    """(account id, partition, region) the provider deploys to."""
    identity: Optional[AwsIdentity] = vars(provider).get(_IDENTITY_ATTRIBUTE)
    if identity is None:
        identity = _look_up_identity(pulumi.InvokeOutputOptions(provider=provider))
        setattr(provider, _IDENTITY_ATTRIBUTE, identity)
    return identity


def aws_identity(parent: pulumi.Resource) -> AwsIdentity:
    """(account id, partition, region) of the provider the component deploys with."""
    provider = parent.get_provider("aws::")
    if provider is None:
        return _look_up_identity(pulumi.InvokeOutputOptions(parent=parent))
    return provider_identity(provider)


@dataclass(frozen=True)
class ServerAccessLogTarget:
    """Where a bucket's S3 server access logs go: the stack's access-log bucket, under the source's own prefix."""

    bucket: pulumi.Input[str]
    """Name of the destination bucket (e.g. AccessLogBucket.bucket_name). Required."""
    prefix: str
    """Key prefix of this source's logs in the destination, e.g. `cloudtrail/`; S3 appends nothing, so it ends
    with '/'. Required."""
    ready: Optional[pulumi.Input[str]] = None
    """Any output of the destination's bucket policy (e.g. its URN): logging is configured only once the resources
    behind this value exist, since delivery works only after the policy does. Default: none to wait for."""


def waiting_for(*markers: Optional[pulumi.Input[Any]]) -> list[pulumi.Input[pulumi.Resource]]:
    """`depends_on` entries for values given as Outputs (an ARN, an id, a URN): the resources behind each value,
    never the value itself. The SDK resolves an Output in `depends_on` to its resources and adds its value only
    when that is not None (pulumi/runtime/_depends_on.py `_resolve_depends_on`), so each marker resolves to None.
    A component resource behind a marker (e.g. its `urn`) stands for all its children, as in `depends_on`."""
    # Typed as resources because depends_on takes only those; at run time each resolves to None, as said above.
    return [cast("pulumi.Output[pulumi.Resource]", combined(lambda _: None, marker))
            for marker in markers if marker is not None]


def private_bucket(resource_name: str, *, bucket_name: pulumi.Input[str],
                   encryption_rule: aws.s3.BucketServerSideEncryptionConfigurationRuleArgsDict,
                   lifecycle_rules: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgsDict],
                   policy: Callable[[aws.s3.Bucket], pulumi.Input[str]], tags: Mapping[str, str],
                   parent: pulumi.Resource, production: bool,
                   access_logs: Optional[ServerAccessLogTarget] = None) -> tuple[aws.s3.Bucket, pulumi.Resource]:
    """A log bucket nobody reads by accident: public access blocked, ACLs off, versioned, encrypted, expiring,
    its own requests logged to `access_logs` (S3 server access logging; only the access-log bucket itself has none).

    Outside production the bucket is `force_destroy`: a versioned bucket still holding objects (every log bucket)
    makes `pulumi destroy` fail with BucketNotEmpty. Production buckets never are, and are protected and retained.

    `policy` is a function of the bucket giving its policy document. Returns (bucket, its policy): the policy
    is configured last, so depending on it means the bucket is fully set up. S3 refuses concurrent
    configuration changes to one bucket (OperationAborted), so each change waits for the previous one.
    """
    bucket = aws.s3.Bucket(resource_name, bucket=bucket_name, force_destroy=not production, tags=dict(tags),
                           opts=stateful_options(parent, production))
    configurations: list[Callable[[pulumi.ResourceOptions], pulumi.Resource]] = [
        lambda after: aws.s3.BucketPublicAccessBlock(
            f"{resource_name}-public-access-block", bucket=bucket.id, block_public_acls=True,
            block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True, opts=after),
        lambda after: aws.s3.BucketOwnershipControls(
            f"{resource_name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"},
            opts=after),
        lambda after: aws.s3.BucketVersioning(
            f"{resource_name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"},
            opts=after),
        lambda after: aws.s3.BucketServerSideEncryptionConfiguration(
            f"{resource_name}-encryption", bucket=bucket.id, rules=[encryption_rule], opts=after),
        lambda after: aws.s3.BucketLifecycleConfiguration(
            f"{resource_name}-lifecycle", bucket=bucket.id, rules=list(lifecycle_rules), opts=after),
        lambda after: aws.s3.BucketPolicy(f"{resource_name}-policy", bucket=bucket.id, policy=policy(bucket),
                                          opts=after),
    ]
    if access_logs is not None:
        configurations.insert(-1, lambda after: aws.s3.BucketLogging(
            f"{resource_name}-access-logging", bucket=bucket.id, target_bucket=access_logs.bucket,
            target_prefix=access_logs.prefix, opts=pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(
                depends_on=waiting_for(access_logs.ready)))))
    previous: list[pulumi.Resource] = []
    for configure in configurations:
        previous = [configure(pulumi.ResourceOptions(parent=parent, depends_on=previous))]
    return bucket, previous[0]
