"""The AWS APIs the stack's own private code calls, hence the VPC endpoints it cannot run without.

The private subnets have no NAT: an API without an endpoint is unreachable, and a client waits for its timeout
(an ECS `UpdateService` in a rotator's `finishSecret` used to wait until the Lambda itself timed out). So the
endpoints are derived from what the stack contains, here and only here: the stack program hands the result to
`Network` (config can add endpoints, never remove these), and the policy pack derives the same facts from the
recorded resources and checks the same set (`vpc-endpoints-for-private-code`). Pure Python, no Pulumi: the
policy pack imports it too.

Who calls what (lambdas/, components/):
- every rotator: Secrets Manager (DescribeSecret, GetSecretValue, PutSecretValue, UpdateSecretVersionStage);
- the rotator of a secret ECS injects into the app (the database login): ECS UpdateService (forced redeploy
  after a rotation; keys and webhook secrets are read at run time, never redeployed for);
- a function with Active tracing: X-Ray (the trace segments leave through the function's network interface);
- the secret age function (components/secret_age_alarms.py): CloudWatch PutMetricData (`monitoring`), beside
  Secrets Manager's ListSecrets, DescribeSecret and ListSecretVersionIds;
- the app's Fargate tasks: ECR (ecr.api for the auth token and manifest, ecr.dkr for the registry), the image
  layers from S3 (a gateway endpoint), CloudWatch Logs (awslogs driver), Secrets Manager (secrets injected at
  start, and `securestack_runtime` at run time);
- KMS and STS: the design's baseline for private code (SDK credential and key calls), always present.
"""
from __future__ import annotations

from dataclasses import dataclass

# Always there: the design's contract for private code (docs: design.md, "network").
BASELINE_INTERFACE_ENDPOINTS = ("secretsmanager", "kms", "logs", "sts")
# Fargate pulls a private ECR image through both ECR endpoints and reads its layers from S3
# (https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html).
APP_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr")
REDEPLOY_INTERFACE_ENDPOINTS = ("ecs",)
TRACING_INTERFACE_ENDPOINTS = ("xray",)
METRICS_INTERFACE_ENDPOINTS = ("monitoring",)
S3_GATEWAY = "s3"

# Interface endpoint services a config may add on top (what the stack's own code never needs by itself).
KNOWN_INTERFACE_ENDPOINTS = BASELINE_INTERFACE_ENDPOINTS + APP_INTERFACE_ENDPOINTS + REDEPLOY_INTERFACE_ENDPOINTS \
    + TRACING_INTERFACE_ENDPOINTS + METRICS_INTERFACE_ENDPOINTS + ("ecs-agent", "ecs-telemetry", "lambda", "rds")


@dataclass(frozen=True)
class PrivateCode:
    """What runs in the private subnets, as far as the AWS APIs it calls go."""

    app: bool  # an ECS Fargate service pulling a private ECR image
    functions_redeploy_app: bool  # a function forces new deployments of the app (ecs:UpdateService)
    traced_functions: bool  # a function in the VPC with Active X-Ray tracing
    functions_publish_metrics: bool = False  # a function in the VPC calls cloudwatch:PutMetricData (secret ages)

    def interface_endpoints(self) -> tuple[str, ...]:
        """The interface endpoint services this code calls, in a stable order."""
        required = list(BASELINE_INTERFACE_ENDPOINTS)
        if self.app:
            required += APP_INTERFACE_ENDPOINTS
        if self.functions_redeploy_app:
            required += REDEPLOY_INTERFACE_ENDPOINTS
        if self.traced_functions:
            required += TRACING_INTERFACE_ENDPOINTS
        if self.functions_publish_metrics:
            required += METRICS_INTERFACE_ENDPOINTS
        return tuple(required)

    def gateway_endpoints(self) -> tuple[str, ...]:
        """Gateway endpoint services on the private route tables: S3 always. The app's ECR image layers live in
        S3; without the app it still keeps any S3 call of private code private, and a gateway endpoint is free."""
        return (S3_GATEWAY,)


def with_extras(required: tuple[str, ...], extras: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The required services followed by the configured extras not already in them (config only adds)."""
    return required + tuple(service for service in extras if service not in required)
