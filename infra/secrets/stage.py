"""`python -m infra.secrets stage <stack> <name>`: store a vendor-issued value as the secret's AWSPENDING version.

The value comes from standard input (not a terminal) or a no-echo prompt asked twice, never from argv or the
environment. It is checked before anything is written: its shape (values.py; for a key of a vendor that uses
prefixes, `sk_live_` in production and `sk_test_` elsewhere), then, when the entry has a `testUrl`, the vendor
itself (vendor_check.py). PutSecretValue with VersionStages=["AWSPENDING"] only: callers and the app keep reading
AWSCURRENT until `promote`. A value already pending is replaced (the label moves to the new version). Staging on a
secret marked compromised is allowed: staging its replacement is what an exposure needs.

Secrets Manager attaches AWSCURRENT to a secret's first version whatever VersionStages says (PutSecretValue, API
reference), so the very first value staged is current at once; `promote` then only finishes it.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from securestack.infra.secrets.common import (CURRENT, EXIT_OK, KIND_API_KEY, PENDING, AWS_ERRORS, Refused,
                                              add_aws_options, add_stack_arguments, aws_exit_code, aws_problem,
                                              describe, find_vendor_secret, load_settings, secretsmanager,
                                              version_with)
from securestack.infra.secrets.values import read_value, shape_problem
from securestack.infra.secrets.vendor_check import check_key
from securestack.infra.settings.secrets import vendor_key_prefix

NAME = "stage"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(NAME, help="store a vendor-issued value as AWSPENDING (read from stdin or a prompt)",
                                   description=__doc__.splitlines()[0])
    add_stack_arguments(parser)
    add_aws_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.stack)
    secret = find_vendor_secret(settings, args.name, NAME, f"use `rotate {args.stack} {args.name}` for a new value now")
    client = secretsmanager(settings, args.region, args.endpoint_url)
    region = args.region or settings.region
    description = describe(client, secret, region)
    entry = secret.settings
    prefix = vendor_key_prefix(entry.vendor, settings.tier) if secret.kind == KIND_API_KEY else None
    value = read_value(secret.noun)
    problem = shape_problem(value, secret.noun, prefix, settings.is_production)
    if problem:
        raise Refused(f"{problem}; nothing staged")
    checked = ""
    test_url = getattr(entry, "test_url", None)
    if test_url:
        checked = f"; the vendor accepted it (testUrl answered {check_key(test_url, value)})"
    field = "key" if secret.kind == KIND_API_KEY else "secret"
    payload = {field: value, "env": settings.environment, "name": secret.entry, "vendor": entry.vendor}
    replaced, current = version_with(description, PENDING), version_with(description, CURRENT)
    try:
        version = client.put_secret_value(SecretId=description["ARN"], SecretString=json.dumps(payload),
                                          VersionStages=[PENDING])["VersionId"]
    except AWS_ERRORS as error:
        raise Refused(f"{secret.secret_name}: {aws_problem(error)}; nothing staged", aws_exit_code(error)) from None
    print(f"staged a new value of {secret.secret_name} ({region}) as {PENDING}: version {version}{checked}"
          + _what_changed(replaced, current, version))
    print(f"next: python -m infra.secrets promote {args.stack} {args.name}")
    return EXIT_OK


def _what_changed(replaced: str | None, current: str | None, version: str) -> str:
    if current is None:
        return (f"; it is the secret's first value, so Secrets Manager made it {CURRENT} at once (nothing read the "
                "secret before)")
    if replaced not in (None, current, version):
        return f"; it replaced the value pending in version {replaced}, which is no longer staged"
    return ""
