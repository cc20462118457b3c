"""Small components written to contract 13, for testing the component package machinery on its own.

No `from __future__ import annotations`: the SDK's analyzer reads the annotations unevaluated (contract item 2).
"""
import enum
from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_aws as aws

from securestack.components.args import ArgsError, as_args


class StorageTier(enum.Enum):
    """How often the bucket's objects are read."""

    STANDARD = "standard"
    """Read often."""
    ARCHIVE = "archive"
    """Read rarely."""


@dataclass
class Retention:
    """How long the bucket keeps objects."""

    days: int = 365
    """Days an object is kept before it expires (default 365)."""
    noncurrent_days: list[int] = field(default_factory=lambda: [30, 90])
    """Days a replaced version is kept, per transition (default [30, 90])."""

    def __post_init__(self) -> None:
        # Integers must arrive as integers whoever calls (the provider's inputs are floats on the wire).
        if not isinstance(self.days, int) or self.days < 1:
            raise ArgsError(f"Retention.days: {self.days!r} is not a whole number of days >= 1")


@dataclass
class FixtureBucketArgs:
    """Inputs of FixtureBucket."""

    environment: str
    """Environment name, lowercase letters and digits (no default)."""
    vpc_id: pulumi.Input[str]
    """VPC the bucket's endpoint policy names (no default)."""
    subnet_ids: pulumi.Input[list[pulumi.Input[str]]]
    """Subnets that may reach the bucket (no default)."""
    retention: Retention = field(default_factory=Retention)
    """Object retention (default: Retention's defaults)."""
    tier: StorageTier = StorageTier.STANDARD
    """Storage tier (default standard)."""
    production: bool = True
    """Whether the bucket is protected (default true)."""
    kms_key_arn: Optional[pulumi.Input[str]] = None
    """KMS key of the bucket's encryption (default: the S3 managed key)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource (default none)."""

    def __post_init__(self) -> None:
        if not self.environment.isalnum() or self.environment.lower() != self.environment:
            raise ArgsError(f"FixtureBucketArgs.environment: {self.environment!r} is not lowercase letters and digits")


class FixtureBucket(pulumi.ComponentResource):
    """A bucket with a retention rule (fixture)."""

    bucket_name: pulumi.Output[str]
    """The bucket's name."""
    retention_days: pulumi.Output[int]
    """Days objects are kept."""
    tier: pulumi.Output[str]
    """The storage tier's value."""

    def __init__(self, name: str, args: FixtureBucketArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(FixtureBucketArgs, args)
        super().__init__("securestack:index:FixtureBucket", name, None, opts)
        tags = {**args.tags, "environment": args.environment, "vpc": args.vpc_id}
        self.bucket = aws.s3.Bucket(f"{name}-bucket", tags=tags,
                                    opts=pulumi.ResourceOptions(parent=self, protect=args.production))
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id,
            rules=[{"id": "expire", "status": "Enabled", "filter": {},
                    "expiration": {"days": args.retention.days},
                    "noncurrent_version_expiration": {"noncurrent_days": max(args.retention.noncurrent_days)}}],
            opts=pulumi.ResourceOptions(parent=self))
        self.bucket_name = self.bucket.bucket
        self.retention_days = pulumi.Output.from_input(args.retention.days)
        self.tier = pulumi.Output.from_input(args.tier.value)
        self.register_outputs({"bucket_name": self.bucket_name, "retention_days": self.retention_days,
                               "tier": self.tier})


@dataclass
class FixtureQueueArgs:
    """Inputs of FixtureQueue."""

    retention_seconds: int = 1209600
    """Seconds a message is kept (default 1209600, SQS's longest): a docstring wrapped onto a second line,
    as long ones are."""


class FixtureQueue(pulumi.ComponentResource):
    """A queue (fixture: a second component, every input optional)."""

    queue_url: pulumi.Output[str]
    """The queue's URL."""

    def __init__(self, name: str, args: FixtureQueueArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(FixtureQueueArgs, args)
        super().__init__("securestack:index:FixtureQueue", name, None, opts)
        queue = aws.sqs.Queue(f"{name}-queue", message_retention_seconds=args.retention_seconds,
                              opts=pulumi.ResourceOptions(parent=self))
        self.queue_url = queue.url
        self.register_outputs({"queue_url": self.queue_url})


FIXTURE_COMPONENTS = (FixtureBucket, FixtureQueue)
