"""Operator commands on a deployed stack's secrets: `python -m infra.secrets <command>`.

They run with the operator's own AWS credentials (boto3's default chain). Exit codes: 0 done, 1 AWS refused the
operation or the check failed (a vendor refusing a staged key, a deployment not steady in time), 2 refused before
asking AWS or could not run (bad arguments, unknown stack or name, no credentials, AWS unreachable), 130
interrupted; each failure is one line on stderr and changes nothing (a command of several steps undoes the ones
done). No command ever prints a secret value.
"""
from __future__ import annotations

from typing import Optional, Sequence

from securestack.components import cli
from securestack.infra.secrets import promote, retire, revoke, rotate, stage, status
from securestack.infra.secrets.common import Refused

# Subcommands in help order: self-issued rotation, then a vendor value's lifecycle (stage, promote, retire), the
# overview, and the emergency (both issuers).
COMMANDS = (rotate, stage, promote, retire, status, revoke)


def parser() -> cli.ArgumentParser:
    top = cli.ArgumentParser(prog="python -m infra.secrets", description=__doc__.splitlines()[0])
    subparsers = top.add_subparsers(dest="command", required=True, metavar="<command>")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return top


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        status: int = args.run(args)  # the subcommand's exit status
        return status
    except Refused as refusal:
        cli.print_error(refusal)
        return refusal.exit_code
