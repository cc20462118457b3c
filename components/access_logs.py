"""AccessLogBucket: the stack's one destination for S3 server access logs (CloudTrail's and the ALB's log buckets).

Security Hub CloudTrail.7 / CIS 3.6 (the trail bucket) and S3.9 (every bucket) want server access logging. AWS's
rules for a destination bucket (S3 user guide, "Enabling Amazon S3 server access logging" and "Permissions for
log delivery"):
- same region and account as the source buckets;
- with ACLs disabled (bucket owner enforced) delivery is granted by bucket policy to the service principal
  `logging.s3.amazonaws.com`, bounded by `aws:SourceArn` (the source buckets) and `aws:SourceAccount`;
- default encryption SSE-S3 only: log delivery does not support SSE-KMS default encryption on the destination;
- it must not log to itself (each delivery would log another request, without end), so it has no logging.
"""
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from .args import as_args, check_environment, check_range, check_tags
from .common import (ServerAccessLogTarget, aws_identity, concatenated, formatted, policy_json, private_bucket,
                     renamed_from)

S3_LOG_DELIVERY_SERVICE = "logging.s3.amazonaws.com"
NONCURRENT_LOG_VERSION_DAYS = 30
ABORT_INCOMPLETE_UPLOAD_DAYS = 7


def source_buckets_pattern(environment: str, partition: str) -> str:
    """Every bucket of this environment is named securestack-<env>-...: only they may deliver here."""
    return f"arn:{partition}:s3:::securestack-{environment}-*"


# S3 lifecycle expiration takes a positive number of days; ten years bounds a typo.
MAX_EXPIRATION_DAYS = 3653


@dataclass
class AccessLogBucketArgs:
    """Inputs of AccessLogBucket: whose access logs it holds and how long."""

    environment: str
    """Environment name (lowercase letters, digits and single hyphens, at most 12): the bucket is
    `securestack-<env>-s3-access-logs-<account>` and accepts logs only from `securestack-<env>-*` buckets. Required."""
    production: bool = True
    """Whether the bucket protects itself (`protect`, retained on delete, never `force_destroy`). Default: true."""
    expiration_days: int = 365
    """Days a server access log is kept (1-3653). Default: 365, a year of S3 request history."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the bucket. Default: none."""

    def __post_init__(self) -> None:
        check_environment(self)
        check_range(self, "expiration_days", 1, MAX_EXPIRATION_DAYS)
        check_tags(self)


class AccessLogBucket(pulumi.ComponentResource):
    """`target(prefix)` gives a log bucket of this stack its place in the access-log bucket."""

    bucket_name: pulumi.Output[str]
    """Name of the access-log bucket (the destination of the stack's log buckets' S3 server access logs)."""

    def __init__(self, name: str, args: AccessLogBucketArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(AccessLogBucketArgs, args)
        super().__init__("securestack:index:AccessLogBucket", name, None,
                         renamed_from("securestack:storage:AccessLogBucket", opts))
        self._args = args
        self.account_id, self.partition, self.region = aws_identity(self)
        bucket, self.ready = private_bucket(
            f"{name}-bucket",
            bucket_name=formatted("securestack-{0}-s3-access-logs-{1}", args.environment, self.account_id),
            encryption_rule={"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}},
            lifecycle_rules=self._lifecycle_rules(), policy=self._policy_document,
            tags={**args.tags, "Name": f"securestack-{args.environment}-s3-access-logs"}, parent=self,
            production=args.production)
        self.bucket_name = bucket.bucket
        self.register_outputs({"bucket_name": self.bucket_name})

    def target(self, prefix: str) -> ServerAccessLogTarget:
        return ServerAccessLogTarget(bucket=self.bucket_name, prefix=prefix, ready=self.ready.urn)

    def _lifecycle_rules(self) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
        return [
            {"id": "expire-server-access-logs", "status": "Enabled", "filter": {"prefix": ""},
             "expiration": {"days": self._args.expiration_days},
             "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_LOG_VERSION_DAYS},
             "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOAD_DAYS}},
            # Expiry in a versioned bucket leaves delete markers; drop them once nothing is behind them.
            {"id": "remove-expired-delete-markers", "status": "Enabled", "filter": {"prefix": ""},
             "expiration": {"expired_object_delete_marker": True}},
        ]

    def _policy_document(self, bucket: aws.s3.Bucket) -> pulumi.Output[str]:
        every_object = [bucket.arn, concatenated(bucket.arn, "/*")]
        return policy_json([
            {"Sid": "S3ServerAccessLogDeliveryFromThisEnvironment", "Effect": "Allow",
             "Principal": {"Service": S3_LOG_DELIVERY_SERVICE}, "Action": "s3:PutObject",
             "Resource": concatenated(bucket.arn, "/*"),
             "Condition": {
                 "ArnLike": {"aws:SourceArn": self.partition.apply(
                     lambda partition: source_buckets_pattern(self._args.environment, partition))},
                 "StringEquals": {"aws:SourceAccount": self.account_id}}},
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": every_object, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ])
