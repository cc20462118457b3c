"""What the operator commands share: the stack's settings, the secret an entry name designates, AWS access."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from securestack.components import cli
from securestack.infra.settings import StackSettings
from securestack.infra.verify import UnusableInput, load_expectations

EXIT_OK, EXIT_REFUSED_BY_AWS, EXIT_UNUSABLE = cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_UNUSABLE
KIND_API_KEY, KIND_WEBHOOK = "api-key", "webhook-secret"
# Secret paths as the stack names them (components/secrets.py: secret_name).
SECRET_PATHS = {KIND_API_KEY: "api-keys", KIND_WEBHOOK: "webhooks"}
# An operator waits at a prompt: fail within seconds when the endpoint does not answer, retry throttling a little.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=20, retries={"total_max_attempts": 3, "mode": "standard"})


class Refused(Exception):
    """The command cannot or must not run; its message is one line saying why (and what to do). Exit 2, or 1 when
    AWS itself refused the operation (contract: 1 is "the thing asked for is refused", 2 "cannot run as asked")."""

    def __init__(self, message: str, exit_code: int = EXIT_UNUSABLE):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class StackSecret:
    kind: str
    entry: str  # the name in securestack:apiKeys / securestack:webhooks
    secret_name: str


def add_aws_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="AWS region (default: the stack's aws:region)")
    parser.add_argument("--endpoint-url", type=cli.http_url, help="send every AWS call to this endpoint (tests)")


def load_settings(stack: str) -> StackSettings:
    try:
        return load_expectations(stack)
    except UnusableInput as error:
        raise Refused(str(error)) from None


def find_secret(settings: StackSettings, entry: str) -> StackSecret:
    """The API key or webhook secret named `entry` in the stack's settings."""
    found = [kind for kind, section in ((KIND_API_KEY, settings.api_keys), (KIND_WEBHOOK, settings.webhooks))
             if entry in section.names()]
    if not found:
        keys, webhooks = ", ".join(settings.api_keys.names()) or "none", ", ".join(settings.webhooks.names()) or "none"
        raise Refused(f"stack '{settings.environment}' has no API key or webhook named '{entry}' "
                      f"(API keys: {keys}; webhooks: {webhooks})")
    if len(found) > 1:
        raise Refused(f"'{entry}' names both an API key and a webhook in stack '{settings.environment}': rename one")
    kind = found[0]
    return StackSecret(kind, entry, f"securestack/{settings.environment}/{SECRET_PATHS[kind]}/{entry}")


def secretsmanager(settings: StackSettings, region: Optional[str], endpoint_url: Optional[str]) -> Any:
    """A Secrets Manager client on the operator's credentials (boto3's default chain), refused without any."""
    try:
        session = boto3.Session(region_name=region or settings.region)
        credentials = session.get_credentials()
        if credentials is not None:
            return session.client("secretsmanager", endpoint_url=endpoint_url, config=CLIENT_CONFIG)
    except (BotoCoreError, ValueError) as error:  # a missing profile, a bad endpoint URL, a credential provider
        raise Refused(f"cannot set up AWS access: {' '.join(str(error).split())}") from None
    raise Refused("no AWS credentials found (boto3's default chain: environment, profile, SSO, web identity, "
                  "instance role)")


def tags_of(description: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in description.get("Tags") or []}
