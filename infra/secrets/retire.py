"""`python -m infra.secrets retire <stack> <name> [--yes]`: drop a vendor value's AWSPREVIOUS version.

Run it once the old value is deleted at the vendor (promote's checklist): the previous version then holds a value
nobody accepts, and keeping it only keeps it readable. UpdateSecretVersionStage removes AWSPREVIOUS; a version with
no label left is deprecated and Secrets Manager deletes it (UpdateSecretVersionStage, API reference). It asks first:
`--yes`, or `y` at a terminal; without a terminal and without `--yes` it is refused (a script must say so). Nothing
to retire is exit 0. Self-issued values are refused: their rotator drops the previous value after its grace.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from securestack.infra.secrets.common import (AWS_ERRORS, EXIT_OK, PREVIOUS, Refused, add_aws_options,
                                              add_stack_arguments, aws_exit_code, aws_problem, describe,
                                              find_vendor_secret, load_settings, secretsmanager, version_with)

NAME = "retire"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(NAME, help="drop the previous vendor value once it is deleted at the vendor",
                                   description=__doc__.splitlines()[0])
    add_stack_arguments(parser)
    parser.add_argument("--yes", action="store_true", help="the old value is deleted at the vendor: do not ask")
    add_aws_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.stack)
    secret = find_vendor_secret(settings, args.name, NAME,
                                "its rotator drops the previous value after previousGraceDays (to end it now: "
                                f"`rotate {args.stack} {args.name} --revoke-previous`)")
    client = secretsmanager(settings, args.region, args.endpoint_url)
    region = args.region or settings.region
    description = describe(client, secret, region)
    previous = version_with(description, PREVIOUS)
    if previous is None:
        print(f"nothing to retire: {secret.secret_name} ({region}) has no {PREVIOUS} version")
        return EXIT_OK
    vendor = secret.settings.vendor
    if not args.yes:
        _confirm(f"is the old {secret.noun} (version {previous}) deleted in {vendor}'s dashboard? [y/N] ")
    try:
        client.update_secret_version_stage(SecretId=description["ARN"], VersionStage=PREVIOUS,
                                           RemoveFromVersionId=previous)
    except AWS_ERRORS as error:
        raise Refused(f"{secret.secret_name}: {aws_problem(error)}; nothing retired", aws_exit_code(error)) from None
    print(f"retired version {previous} of {secret.secret_name} ({region}): it has no staging label left, so Secrets "
          "Manager deletes it")
    return EXIT_OK


def _confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise Refused("retire asks for confirmation that the old value is deleted at the vendor: run it at a "
                      "terminal, or pass --yes; nothing retired")
    print(question, end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise Refused("not confirmed: delete the old value in the vendor's dashboard first; nothing retired")
