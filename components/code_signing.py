"""RotatorCodeSigning: the rotators' code is signed by AWS Signer and Lambda refuses any other code.

One per stack: a private, versioned, TLS-only bucket under the secrets key where each rotator's archive is
uploaded (`unsigned/<kind>-<sha256>.zip`), an AWS Signer signing profile (platform `AWSLambda-SHA384-ECDSA`) and a
Lambda code-signing configuration that allows only that profile's version and *enforces* (refuses unsigned or
foreign code instead of warning). `signed_code(name, code_signing.target(), ...)` uploads one archive and signs it
with a signing job; the function
deploys the job's signed object.

Why this stays quiet when nothing changed and re-signs when something did (Terraform's aws_signer_signing_job,
which pulumi-aws bridges, internal/service/signer/signing_job.go): every input of a signing job forces a new one
and deleting one is a no-op. The uploaded object's key carries the archive's sha256, so the same source gives the
same key, the same object version and no diff on the object, the job or the function; one changed byte gives a new
key, a new object version, a new signing job (create-only: a new signature under a new key below `signed/`) and so
an update of the function's code, which Lambda verifies against the code-signing configuration before it accepts
it. A failed signature fails `pulumi up` (`ignore_signing_job_failure` stays false): nothing unsigned is deployed.
"""
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import pulumi
import pulumi_aws as aws

from .args import ArgsError, as_args
from .common import (ServerAccessLogTarget, aws_identity, concatenated, formatted, policy_json, private_bucket,
                     renamed_from, waiting_for)

# AWS Signer's platform for Lambda zip packages (ListSigningPlatforms; Lambda developer guide, "Code signing").
LAMBDA_SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"
# Lambda's CodeSigningPolicy enum (botocore lambda model): Warn deploys untrusted code anyway, Enforce refuses it.
ENFORCE = "Enforce"
UNSIGNED_PREFIX = "unsigned/"
SIGNED_PREFIX = "signed/"
# The provider validates name_prefix against ^[0-9A-Za-z_]{0,38}$ and appends a unique suffix: a canceled profile's
# name can never be used again, so a fixed name would make a destroyed stack impossible to create again.
_PROFILE_PREFIX_MAX = 38
# Objects replaced by a newer upload or signature only matter until the next deploy: kept a month, then expired.
NONCURRENT_VERSION_DAYS = 30


def profile_name_prefix(environment: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", f"securestack_{environment}_rotators_")[:_PROFILE_PREFIX_MAX]


def unsigned_object_key(kind: str, sha256_hex: str) -> str:
    """Keyed by content: the same archive is the same object (no new version, no new signature)."""
    return f"{UNSIGNED_PREFIX}{kind}-{sha256_hex}.zip"


@dataclass(frozen=True)
class SignedCode:
    """Where a signing job put the signed archive (what the function deploys) and the job itself."""

    bucket: pulumi.Output[str]
    key: pulumi.Output[str]
    job: aws.signer.SigningJob


@dataclass
class CodeSigningTarget:
    """Where a rotator's code is uploaded and signed, and what its function must enforce
    (RotatorCodeSigning.target)."""

    bucket: pulumi.Input[str]
    """Name of the versioned code bucket the archive is uploaded to and signed in. Required."""
    profile_name: pulumi.Input[str]
    """Name of the AWS Signer signing profile that signs the archive. Required."""
    config_arn: pulumi.Input[str]
    """ARN of the enforcing Lambda code-signing configuration the function uses. Required."""
    encryption_key_arn: pulumi.Input[str]
    """KMS key ARN the uploaded archive is encrypted with (the bucket's default key). Required."""
    bucket_ready: Optional[pulumi.Input[str]] = None
    """A value known once the bucket is fully configured (versioned: Signer signs an object version); uploads wait
    for the resources behind it. Default: nothing to wait for."""


@dataclass
class RotatorCodeSigningArgs:
    """Inputs of RotatorCodeSigning."""

    environment: str
    """Environment name; names the bucket (`securestack-<environment>-lambda-code-<account>`) and the signing
    profile. Required."""
    encryption_key_arn: pulumi.Input[str]
    """KMS key ARN (a key of this environment: the secrets key) that encrypts the code bucket. Required."""
    production: bool = True
    """Production: the code bucket is protected and retained, never force-destroyed. Default true."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource. Default none."""
    server_access_logs: Optional[ServerAccessLogTarget] = None
    """Where the code bucket's S3 server access logs go. Default: not logged."""

    def __post_init__(self) -> None:
        # securestack-<environment>-lambda-code-<12-digit account> must fit S3's 63 characters.
        if not re.match(r"^[a-z0-9][a-z0-9-]{0,25}$", self.environment):
            raise ArgsError(f"RotatorCodeSigningArgs.environment: {self.environment!r} must be 1-26 lowercase "
                            "letters, digits or '-' (it is part of an S3 bucket name)")


class RotatorCodeSigning(pulumi.ComponentResource):
    """A signing profile, an enforcing code-signing configuration and the bucket the code is signed in."""

    bucket_name: pulumi.Output[str]
    """Name of the code bucket."""
    profile_name: pulumi.Output[str]
    """Name of the AWS Signer signing profile."""
    profile_version_arn: pulumi.Output[str]
    """Versioned ARN of the signing profile, the only publisher the configuration allows."""
    config_arn: pulumi.Output[str]
    """ARN of the enforcing Lambda code-signing configuration."""

    def __init__(self, name: str, args: RotatorCodeSigningArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = as_args(RotatorCodeSigningArgs, args)
        super().__init__("securestack:index:RotatorCodeSigning", name, None,
                         renamed_from("securestack:code_signing:RotatorCodeSigning", opts))
        self._name, self._args, self._tags = name, args, dict(args.tags)
        self.account_id, self.partition, self.region = aws_identity(self)
        self.bucket, self._bucket_ready = self._bucket()
        self.profile = aws.signer.SigningProfile(
            f"{name}-profile", platform_id=LAMBDA_SIGNING_PLATFORM,
            name_prefix=profile_name_prefix(args.environment), tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self))
        self.config = aws.lambda_.CodeSigningConfig(
            f"{name}-config", description=f"securestack {args.environment}: rotators run only code signed by "
                                          "this stack's signing profile",
            allowed_publishers={"signing_profile_version_arns": [self.profile.version_arn]},
            policies={"untrusted_artifact_on_deployment": ENFORCE}, tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self))
        self.bucket_name = self.bucket.bucket
        self.profile_name = self.profile.name
        self.profile_version_arn = self.profile.version_arn
        self.config_arn = self.config.arn
        self.register_outputs({"bucket_name": self.bucket_name, "profile_name": self.profile_name,
                               "profile_version_arn": self.profile_version_arn, "config_arn": self.config_arn})

    def target(self) -> CodeSigningTarget:
        """What a RotationFunction needs to upload, sign and enforce its code."""
        return CodeSigningTarget(bucket=self.bucket.id, profile_name=self.profile.name, config_arn=self.config_arn,
                                 encryption_key_arn=self._args.encryption_key_arn,
                                 bucket_ready=self._bucket_ready.urn)

    def _bucket(self) -> tuple[aws.s3.Bucket, pulumi.Resource]:
        args = self._args
        return private_bucket(
            f"{self._name}-bucket",
            bucket_name=formatted("securestack-{0}-lambda-code-{1}", args.environment, self.account_id),
            encryption_rule={"apply_server_side_encryption_by_default": {
                "sse_algorithm": "aws:kms", "kms_master_key_id": args.encryption_key_arn}, "bucket_key_enabled": True},
            lifecycle_rules=[{
                # The current archives stay (a replaced function is created from them); older ones expire.
                "id": "expire-replaced-code", "status": "Enabled", "filter": {"prefix": ""},
                "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_VERSION_DAYS},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 1}}],
            policy=self._bucket_policy, tags=self._tags, parent=self, production=args.production,
            **({"access_logs": args.server_access_logs} if args.server_access_logs is not None else {}))

    @staticmethod
    def _bucket_policy(bucket: aws.s3.Bucket) -> pulumi.Output[str]:
        return policy_json([
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [bucket.arn, concatenated(bucket.arn, "/*")],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}])


def signed_code(resource_name: str, target: CodeSigningTarget, *, kind: str, archive_path: str, sha256_hex: str,
                parent: pulumi.Resource, tags: Mapping[str, str]) -> SignedCode:
    """Uploads one archive (after the bucket is versioned: Signer signs an object *version*) and signs it."""
    upload = aws.s3.BucketObjectv2(
        f"{resource_name}-unsigned", bucket=target.bucket, key=unsigned_object_key(kind, sha256_hex),
        source=pulumi.FileAsset(archive_path), source_hash=sha256_hex, content_type="application/zip",
        # The bucket's default already applies; named on the object too, so the provider detects drift.
        server_side_encryption="aws:kms", kms_key_id=target.encryption_key_arn, bucket_key_enabled=True,
        tags=dict(tags), opts=pulumi.ResourceOptions(parent=parent, depends_on=waiting_for(target.bucket_ready)))
    job = aws.signer.SigningJob(
        f"{resource_name}-signing", profile_name=target.profile_name,
        source={"s3": {"bucket": upload.bucket, "key": upload.key, "version": upload.version_id}},
        destination={"s3": {"bucket": target.bucket, "prefix": f"{SIGNED_PREFIX}{kind}/"}},
        ignore_signing_job_failure=False, opts=pulumi.ResourceOptions(parent=parent))
    signed = job.signed_objects.apply(_only_s3_object)
    return SignedCode(bucket=signed.apply(lambda s3: s3["bucket"]), key=signed.apply(lambda s3: s3["key"]), job=job)


def _only_s3_object(signed_objects: Any) -> dict[str, Any]:
    """The signing job's one signed S3 object ({bucket, key}), however the SDK hands it over."""
    [signed] = signed_objects
    s3s = signed["s3s"] if isinstance(signed, Mapping) else signed.s3s
    [s3] = s3s
    return dict(s3) if isinstance(s3, Mapping) else {"bucket": s3.bucket, "key": s3.key}
