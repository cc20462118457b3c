"""The secret age function's CloudWatch client, with rotation_common's fail-fast settings (2 s connect, 5 s read,
3 attempts: an endpoint that does not answer fails within seconds, not at the function's timeout).

Here rather than in rotation_common/clients.py: that module rides in every rotator's archive, and the API key
rotator's code is at its 50 KB budget (tests/lambdas/test_packaging.py).
"""

from typing import Any

import boto3

from rotation_common.clients import CLIENT_CONFIG


def cloudwatch_client() -> Any:
    """A CloudWatch client of boto3's default session. Typed Any: boto3-stubs' cloudwatch extra is not a dev
    dependency (the handler calls put_metric_data only)."""
    return boto3.client("cloudwatch", config=CLIENT_CONFIG)
