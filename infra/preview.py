"""Offline preview: `python -m infra.preview <stack> [--mode up|preview] [--json]` runs the real program on the
recording engine.

No Pulumi CLI and no AWS credentials are needed. Prints what `pulumi preview` would (infra/preview_display.py):
a header with the stack and the mode that ran, the Type / Name / Plan tree, the policy report, the stack's
outputs and `Resources: + N to create`; exits 1 on a settings error, a mandatory policy violation or a
policy pack that cannot run (fails closed: never "0 mandatory" without a verdict), 2 when the stack file or its
policy config cannot be read or is malformed, or the arguments are wrong; 130 when interrupted.

Modes: `up` (default) records the stack as after `pulumi up`, every output known, so every policy decides;
`preview` records it as `pulumi preview` of a new stack: computed outputs (ids, ARNs, endpoints) unknown, and a
policy that reads one is reported as the engine reports it, an advisory "can't run policy ... during preview".
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Optional, Sequence

from securestack.components import cli
from securestack.infra.preview_display import render_preview, status_line
from securestack.infra.recording import Recording, record
from securestack.infra.settings import SettingsError
from securestack.infra.stack_config import StackConfig, StackConfigError, read_stack_config

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2
UP, PREVIEW = "up", "preview"
MODES = {
    UP: "as after `pulumi up`: every output known, every policy decides",
    PREVIEW: "as `pulumi preview` of a new stack: computed outputs unknown, a policy that reads one can't run "
             "and is reported as an advisory",
}


class PolicyGateError(Exception):
    """The policy pack could not be loaded or run: there is no verdict, so the gate fails (one line)."""


def run_stack(stack_config: StackConfig, preview: bool = False) -> Recording:
    from securestack.infra.program import build

    return record(build, stack=stack_config.stack, config=stack_config.config, project=stack_config.project,
                  secret_keys=stack_config.secret_keys, preview=preview)


def load_policy_pack() -> ModuleType:
    """The pack's harness (`policy.harness`); loaded before the program runs so a broken pack fails fast."""
    try:
        from securestack.policy import harness
    except Exception as error:  # noqa: BLE001 - ImportError, or a policy module failing as it loads
        raise PolicyGateError(f"cannot load the policy pack: {one_line(error)}") from None
    return harness


class PolicyConfigUnusable(Exception):
    """The stack's policy config (policy/policy-config.<stack>.json) cannot be read or is malformed (one line)."""


def check_policy_config(pack: ModuleType, stack_config: StackConfig) -> None:
    """Before the program runs (seconds of it): a policy config that is a directory, not UTF-8, not JSON or names
    an unknown policy is a file the command cannot use, exit 2, rather than a verdict found after the run."""
    try:
        pack.enforcement_levels(pack.read_policy_config(stack_config))
    except pack.PolicyConfigError as error:
        raise PolicyConfigUnusable(str(error)) from None


def policy_report(recording: Recording, stack_config: StackConfig, pack: Optional[ModuleType] = None) -> list[dict[str, Any]]:
    """Violations of the policy pack for this recording (each with policy name, enforcement, urn, message).

    Raises PolicyGateError when the pack cannot load or run: a gate without a verdict fails, it never passes."""
    pack = pack or load_policy_pack()
    try:
        violations: list[dict[str, Any]] = pack.evaluate(recording, stack_config)
        return violations
    except pack.PolicyPackError as error:  # already one line naming the policy
        raise PolicyGateError(f"the policy pack failed: {error}") from None
    except Exception as error:  # noqa: BLE001 - the analyzer itself failing: no verdict either
        raise PolicyGateError(f"the policy pack failed: {one_line(error)}") from None


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def pack_location(pack: ModuleType) -> str:
    """The pack's folder as `pulumi preview --policy-pack <path>` would name it: relative when under the cwd."""
    pack_dir, here = Path(pack.PACK_DIR).resolve(), Path.cwd().resolve()
    return str(pack_dir.relative_to(here)) if pack_dir.is_relative_to(here) else str(pack_dir)


def render_text(recording: Recording, violations: list[dict[str, Any]], mode: str, pack: ModuleType) -> str:
    return render_preview(recording, violations, mode=mode, mode_description=MODES[mode], pack_name=pack.PACK_NAME,
                          pack_version=pack.pack_version(), pack_path=pack_location(pack))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = cli.ArgumentParser(prog="python -m infra.preview", description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", default="dev", help="stack name (Pulumi.<stack>.yaml); default: dev")
    parser.add_argument("--mode", choices=tuple(MODES), default=UP,
                        help=f"{UP} (default): {MODES[UP]}; {PREVIEW}: {MODES[PREVIEW]}")
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
        pack = load_policy_pack()
        check_policy_config(pack, stack_config)
        with status_line(f"running the program of stack '{args.stack}' ({args.mode} mode)"):
            recording = run_stack(stack_config, preview=args.mode == PREVIEW)
        with status_line(f"running the policy pack on {len(recording.resources)} resources"):
            violations = policy_report(recording, stack_config, pack)
    except SettingsError as error:
        print(f"error: stack '{args.stack}': {error}", file=sys.stderr)
        return EXIT_FAILED
    except PolicyGateError as error:
        print(f"error: stack '{args.stack}': {error}", file=sys.stderr)
        return EXIT_FAILED
    except PolicyConfigUnusable as error:
        print(f"error: stack '{args.stack}': {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.json:
        print(json.dumps({"mode": args.mode, **recording.to_json(), "violations": violations}, indent=2,
                         sort_keys=False))
    else:
        print(render_text(recording, violations, args.mode, pack))
    return EXIT_FAILED if any(v["enforcementLevel"] == "mandatory" for v in violations) else EXIT_OK


if __name__ == "__main__":
    cli.run(main)
