"""Program overhead: the real stack program against a replay of what it registered (issue 16, target 1).

    .venv/bin/python bench/preview.py [--keys 0] [--repeats 9]

Run from the repository root (stack files are found from the current directory). The dev stack (with `--keys` more
self-issued API keys, bench/policy_scaling.py `with_extra_keys`) is recorded once with the real program
(infra.program.build on the recording engine, infra/recording.py, as a preview). The replay then registers every
recorded resource again on the same engine with its recorded type, name, parent, provider, explicit dependencies,
aliases and inputs, and nothing else:

- pulumi_aws / pulumi_random resources through their bare classes (aws.secretsmanager.Secret, ...), the recorded
  engine inputs passed as the classes' keyword arguments, computed values as the literals the program sent;
- components as a bare `pulumi.ComponentResource` of the same type token (no children of their own, no outputs);
- dynamic resources as a bare `pulumi.CustomResource` of the same type token with the recorded inputs, the
  serialized provider (`__provider`) included as the string it was, and the provider as `ProviderResource`;
- the same stack outputs, as plain values.

So the replay pays for what registering these resources costs the SDK and the engine, and the program's surplus
(settings, components, Output plumbing, serializing a dynamic provider) is what the ratio shows. Both sides run
alternately, `--repeats` times each, the garbage collector on as programs run (a collection before each run, so
one run's garbage is not charged to the next), and the medians of their CPU times (this process, all threads) are
compared. The last line is `target 1: <ratio> ok|MISSED` (program / replay <= 1.3); exit 1 when missed or when
the replay does not register what the program did. A benchmark, never a test.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Union

import pulumi
import pulumi_aws as aws
import pulumi_random
from pulumi.runtime import rpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from policy_scaling import STACK, cpu_seconds, program as record_program, with_extra_keys  # noqa: E402 - bench/ sibling

from securestack.infra.recording import (AssetValue, RecordedResource, Recording, Secret, Unknown,  # noqa: E402
                                         record)
from securestack.infra.settle import program_collector, settle_after_program  # noqa: E402
from securestack.infra.stack_config import StackConfig, read_stack_config  # noqa: E402

TARGET_RATIO = 1.3
# Runs per side (the issue asks for >= 5). On the shared 2-core machine the replay's median of 5 ranged 0.40-0.63 s
# between bench runs minutes apart; a median of 9 is moved less by a few runs caught in another job's burst. Both
# sides get the same number of alternating runs, so this narrows the spread without favouring either side.
DEFAULT_REPEATS = 9
# Inputs whose value is a map of the user's keys (tag names, environment variables): their keys stay as recorded.
MAPS = {"tags", "tagsAll", "variables", "context", "parameters", "keepers", "dimensions"}
DYNAMIC_PREFIX = "pulumi-python:dynamic"
PROVIDER_PREFIX = "pulumi:providers:"


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def literal(value: Any, rename: bool) -> Any:
    """A recorded value as the program's literal input: secrets as secret Outputs, unknowns as the engine's
    unknown sentinel (what the SDK sends for an unknown), nested names in the Python classes' snake_case."""
    if isinstance(value, Secret):
        return pulumi.Output.secret(literal(value.reveal(), rename))
    if isinstance(value, Unknown):
        return rpc.UNKNOWN
    if isinstance(value, AssetValue):
        return {rpc._special_sig_key: value.signature, **value}
    if isinstance(value, dict):
        return {(snake_case(k) if rename else k): literal(v, rename and k not in MAPS) for k, v in value.items()}
    if isinstance(value, list):
        return [literal(v, rename) for v in value]
    return value


def resource_class(type_token: str) -> Callable[..., pulumi.Resource]:
    """`aws:rds/instance:Instance` -> pulumi_aws.rds.Instance; `random:index/randomId:RandomId` -> pulumi_random."""
    package, module_path, class_name = type_token.split(":")
    if package == "random":
        return getattr(pulumi_random, class_name)  # type: ignore[no-any-return]
    name = module_path.split("/")[0]
    # Python keywords get a trailing underscore (pulumi_aws.lambda_).
    module = aws if name == "index" else getattr(aws, name, None) or getattr(aws, f"{name}_")
    return getattr(module, class_name)  # type: ignore[no-any-return]


def replay_program(recording: Recording) -> Callable[[], None]:
    """A program registering every resource of `recording` again with its recorded inputs, bare."""
    resources = list(recording.resources)
    outputs = {key: literal(value, rename=False) for key, value in recording.stack_outputs.items()}

    def program() -> None:
        # What the stack program does around its resources (infra/settle.py), so the replay does not pay for the
        # SDK's quadratic shutdown wait or the default collector thresholds that the program avoids.
        previous_thresholds = program_collector()
        by_urn: dict[str, pulumi.Resource] = {}
        providers: dict[str, pulumi.ProviderResource] = {}
        for resource in resources:
            by_urn[resource.urn] = replayed = register(resource, options(resource, by_urn, providers))
            if isinstance(replayed, pulumi.ProviderResource):
                providers[f"{resource.urn}::{resource.id}"] = replayed
        for key, value in outputs.items():
            pulumi.export(key, value)
        settle_after_program(previous_thresholds)

    return program


def options(resource: RecordedResource, by_urn: dict[str, pulumi.Resource],
            providers: dict[str, pulumi.ProviderResource]) -> pulumi.ResourceOptions:
    recorded = resource.options
    return pulumi.ResourceOptions(
        parent=by_urn.get(resource.parent or ""), provider=providers.get(resource.provider or ""),
        depends_on=[by_urn[urn] for urn in recorded["dependsOn"] if urn in by_urn] or None,
        protect=recorded["protect"] or None, retain_on_delete=recorded["retainOnDelete"] or None,
        aliases=[alias(recorded_alias) for recorded_alias in resource.aliases] or None
        if not bare_class(resource) else None)


def bare_class(resource: RecordedResource) -> bool:
    """Registered through its pulumi_aws / pulumi_random class, which adds its schema's own aliases (e.g.
    aws.s3.Bucket's to aws:s3/bucketV2:BucketV2) as it did for the program."""
    return resource.custom and not resource.type.startswith((PROVIDER_PREFIX, DYNAMIC_PREFIX))


def alias(recorded: dict[str, Any]) -> Union[str, pulumi.Alias]:
    """A recorded alias (wire form, pulumi/runtime/resource.py create_alias_spec) as the option that sends it:
    the program's components alias their pre-0.13 type token (components/common.py renamed_from), which the SDK
    resolves into Outputs for every such component; the replay registers the same alias, so that cost is not
    counted as the program's surplus."""
    if "urn" in recorded:
        return str(recorded["urn"])
    spec = recorded.get("spec", {})
    parent: Any = None if spec.get("noParent") else spec.get("parentUrn", ...)
    return pulumi.Alias(name=spec.get("name", ...), type_=spec.get("type", ...), stack=spec.get("stack", ...),
                        project=spec.get("project", ...), parent=parent)


def register(resource: RecordedResource, opts: pulumi.ResourceOptions) -> pulumi.Resource:
    if resource.type.startswith(PROVIDER_PREFIX):
        return pulumi.ProviderResource(resource.type[len(PROVIDER_PREFIX):], resource.name,
                                       literal(resource.inputs, rename=False), opts)
    if not resource.custom:
        return pulumi.ComponentResource(resource.type, resource.name, None, opts)
    if resource.type.startswith(DYNAMIC_PREFIX):
        return pulumi.CustomResource(resource.type, resource.name, literal(resource.inputs, rename=False), opts)
    return resource_class(resource.type)(resource.name, **literal(resource.inputs, rename=True), opts=opts)


def shape(recording: Recording) -> list[tuple[str, str, Optional[str]]]:
    """What both sides must register alike: (type, name, parent's type and name) of every resource."""
    names = {r.urn: f"{r.type}::{r.name}" for r in recording.resources}
    return sorted((r.type, r.name, names.get(r.parent or "")) for r in recording.resources)


def differing_inputs(original: Recording, replayed: Recording) -> list[str]:
    """Resources whose replayed inputs or aliases differ from what the program sent (by type and name)."""
    sent = {(r.type, r.name): (r.inputs, r.aliases) for r in original.resources}
    return sorted(f"{r.type}::{r.name}" for r in replayed.resources
                  if sent.get((r.type, r.name)) != (r.inputs, r.aliases))


def measure(stack_config: StackConfig, repeats: int) -> dict[str, Any]:
    def program() -> Recording:
        return record_program(stack_config)

    original = program()  # also the untimed warm-up: the first run imports the pulumi_aws submodules
    replay = replay_program(original)

    def replayed() -> Recording:
        return record(replay, stack=stack_config.stack, config=stack_config.config, project=stack_config.project,
                      secret_keys=stack_config.secret_keys, preview=True)

    check = replayed()
    if shape(check) != shape(original):
        raise SystemExit(f"the replay registered {len(check.resources)} resources, the program "
                         f"{len(original.resources)}, or others: not the same program")
    program_times, replay_times = [], []
    for _ in range(repeats):  # alternating, so both sides see the same machine
        program_times.append(cpu_seconds(program)[0])
        replay_times.append(cpu_seconds(replayed)[0])
    return {"resources": len(original.resources), "program_s": statistics.median(program_times),
            "replay_s": statistics.median(replay_times), "differing": differing_inputs(original, check)}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=0, help="extra self-issued API keys in the dev stack")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="runs per side (median)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.keys < 0:
        parser.error("--repeats must be >= 1 and --keys >= 0")
    row = measure(with_extra_keys(read_stack_config(STACK), args.keys), args.repeats)
    ratio = row["program_s"] / row["replay_s"]
    print(f"{'keys':>6} {'resources':>9} {'program s':>9} {'replay s':>9} {'program ms/r':>12} {'replay ms/r':>11} "
          f"{'ratio':>6}")
    print(f"{args.keys:>6} {row['resources']:>9} {row['program_s']:>9.3f} {row['replay_s']:>9.3f} "
          f"{1000 * row['program_s'] / row['resources']:>12.2f} {1000 * row['replay_s'] / row['resources']:>11.2f} "
          f"{ratio:>6.2f}")
    if row["differing"]:
        print(f"replayed inputs or aliases differ from the program's for {len(row['differing'])} resources, e.g. "
              f"{row['differing'][0]}")
    met = ratio <= TARGET_RATIO
    print(f"target 1: {ratio:.2f} (program / replay of its {row['resources']} resources, median of {args.repeats} "
          f"alternating runs, collector on; target <= {TARGET_RATIO}) {'ok' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
