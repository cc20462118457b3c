"""The default Secrets Manager client and the calls every part of the library makes."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Mapping, Optional, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from securestack_runtime.errors import MalformedSecretError

if TYPE_CHECKING:  # boto3-stubs: a development dependency only (an app needs nothing but boto3)
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import DescribeSecretResponseTypeDef, GetSecretValueRequestTypeDef

# What json_environment may be asked for: a JSON list or a JSON object, returned as the type asked for.
_JsonContainer = TypeVar("_JsonContainer", list[Any], dict[str, Any])

# A reload runs on a request's thread: fail within seconds rather than botocore's 60 s defaults, retried.
CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 3, "mode": "standard"}
)

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
TAG_PREFIX = "securestack:"


def default_client() -> SecretsManagerClient:
    """A secretsmanager client of boto3's default session (region and credentials from the environment)."""
    return boto3.client("secretsmanager", config=CLIENT_CONFIG)


def secret_tags(description: DescribeSecretResponseTypeDef) -> dict[str, Optional[str]]:
    """Tag key -> value (None when a tag has no value); a tag without a key names nothing and is left out."""
    tags = description.get("Tags") or []
    return {key: tag.get("Value") for tag in tags if isinstance(tag, dict) and (key := tag.get("Key")) is not None}


def required_tag(tags: Mapping[str, Optional[str]], key: str) -> str:
    value = tags.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedSecretError(f"secret has no '{key}' tag")
    return value.strip()


def secret_string(client: SecretsManagerClient, secret_id: str, stage: str,
                  version_id: Optional[str] = None) -> Optional[str]:
    """The SecretString of a version, or None when the version has no value (ResourceNotFoundException).

    VersionStage is always passed (and VersionId when known): a call naming neither answers AWSCURRENT,
    which is not what a caller asking for a given version wants, and moto differs from AWS there.
    """
    request: GetSecretValueRequestTypeDef = {"SecretId": secret_id, "VersionStage": stage}
    if version_id:
        request["VersionId"] = version_id
    try:
        response = client.get_secret_value(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    text = response.get("SecretString")
    if not isinstance(text, str):
        raise MalformedSecretError(f"{stage} version holds no SecretString")
    return text


def json_environment(environ: Optional[Mapping[str, str]], variable: str, expected_type: type[_JsonContainer],
                     what: str) -> _JsonContainer:
    """The JSON value of an environment variable the stack sets for the app (ARNs only, never a value)."""
    text = (os.environ if environ is None else environ).get(variable)
    if not text:
        raise ValueError(f"environment variable {variable} is not set")
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError(f"environment variable {variable} is not a JSON {what}") from None
    if not isinstance(value, expected_type):
        raise ValueError(f"environment variable {variable} is not a JSON {what}")
    return value
