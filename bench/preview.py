"""Program cost per registered resource on the recording engine: EncryptedPostgres copies vs bare resources.

    .venv/bin/python bench/preview.py [--sizes 1 10 100] [--repeats 5]

For each size N, two programs register the same number of resources on the recording engine:

- component: one explicit provider + N copies of EncryptedPostgres (each a component resource, its children,
  its invokes and Output plumbing);
- baseline: the same provider + the same count of bare pulumi-aws resources, no component: each copy's
  children replayed with the literal inputs one recorded copy sent, plus one bare security group in place
  of the component resource itself.

Cost per resource = best CPU time (of this process) of `--repeats` runs / resources registered. The target is a ratio
component/baseline <= 1.3 at every size, and linear growth: cost per resource roughly constant across sizes
(the largest per-resource cost at most 1.5x the smallest, sizes >= 10, where the fixed start-up cost no longer
dominates). A benchmark, not a test: it prints, it asserts nothing. CPU time rather than wall time, so that
other work on the machine does not decide the verdict.
"""
from __future__ import annotations

import argparse
import gc
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional


import pulumi
import pulumi_aws as aws
import pulumi_random

from securestack.components.database import EncryptedPostgres, EncryptedPostgresArgs
from securestack.infra.recording import record

TARGET_RATIO = 1.3
LINEAR_SPREAD = 1.5
DEFAULT_SIZES = (1, 10, 100)
COMPONENT_TYPE = "securestack:index:EncryptedPostgres"
NOT_RENAMED = {"tags"}  # user data: its keys stay as written
CONFIG = {"aws:region": "us-east-1", "aws:allowedAccountIds": '["111111111111"]'}


def provider() -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(providers=[aws.Provider("aws", region="us-east-1")])


def database_args() -> EncryptedPostgresArgs:
    return EncryptedPostgresArgs(
        environment="bench", production=False, vpc_id="vpc-0123456789abcdef0",
        private_subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        data_key_arn="arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000001",
        logs_key_arn="arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000002",
        log_retention_days=30, tags={"securestack:env": "bench"})


def component_program(copies: int) -> Callable[[], None]:
    def program() -> None:
        opts = provider()
        for index in range(copies):
            EncryptedPostgres(f"db{index}", database_args(), opts)
    return program


@dataclass(frozen=True)
class Child:
    type: str
    name: str
    inputs: dict[str, Any]


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def python_inputs(value: Any) -> Any:
    """Recorded (engine, camelCase) inputs -> keyword arguments of the pulumi-aws Python classes."""
    if isinstance(value, dict):
        return {snake_case(k): (v if k in NOT_RENAMED else python_inputs(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [python_inputs(v) for v in value]
    return value


def resource_class(type_token: str) -> type:
    """`aws:rds/instance:Instance` -> pulumi_aws.rds.Instance; `random:index/randomId:RandomId` -> pulumi_random."""
    package, module_path, class_name = type_token.split(":")
    if package == "random":
        return getattr(pulumi_random, class_name)
    return getattr(getattr(aws, module_path.split("/")[0]), class_name)


def recorded_children() -> list[Child]:
    """What one EncryptedPostgres copy registers below itself, with the literal inputs it sent."""
    recording = record(component_program(1), stack="bench", config=CONFIG)
    component = recording.one(COMPONENT_TYPE)
    return [Child(r.type, r.name, r.inputs) for r in recording.resources if r.parent == component.urn]


def baseline_program(copies: int, children: list[Child]) -> Callable[[], None]:
    def program() -> None:
        opts = provider()
        for index in range(copies):
            # In place of the component resource: one more bare resource, so both programs register as many.
            aws.ec2.SecurityGroup(f"bare{index}", vpc_id="vpc-0123456789abcdef0", opts=opts)
            for child in children:
                resource_class(child.type)(f"bare{index}-{child.name}", **python_inputs(child.inputs), opts=opts)
    return program


@dataclass(frozen=True)
class Measurement:
    resources: int
    seconds: float

    @property
    def per_resource(self) -> float:
        return self.seconds / self.resources


def measure_once(program: Callable[[], None], collector: bool) -> Measurement:
    """CPU time of this process (all its threads) for one run, so other load on the machine barely moves it."""
    gc.collect()
    if not collector:
        gc.disable()
    try:
        start = time.process_time()
        recording = record(program, stack="bench", config=CONFIG)
        return Measurement(len(recording.resources), time.process_time() - start)
    finally:
        gc.enable()


def measure_pair(component: Callable[[], None], baseline: Callable[[], None], repeats: int,
                 collector: bool = True) -> tuple[Measurement, Measurement]:
    """Best of `repeats` for each side, the two sides alternating so both see the same machine conditions."""
    best: list[Optional[Measurement]] = [None, None]
    for _ in range(repeats):
        for side, program in enumerate((component, baseline)):
            sample = measure_once(program, collector)
            if best[side] is None or sample.seconds < best[side].seconds:
                best[side] = sample
    return best[0], best[1]


Results = dict[int, tuple[Measurement, Measurement]]


def run(sizes: list[int], repeats: int, collector: bool) -> Results:
    children = recorded_children()
    measure_pair(component_program(1), baseline_program(1, children), 1)  # warm the imports
    results = {}
    for size in sizes:
        component, baseline = measure_pair(component_program(size), baseline_program(size, children), repeats,
                                           collector)
        if component.resources != baseline.resources:
            raise RuntimeError(f"size {size}: {component.resources} vs {baseline.resources} resources")
        results[size] = (component, baseline)
    return results


def spread(values: list[float]) -> float:
    return max(values) / min(values)


def report(results: Results) -> str:
    lines = [f"{'copies':>6} {'resources':>9} {'component s':>11} {'baseline s':>10} "
             f"{'comp ms/res':>11} {'base ms/res':>11} {'ratio':>6}  <= {TARGET_RATIO}x"]
    for size, (component, baseline) in results.items():
        ratio = component.per_resource / baseline.per_resource
        lines.append(f"{size:>6} {component.resources:>9} {component.seconds:>11.3f} {baseline.seconds:>10.3f} "
                     f"{component.per_resource * 1000:>11.3f} {baseline.per_resource * 1000:>11.3f} "
                     f"{ratio:>6.2f}  {'yes' if ratio <= TARGET_RATIO else 'NO'}")
    steady = [size for size in results if size >= 10] or list(results)
    if len(steady) > 1:
        for label, column in (("component", 0), ("baseline", 1)):
            costs = [results[size][column].per_resource for size in steady]
            verdict = "yes" if spread(costs) <= LINEAR_SPREAD else "NO"
            lines.append(f"linear ({label}, sizes {', '.join(map(str, steady))}): per-resource cost spread "
                         f"{spread(costs):.2f}x (<= {LINEAR_SPREAD}x: {verdict})")
    else:
        lines.append("linear: needs two sizes >= 10")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print("CPU time per registered resource, Python's garbage collector on (as programs run):")
    print(report(run(args.sizes, args.repeats, collector=True)))
    # The cyclic collector rescans the live heap, which keeps every registered resource until the run ends:
    # its share grows with the size of the program for both columns alike. Paused, what is left is the
    # programs' own work.
    print("\nThe same with the collector paused during each run (the programs' own work):")
    print(report(run(args.sizes, args.repeats, collector=False)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
