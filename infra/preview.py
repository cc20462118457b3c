"""Offline preview: `python -m infra.preview <stack> [--json]` runs the real program on the recording engine.

No Pulumi CLI and no AWS credentials are needed. Prints the resource tree as `pulumi preview` would, counts
per type and the policy report; exits 1 on a settings error or a mandatory policy violation, 2 when the
stack cannot be read.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Optional, Sequence

from infra.recording import Recording, record
from infra.settings import SettingsError
from infra.stack_config import StackConfig, StackConfigError, read_stack_config

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2


def run_stack(stack_config: StackConfig, preview: bool = False) -> Recording:
    from infra.program import build

    return record(build, stack=stack_config.stack, config=stack_config.config, project=stack_config.project,
                  secret_keys=stack_config.secret_keys, preview=preview)


def policy_report(recording: Recording, stack_config: StackConfig) -> list[dict]:
    """Violations of the policy pack for this recording (each with policy name, enforcement, urn, message)."""
    try:
        from policy.harness import evaluate
    except ImportError:
        return []
    return evaluate(recording, stack_config)


def render_tree(recording: Recording) -> str:
    children: dict[Optional[str], list] = {}
    for resource in recording.resources:
        children.setdefault(resource.parent, []).append(resource)
    lines = [f"+ pulumi:pulumi:Stack {recording.project}-{recording.stack}"]

    def walk(parent: Optional[str], depth: int) -> None:
        for resource in sorted(children.get(parent, []), key=lambda r: (r.type, r.name)):
            lines.append(f"{'    ' * depth}+ {resource.type} {resource.name}")
            walk(resource.urn, depth + 1)

    walk(recording.stack_urn, 1)
    counts = Counter(r.type for r in recording.resources)
    lines.append("")
    lines.append(f"Resources: {len(recording.resources)} to create")
    for type_, count in sorted(counts.items()):
        lines.append(f"    {count:4d} {type_}")
    return "\n".join(lines)


def render_violations(violations: list[dict]) -> str:
    mandatory = [v for v in violations if v["enforcementLevel"] == "mandatory"]
    advisory = [v for v in violations if v["enforcementLevel"] == "advisory"]
    lines = [f"Policy pack: {len(mandatory)} mandatory, {len(advisory)} advisory violation(s)"]
    for title, group in (("mandatory", mandatory), ("advisory", advisory)):
        for violation in group:
            lines.append(f"  [{title}] {violation['policyName']}: {violation['message']} ({violation.get('urn') or 'stack'})")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.preview", description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", default="dev", help="stack name (Pulumi.<stack>.yaml); default: dev")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--config-file", metavar="PATH", help="read the stack's config from PATH instead of "
                        "Pulumi.<stack>.yaml in the project (as `pulumi --config-file`)")
    args = parser.parse_args(argv)
    try:
        stack_config = (read_stack_config(args.stack) if args.config_file is None
                        else read_stack_config(args.stack, config_file=args.config_file))
    except StackConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        recording = run_stack(stack_config)
    except SettingsError as error:
        print(f"error: stack '{args.stack}': {error}", file=sys.stderr)
        return EXIT_FAILED
    violations = policy_report(recording, stack_config)
    if args.json:
        print(json.dumps({**recording.to_json(), "violations": violations}, indent=2, sort_keys=False))
    else:
        print(render_tree(recording))
        print()
        print(render_violations(violations))
    return EXIT_FAILED if any(v["enforcementLevel"] == "mandatory" for v in violations) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
