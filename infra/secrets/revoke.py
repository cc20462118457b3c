"""`python -m infra.secrets revoke <stack> <name>`: an exposed key or webhook secret, both issuers.

Self-issued: exactly `rotate <stack> <name> --revoke-previous` (rotate.py): a new value at once, the exposed one
dead as soon as the new one is current. Vendor-issued: only the vendor can end the exposed value, so this tags the
secret `securestack:compromised=<AWSCURRENT version>` and prints what to do at the vendor. The age function
(`securestack-<env>-secret-age`) counts such secrets in CompromisedSecrets, whose alarm stays raised until a new
value is promoted (`promote` removes the tag); when the function exists it is invoked asynchronously
(InvocationType=Event) so the alarm raises now rather than at its next daily run; that call failing is a warning.
It never reads a value.
"""
from __future__ import annotations

import argparse
from typing import Any

from securestack.infra.secrets import rotate
from securestack.infra.secrets.common import (AWS_ERRORS, COMPROMISED_TAG, CURRENT, EXIT_OK, KIND_API_KEY, Refused,
                                              StackSecret, add_aws_options, add_stack_arguments, aws_client,
                                              aws_exit_code, aws_problem, describe, find_secret, load_settings,
                                              start_age_function, tags_of, version_with)

NAME = "revoke"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(NAME, help="an exposed key or webhook secret: revoke it (self-issued) or mark it "
                                              "compromised and say what to do at the vendor",
                                   description=__doc__.splitlines()[0])
    add_stack_arguments(parser)
    add_aws_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.stack)
    secret = find_secret(settings, args.name)
    if not secret.is_vendor:
        return rotate.run(argparse.Namespace(**vars(args), revoke_previous=True))
    client = aws_client(settings, "secretsmanager", args.region, args.endpoint_url)
    region = args.region or settings.region
    description = describe(client, secret, region)
    current = version_with(description, CURRENT)
    if current is None:
        raise Refused(f"{secret.secret_name} has no {CURRENT} value: nothing to revoke (stage and promote its first "
                      "value)")
    marked = tags_of(description).get(COMPROMISED_TAG) == current
    if not marked:
        try:
            client.tag_resource(SecretId=description["ARN"], Tags=[{"Key": COMPROMISED_TAG, "Value": current}])
        except AWS_ERRORS as error:
            raise Refused(f"{secret.secret_name}: {aws_problem(error)}; not marked", aws_exit_code(error)) from None
    print(f"{secret.secret_name} ({region}): version {current} {'was already' if marked else 'is now'} marked "
          f"compromised (tag {COMPROMISED_TAG})")
    _print_vendor_steps(secret, args.stack)
    start_age_function(aws_client(settings, "lambda", args.region, args.endpoint_url), settings.environment,
                       "raises")
    return EXIT_OK


def _print_vendor_steps(secret: StackSecret, stack: str) -> None:
    entry = secret.settings
    scopes = f" with the same scopes ({', '.join(entry.scopes)})" if secret.kind == KIND_API_KEY else ""
    print(f"now, at {entry.vendor} and here:")
    print(f"  1. create a new {secret.noun}{scopes} in {entry.vendor}'s dashboard")
    print(f"  2. python -m infra.secrets stage {stack} {secret.entry}   (the new value on standard input or at the "
          "prompt)")
    print(f"  3. python -m infra.secrets promote {stack} {secret.entry}")
    print(f"  4. delete the exposed {secret.noun} in {entry.vendor}'s dashboard")
    print(f"  5. python -m infra.secrets retire {stack} {secret.entry}")
    print("the CompromisedSecrets alarm stays raised until a new value is promoted (step 3)")
