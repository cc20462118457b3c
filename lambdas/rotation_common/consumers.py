"""Tell the consumers of a secret that it changed.

An ECS task reads its secrets when it starts, so after AWSCURRENT moves the consuming service
(tag `securestack:ecs-service`) gets a forced new deployment. Its running tasks keep working in
the meantime because the previous value stays accepted (AWSPREVIOUS) until the next rotation.
A failure here does not undo the rotation (it is complete and must stand): it is logged as one
JSON line with `"outcome": "redeploy-failed"` (identifiers and the error's type and code only),
which a metric filter on the function's log group counts and an alarm on the audit topic reports
(components/rotation.py: REDEPLOY_FAILURE_PATTERN).
"""

from botocore.exceptions import BotoCoreError, ClientError

from rotation_common.clients import aws_client
from rotation_common.logging_json import RotationLog, describe_error
from rotation_common.metadata import SecretMetadata

# The `outcome` the redeploy-failure alarm's metric filter matches (components/rotation.py).
REDEPLOY_FAILED = "redeploy-failed"


def redeploy_consumers(metadata: SecretMetadata, log: RotationLog) -> None:
    try:
        target = metadata.ecs_service()
    except ValueError as error:
        log.error("consumer tag is malformed: no redeployment", outcome=REDEPLOY_FAILED, **describe_error(error))
        return
    if target is None:
        return
    cluster, service = target
    where = {"ecs_cluster": cluster, "ecs_service": service}
    try:
        aws_client("ecs").update_service(cluster=cluster, service=service, forceNewDeployment=True)
    except (BotoCoreError, ClientError) as error:
        log.error("could not force a new deployment of the consuming service", outcome=REDEPLOY_FAILED, **where,
                  **describe_error(error))
        return
    log.info("forced a new deployment of the consuming service", **where, outcome="redeployed")
