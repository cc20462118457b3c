"""`python -m infra.secrets rotate <stack> <name> [--revoke-previous]`: rotate an API key or webhook secret now.

Calls RotateSecret, which runs the secret's rotation function at once (RotateImmediately is left at its default,
true: this is the rotation itself, not the configuration test). The previous value keeps working for the secret's
grace (tag `securestack:previous-grace-days`); `--revoke-previous` (the guides: rotate immediately when a key is
exposed) sets the tag `securestack:revoke-previous` first, and the rotator's finishSecret then ends the previous
value the moment the new one is current and removes the tag.

Refused, with nothing changed (a tag this command set is removed again): an unknown stack or name, no credentials,
a secret that is not deployed or has no rotation, a rotation already running (AWSPENDING on a version that is not
AWSCURRENT: Secrets Manager would refuse "a previous rotation isn't complete"), a revoke tag left by an earlier
request. It reads the secret's description only, never its value.
"""
from __future__ import annotations

import argparse
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from securestack.infra.secrets.common import (CURRENT, EXIT_OK, EXIT_REFUSED_BY_AWS, PENDING, Refused, StackSecret,
                                             add_aws_options, aws_exit_code, aws_message, aws_problem, describe,
                                             error_code, find_secret, load_settings, secretsmanager, tags_of)

NAME = "rotate"
REVOKE_PREVIOUS_TAG = "securestack:revoke-previous"
GRACE_TAG = "securestack:previous-grace-days"
DEFAULT_GRACE_DAYS = 7  # the rotator's default when the tag is absent (lambdas/rotation_common/metadata.py)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(NAME, help="rotate an API key or webhook secret now",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name (Pulumi.<stack>.yaml)")
    parser.add_argument("name", help="the API key or webhook name (securestack:apiKeys / securestack:webhooks)")
    parser.add_argument("--revoke-previous", action="store_true",
                        help="the previous value stops working as soon as the new one is current (an exposed key)")
    add_aws_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.stack)
    secret = find_secret(settings, args.name)
    client = secretsmanager(settings, args.region, args.endpoint_url)
    region = args.region or settings.region
    try:
        description = _checked_description(client, secret, region, args.revoke_previous)
        version = _rotate(client, description, args.revoke_previous)
    except (ClientError, BotoCoreError) as error:
        if isinstance(error, ClientError) and error_code(error) == "InvalidRequestException":
            raise Refused(f"Secrets Manager refused to rotate {secret.secret_name} (a previous rotation isn't "
                          f"complete, or rotation is not configured): {aws_message(error)}",
                          exit_code=EXIT_REFUSED_BY_AWS) from None
        raise Refused(f"{secret.secret_name}: {aws_problem(error)}", exit_code=aws_exit_code(error)) from None
    print(f"rotation of {secret.secret_name} ({region}) started: new version {version}; "
          f"{_previous_fate(description, args.revoke_previous)}")
    return EXIT_OK


def _checked_description(client: Any, secret: StackSecret, region: str, revoking: bool) -> dict[str, Any]:
    description = describe(client, secret, region)  # deployed, and of the kind the settings say
    tags = tags_of(description)
    if description.get("RotationEnabled") is not True:
        raise Refused(f"secret {secret.secret_name} has no rotation configured: deploy the stack first")
    running = _pending_rotation(description)
    if running is not None:
        raise Refused(f"a rotation of {secret.secret_name} is already running (AWSPENDING on version {running}): "
                      "let it finish, or fix its rotation function's errors (its log group) first")
    if REVOKE_PREVIOUS_TAG in tags and not revoking:
        raise Refused(f"secret {secret.secret_name} still carries {REVOKE_PREVIOUS_TAG} from an earlier request: "
                      "rerun with --revoke-previous, or remove the tag")
    return description


def _pending_rotation(description: dict[str, Any]) -> str | None:
    """The version a rotation in progress works on: AWSPENDING on a version that is not AWSCURRENT."""
    for version, stages in (description.get("VersionIdsToStages") or {}).items():
        if PENDING in stages and CURRENT not in stages:
            return str(version)
    return None


def _rotate(client: Any, description: dict[str, Any], revoking: bool) -> str:
    """RotateSecret, after setting the revoke tag when asked; a tag this call set is removed again if the rotation
    does not start, so a refusal changes nothing."""
    arn = description["ARN"]
    tagged = revoking and REVOKE_PREVIOUS_TAG not in tags_of(description)
    if tagged:
        client.tag_resource(SecretId=arn, Tags=[{"Key": REVOKE_PREVIOUS_TAG, "Value": "true"}])
    try:
        # No RotateImmediately=False: that would only test the configuration (testSecret), not rotate.
        version: str = client.rotate_secret(SecretId=arn)["VersionId"]
        return version
    except (ClientError, BotoCoreError) as error:
        if tagged and _refused(error):
            _untag(client, arn)
        elif tagged:
            # A timeout or a server error does not say the rotation did not start (botocore retries with the same
            # request token). Removing the tag could let a started rotation keep a leaked previous value for its
            # whole grace, so the tag stays and the operator is told.
            raise Refused(f"RotateSecret on {arn} gave no clear answer ({aws_problem(error)}): a rotation may have "
                          f"started, so the {REVOKE_PREVIOUS_TAG} tag stays (a started rotation revokes the previous "
                          "value and removes it); check `aws secretsmanager describe-secret` before running this "
                          "command again") from None
        raise


def _refused(error: Exception) -> bool:
    """Secrets Manager answered with a client error (4xx): the request was refused, no rotation started."""
    if not isinstance(error, ClientError):
        return False
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return isinstance(status, int) and 400 <= status < 500


def _untag(client: Any, arn: str) -> None:
    try:
        client.untag_resource(SecretId=arn, TagKeys=[REVOKE_PREVIOUS_TAG])
    except (ClientError, BotoCoreError) as error:
        raise Refused(f"the rotation did not start, and removing the {REVOKE_PREVIOUS_TAG} tag this command set "
                      f"failed ({aws_problem(error)}): remove it by hand before the next rotation") from None


def _previous_fate(description: dict[str, Any], revoking: bool) -> str:
    if revoking:
        return "the previous value stops working as soon as the new one is current"
    grace = tags_of(description).get(GRACE_TAG, str(DEFAULT_GRACE_DAYS))
    if grace == "0":
        return "the previous value stops working as soon as the new one is current (grace 0 days)"
    return f"the previous value keeps working for {grace} day(s) after the new one is current"

