"""The project's stacks as a CI matrix: `python -m infra.stacks [--root DIR] [--tier TIER] [--github-output]`.

Every `Pulumi.<stack>.yaml` in the project is a stack the workflows preview, deploy and check for drift, so adding an
environment is one stack file (plus its GitHub environments), never a workflow edit. Each file is read through
infra/stack_config.read_stack_config, so a stack file the offline tools refuse (invalid YAML, an unknown top-level
key, an ESC `environment:` import) is refused here too, before any job runs against an account.

Prints `{"include": [{"stack", "tier", "policyConfig"}, ...]}` sorted by stack name: GitHub's `strategy.matrix`
shape, read with `fromJSON(...)`. `tier` is the file's `securestack:tier`; `policyConfig` is the stack's policy config
(`policy/policy-config.<stack>.json`, the file the offline harness reads) when it exists, else "" (pulumi/actions
drops empty `policyPackConfigs` entries: src/libs/utils.ts parseSemicolorToArray). `--tier` keeps one tier's stacks;
`--github-output` prints `matrix=<compact json>` and `count=<n>` lines to append to $GITHUB_OUTPUT (a job whose
matrix would be empty is skipped on `count`: GitHub refuses an empty matrix).

Exit codes: 0 ok (also when no stack matches), 2 the stacks cannot be listed: no Pulumi.yaml, a stack file that cannot
be read, a tier that is missing or not one of production / non-production, or a stack name ending in `-preview` (one
line naming the file and field).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional, Sequence

from securestack.components import cli
from securestack.infra.stack_config import StackConfig, StackConfigError, available_stacks, project_root, \
    read_stack_config
from securestack.policy.harness import policy_config_path

TIER_KEY = "securestack:tier"
# infra/settings/common.Tier's values (tests/test_stacks_matrix.py holds them equal); not imported, because the
# settings models take seconds to import and this runs first in every workflow, before anything else.
PRODUCTION, NON_PRODUCTION = "production", "non-production"
TIERS = (PRODUCTION, NON_PRODUCTION)
# The workflows run a stack's previews and drift checks in the GitHub environment `<stack>-preview` (read-only role)
# and its deploys in `<stack>`: a stack named `x-preview` would deploy in stack x's preview environment, and a pull
# request adding `Pulumi.x.yaml` would preview in that stack's deploy environment.
PREVIEW_ENVIRONMENT_SUFFIX = "-preview"


class StackListError(Exception):
    """A stack file the matrix cannot be built from; the message is one line naming the file and the field."""


def stack_tier(stack_config: StackConfig) -> str:
    tier = stack_config.config.get(TIER_KEY)
    where = f"{stack_config.path.name}: {TIER_KEY}"
    if tier is None:
        raise StackListError(f"{where}: required key is missing ({' or '.join(TIERS)})")
    if tier not in TIERS:
        raise StackListError(f"{where}: '{tier}' must be '{PRODUCTION}' or '{NON_PRODUCTION}'")
    return tier


def check_environment_name(stack: str) -> None:
    if stack.endswith(PREVIEW_ENVIRONMENT_SUFFIX):
        raise StackListError(f"Pulumi.{stack}.yaml: stack name '{stack}' ends in '{PREVIEW_ENVIRONMENT_SUFFIX}', "
                             f"the suffix of the preview environments: its GitHub environment '{stack}' would be "
                             f"stack '{stack[:-len(PREVIEW_ENVIRONMENT_SUFFIX)]}''s read-only preview environment")


def matrix_entry(stack_config: StackConfig, root: Path) -> dict[str, str]:
    config_file = policy_config_path(stack_config)
    # Relative to the project root: the workflows run pulumi from there (pulumi/actions' work-dir ./).
    # A dangling link is listed too, as the harness refuses it rather than reading "no config": pulumi then fails.
    present = config_file.exists() or config_file.is_symlink()
    policy_config = config_file.relative_to(root).as_posix() if present else ""
    return {"stack": stack_config.stack, "tier": stack_tier(stack_config), "policyConfig": policy_config}


def discover(root: Path, tier: Optional[str] = None) -> list[dict[str, str]]:
    """One matrix entry per stack file in `root`, by stack name; only `tier`'s stacks when given."""
    entries = []
    for stack in available_stacks(root):  # in name order, so the first bad file is reported, and always the same
        check_environment_name(stack)
        try:
            stack_config = read_stack_config(stack, root)
        except StackConfigError as error:
            raise StackListError(str(error)) from None
        entries.append(matrix_entry(stack_config, root))
    return [entry for entry in entries if tier is None or entry["tier"] == tier]


def github_output(entries: Sequence[dict[str, str]]) -> str:
    """`name=value` lines for $GITHUB_OUTPUT; the JSON on one line, as that file's single-line form needs."""
    return f"matrix={json.dumps({'include': list(entries)}, separators=(',', ':'))}\ncount={len(entries)}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = cli.ArgumentParser(prog="python -m infra.stacks", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, metavar="DIR",
                        help="the project directory holding Pulumi.yaml and the stack files (default: the project "
                             "the current directory is in)")
    parser.add_argument("--tier", choices=TIERS, help="only the stacks of this tier")
    parser.add_argument("--github-output", action="store_true",
                        help="print `matrix=<json>` and `count=<n>` lines for $GITHUB_OUTPUT")
    args = parser.parse_args(argv)
    try:
        root = project_root() if args.root is None else args.root.resolve()
        if not (root / "Pulumi.yaml").is_file():
            raise StackListError(f"Pulumi.yaml not found in {root}: --root must be a Pulumi project")
        entries = discover(root, args.tier)
    except (StackConfigError, StackListError) as error:
        cli.print_error(error)
        return cli.EXIT_UNUSABLE
    print(github_output(entries) if args.github_output else json.dumps({"include": entries}, indent=2))
    return cli.EXIT_OK


if __name__ == "__main__":
    cli.run(main)
