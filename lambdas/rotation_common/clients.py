"""AWS clients of the rotation functions: short timeouts and bounded retries, so that an API without a VPC endpoint
fails within seconds, named by `unreachable_endpoint`, not at the function's timeout (lambdas/README.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

import boto3
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

if TYPE_CHECKING:  # boto3-stubs, a dev dependency: the Lambda runtime has boto3 only
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

# Secrets Manager and ECS answer in well under a second; a connection through a VPC endpoint is made in
# milliseconds. Worst case per call: 3 attempts x (2 s + 5 s) plus standard-mode backoff, far below 60 s.
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 5
TOTAL_MAX_ATTEMPTS = 3  # the first call and two retries
CLIENT_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    retries={"total_max_attempts": TOTAL_MAX_ATTEMPTS, "mode": "standard"},
)

# The log message of a step that failed because an API could not be reached (field `aws_endpoint` names it).
UNREACHABLE_MESSAGE = "rotation step failed: AWS API unreachable (is its VPC interface endpoint missing?)"

_cached: dict[tuple[str, str | None], tuple[boto3.Session, SecretsManagerClient | ECSClient]] = {}


@overload
def aws_client(service: Literal["secretsmanager"], endpoint_url: str | None = None) -> SecretsManagerClient: ...
@overload
def aws_client(service: Literal["ecs"], endpoint_url: str | None = None) -> ECSClient: ...
def aws_client(
    service: Literal["secretsmanager", "ecs"], endpoint_url: str | None = None
) -> SecretsManagerClient | ECSClient:
    """One client per default session, service and endpoint URL: a warm container reuses it (tens of ms each)."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None  # set just above (boto3 types it Optional)
    key = (service, endpoint_url)
    cached = _cached.get(key)
    if cached is None or cached[0] is not session:
        cached = (session, session.client(service, endpoint_url=endpoint_url, config=CLIENT_CONFIG))
        _cached[key] = cached
    return cached[1]


def unreachable_endpoint(error: BaseException) -> str | None:
    """The endpoint URL an error could not reach (no VPC endpoint, or one that does not answer), else None."""
    if isinstance(error, (BotoConnectionError, ReadTimeoutError, ConnectionClosedError)):
        endpoint: str | None = getattr(error, "kwargs", {}).get("endpoint_url")
        return endpoint or "unknown endpoint"
    return None
