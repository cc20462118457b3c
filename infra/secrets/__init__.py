"""Operator commands for the stack's secrets: `python -m infra.secrets <command> ...` (see cli.py).

Each command is a module with `add_parser(subparsers)` and `run(args) -> exit code`, registered in cli.COMMANDS.
"""
