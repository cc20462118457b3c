"""Validates every stack's policy config: `python -m policy.check_configs [--root DIR]`.

CI hands `policy/policy-config.<stack>.json` to the pack (`pulumi preview --policy-pack policy --policy-pack-config
<file>`), and the Pulumi engine accepts there what the offline harness refuses: a `disabled` level, an `all` key,
a policy name that matches nothing (its parsePolicyPackConfig checks only that a level is one of advisory,
mandatory, remediate or disabled, and applyConfig keeps unknown names: pulumi/pulumi
pkg/resource/analyzer/config.go). This check reads each file with the harness's own functions
(`read_policy_config_file`, `config_problems`), so CI refuses exactly what `python -m infra.preview` refuses, before
any deploy sees the file.

One line per problem, `policy/policy-config.<stack>.json: <policy or key>: <problem>`, after an `error:` line
counting them: exit 1. Every file valid: `policy configs: N checked, all valid`, exit 0. A root that is not a
directory, or a `policy/` that cannot be listed: exit 2 (the check cannot run).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

from securestack.components import cli
from securestack.infra.stack_config import StackConfigError, project_root
from securestack.policy.harness import POLICY_CONFIG_FILE, PolicyConfigError, config_problems, read_policy_config_file

PREFIX, SUFFIX = POLICY_CONFIG_FILE.split("{stack}")  # "policy-config.", ".json"


class CannotCheck(Exception):
    """The configs cannot be listed: the command cannot run as asked (one line)."""


def config_files(root: Path) -> list[Path]:
    """Every `policy/policy-config.<stack>.json` under root, sorted; a dangling link or a directory of that name is
    listed too (the harness refuses it, so must this)."""
    folder = root / "policy"
    if not folder.exists():
        return []
    try:
        return sorted(folder.glob(f"{PREFIX}*{SUFFIX}"))
    except OSError as error:
        raise CannotCheck(f"{folder} cannot be listed: {error.strerror or error}") from None


def stack_of(path: Path) -> str:
    return path.name[len(PREFIX):-len(SUFFIX)]


def problems_of(path: Path, root: Path) -> list[str]:
    """This file's problems as `<policy or key>: <problem>` (the whole file's as `<problem>`), in file order."""
    found = []
    stack_file = root / f"Pulumi.{stack_of(path)}.yaml"
    if not stack_file.exists():
        found.append(f"stack: no {stack_file.name} in {root}, so no stack uses this file (renamed or removed?)")
    try:
        config = read_policy_config_file(path)
    except PolicyConfigError as error:
        return found + [error.problem]
    return found + [f"{problem.key}: {problem.problem}" for problem in config_problems(config)]


def check(root: Path) -> tuple[int, list[str]]:
    """(files checked, problem lines)."""
    files = config_files(root)
    lines = [f"policy/{path.name}: {problem}" for path in files for problem in problems_of(path, root)]
    return len(files), lines


def root_directory(value: Optional[str]) -> Path:
    if value is None:
        return project_root()  # as every tool: the project the command runs in
    root = Path(value)
    if not root.is_dir():
        raise CannotCheck(f"--root {value}: not a directory")
    return root


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = cli.ArgumentParser(prog="python -m policy.check_configs", description=__doc__.splitlines()[0])
    parser.add_argument("--root", metavar="DIR", help="the project holding Pulumi.<stack>.yaml and policy/ "
                        "(default: the Pulumi project of the current directory)")
    args = parser.parse_args(argv)
    try:
        checked, problems = check(root_directory(args.root))
    except (CannotCheck, StackConfigError) as error:
        cli.print_error(error)
        return cli.EXIT_UNUSABLE
    if problems:
        cli.print_error(f"{len(problems)} policy config problem(s) in {checked} file(s):")
        for line in problems:
            print(cli.one_line(line), file=sys.stderr)  # a policy name may hold a newline
        return cli.EXIT_FAILED
    print(f"policy configs: {checked} checked, all valid")
    return cli.EXIT_OK


if __name__ == "__main__":
    cli.run(main)
