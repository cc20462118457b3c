"""`python -m infra.secrets status <stack> [--json]`: every API key and webhook secret of the stack, never a value.

From the settings (name, kind, issuer, vendor, rotationDays) and, per secret, DescribeSecret (stages, the
`securestack:compromised` tag) and ListSecretVersionIds (when the AWSCURRENT version was created): its age in
days, the stages present, the days left before it is due (negative: overdue). A secret not deployed is shown as
such. Exit 0 whatever the secrets' state; 1 when AWS refuses a call, 2 when it cannot be reached.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from securestack.infra.secrets.common import (AWS_ERRORS, COMPROMISED_TAG, CURRENT, EXIT_OK, PENDING,
                                              PREVIOUS, Refused, StackSecret, add_aws_options, aws_exit_code,
                                              aws_problem, error_code, load_settings, secretsmanager, stack_secrets,
                                              tags_of, version_with)

NAME = "status"
STAGE_NAMES = ((CURRENT, "current"), (PENDING, "pending"), (PREVIOUS, "previous"))
COLUMNS = ("name", "kind", "issuer", "vendor", "age", "stages", "rotation", "left", "compromised")


@dataclass(frozen=True)
class SecretStatus:
    name: str
    kind: str
    issuer: str
    vendor: Optional[str]
    secret_name: str
    deployed: bool
    age_days: Optional[int]
    stages: dict[str, str]  # current/pending/previous -> version id, for those present
    rotation_days: int
    days_left: Optional[int]
    compromised: Optional[str]  # the version marked compromised


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(NAME, help="every API key and webhook secret: issuer, age, stages, days left",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name (Pulumi.<stack>.yaml)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_aws_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.stack)
    client = secretsmanager(settings, args.region, args.endpoint_url)
    region = args.region or settings.region
    now = datetime.now(timezone.utc)
    statuses = [_status(client, secret, now) for secret in stack_secrets(settings)]
    if args.json:
        print(json.dumps({"stack": args.stack, "region": region, "secrets": [_json(s) for s in statuses]}, indent=2))
    else:
        _print_table(args.stack, region, statuses)
    return EXIT_OK


def _status(client: Any, secret: StackSecret, now: datetime) -> SecretStatus:
    entry = secret.settings
    base = dict(name=secret.entry, kind=secret.kind, issuer=entry.issuer, vendor=entry.vendor,
                secret_name=secret.secret_name, rotation_days=entry.rotation_days)
    try:
        description = client.describe_secret(SecretId=secret.secret_name)
        created = _current_created(client, description["ARN"])
    except AWS_ERRORS as error:
        if error_code(error) == "ResourceNotFoundException":
            return SecretStatus(**base, deployed=False, age_days=None, stages={}, days_left=None, compromised=None)
        raise Refused(f"{secret.secret_name}: {aws_problem(error)}", aws_exit_code(error)) from None
    stages = {name: version for stage, name in STAGE_NAMES
              if (version := version_with(description, stage)) is not None}
    if stages.get("pending") is not None and stages.get("pending") == stages.get("current"):
        # A finished rotation: the rotators leave AWSPENDING on the new AWSCURRENT, as AWS's template does
        # (RotateSecret accepts it there); nothing is pending.
        del stages["pending"]
    # Never below 0: a clock a little behind Secrets Manager's would make a value just created -1 day old.
    age = max(0, (now - created).days) if created is not None else None
    return SecretStatus(**base, deployed=True, age_days=age, stages=stages,
                        days_left=None if age is None else entry.rotation_days - age,
                        compromised=tags_of(description).get(COMPROMISED_TAG))


def _current_created(client: Any, arn: str) -> Optional[datetime]:
    """When the AWSCURRENT version was created (ListSecretVersionIds, which has no paginator in botocore)."""
    request: dict[str, Any] = {"SecretId": arn, "MaxResults": 100}
    while True:
        page = client.list_secret_version_ids(**request)
        for version in page.get("Versions", []):
            if CURRENT in version.get("VersionStages", []):
                created: datetime = version["CreatedDate"]
                return created if created.tzinfo else created.replace(tzinfo=timezone.utc)
        if not page.get("NextToken"):
            return None
        request["NextToken"] = page["NextToken"]


def _json(status: SecretStatus) -> dict[str, Any]:
    fields = asdict(status)
    return {"name": fields["name"], "kind": fields["kind"], "issuer": fields["issuer"], "vendor": fields["vendor"],
            "secretName": fields["secret_name"], "deployed": fields["deployed"], "ageDays": fields["age_days"],
            "stages": fields["stages"], "rotationDays": fields["rotation_days"], "daysLeft": fields["days_left"],
            "compromised": fields["compromised"]}


def _cells(status: SecretStatus) -> tuple[str, ...]:
    def text(value: Any) -> str:
        return "-" if value is None else str(value)

    if not status.deployed:
        return (status.name, status.kind, status.issuer, text(status.vendor), "-", "not deployed",
                str(status.rotation_days), "-", "-")
    stages = ",".join(name for _, name in STAGE_NAMES if name in status.stages) or "none"
    compromised = f"yes ({status.compromised})" if status.compromised else "no"
    return (status.name, status.kind, status.issuer, text(status.vendor), text(status.age_days), stages,
            str(status.rotation_days), text(status.days_left), compromised)


def _print_table(stack: str, region: str, statuses: list[SecretStatus]) -> None:
    rows = [COLUMNS, *(_cells(s) for s in statuses)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    print(f"stack {stack} ({region}): {len(statuses)} API key(s) and webhook secret(s); age and days left in days")
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
