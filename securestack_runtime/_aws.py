"""The default Secrets Manager client and the calls every part of the library makes."""

import json
import os

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from securestack_runtime.errors import MalformedSecretError

# A reload runs on a request's thread: fail within seconds rather than botocore's 60 s defaults, retried.
CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 3, "mode": "standard"}
)

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
TAG_PREFIX = "securestack:"


def default_client():
    """A secretsmanager client of boto3's default session (region and credentials from the environment)."""
    return boto3.client("secretsmanager", config=CLIENT_CONFIG)


def secret_tags(description):
    return {tag.get("Key"): tag.get("Value") for tag in description.get("Tags") or [] if isinstance(tag, dict)}


def required_tag(tags, key):
    value = tags.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedSecretError(f"secret has no '{key}' tag")
    return value.strip()


def secret_string(client, secret_id, stage, version_id=None):
    """The SecretString of a version, or None when the version has no value (ResourceNotFoundException).

    VersionStage is always passed (and VersionId when known): a call naming neither answers AWSCURRENT,
    which is not what a caller asking for a given version wants, and moto differs from AWS there.
    """
    request = {"SecretId": secret_id, "VersionStage": stage}
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


def json_environment(environ, variable, expected_type, what):
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
