"""A stack of thousands of API keys previewed with the policy pack: CPU and peak memory (issue 16, target 3).

    .venv/bin/python bench/scale.py [--sizes 4 100 1000 3000]

Run from the repository root. For each size N (extra self-issued API keys in the dev stack, bench/policy_scaling.py
`with_extra_keys`), one subprocess does what `.venv/bin/python -m infra.preview dev` does with the pack, once:
the real stack program on the recording engine (infra.program.build, a preview), then the whole pack through
pulumi_policy's analyzer (policy/harness.py `evaluate`). Its own process, so its peak RSS (getrusage ru_maxrss) is
that size's alone; its total CPU is the whole process's (user + system: interpreter start, imports, program,
pack), not only the two phases. The garbage collector is on throughout.

Prints resources, program s, policy s, total CPU s, the peak RSS once the program ended (`program MB`: what the
program phase reached) and the process's peak RSS MB per size. The last line is
`target 3: <cpu s>, <MB> ok|MISSED` for the largest size (target: < 120 s CPU and < 1,200 MB); exit 1 when
missed. A benchmark, never a test: 3,000 keys take minutes.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from policy_scaling import STACK, passes_pack, program, with_extra_keys  # noqa: E402 - bench/ sibling

DEFAULT_SIZES = (4, 100, 1000, 3000)
TARGET_CPU_S, TARGET_RSS_MB = 120.0, 1200.0


def process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_size(keys: int) -> dict[str, Any]:
    """In this process: the program, then the pack, for the dev stack with `keys` more keys."""
    from securestack.infra.stack_config import read_stack_config
    from securestack.policy import harness

    stack_config = with_extra_keys(read_stack_config(STACK), keys)
    started = time.process_time()
    recording = program(stack_config)
    program_s = time.process_time() - started
    program_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.process_time()
    violations = harness.evaluate(recording, stack_config)
    policy_s = time.process_time() - started
    passes_pack(violations)
    return {"keys": keys, "resources": len(recording.resources) + 1, "program_s": program_s, "policy_s": policy_s,
            "cpu_s": process_cpu_s(), "program_rss_mb": program_peak_mb,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_subprocess(keys: int) -> dict[str, Any]:
    result = subprocess.run([sys.executable, __file__, "--one", str(keys)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{keys} keys: {(result.stderr or result.stdout).strip().splitlines()[-1:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="extra API keys per run")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child: one size, one JSON line
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(one_size(args.one)))
        return 0
    if any(size < 0 for size in args.sizes):
        parser.error("--sizes must be >= 0")
    print(f"{'keys':>6} {'resources':>9} {'program s':>9} {'policy s':>9} {'total CPU s':>11} {'program MB':>10} "
          f"{'peak RSS MB':>11}")
    row: dict[str, Any] = {}
    for size in sorted(args.sizes):
        row = in_subprocess(size)
        print(f"{size:>6} {row['resources']:>9} {row['program_s']:>9.2f} {row['policy_s']:>9.2f} "
              f"{row['cpu_s']:>11.2f} {row['program_rss_mb']:>10.0f} {row['rss_mb']:>11.0f}", flush=True)
    met = row["cpu_s"] < TARGET_CPU_S and row["rss_mb"] < TARGET_RSS_MB
    print(f"target 3: {row['cpu_s']:.2f} s, {row['rss_mb']:.0f} MB ({row['keys']} keys, {row['resources']} resources; "
          f"target < {TARGET_CPU_S:.0f} s CPU and < {TARGET_RSS_MB:.0f} MB peak RSS) {'ok' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
