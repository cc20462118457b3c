"""The whole test suite's wall time against issue 16's target 5: <= 4 minutes wall on 2 cores.

Runs README's test command once (`python -m pytest -q -n auto --dist loadfile`), or the pytest arguments given
after `--` (e.g. `bench/suite.py -- -q tests/test_preview.py`), from the repository root, and prints its wall time,
the CPU time of it and every process it waited for (user + sys of the pytest-xdist workers and their subprocesses),
and the machine's load (`uptime`) before and after: other work on the same cores stretches the wall time, and the
CPU time is what to compare between runs. Ends with `target 5: <minutes> ok|MISSED`; exit 1 when missed, and a
suite that fails is missed whatever its time (the target is a passing suite). A benchmark, never a test.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ["-q", "-n", "auto", "--dist", "loadfile"]
TARGET_MINUTES = 4.0


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:  # no uptime binary: the load averages straight from the kernel
        return "load average: " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/suite.py", description=__doc__.splitlines()[0])
    parser.add_argument("pytest_args", nargs="*", help="pytest arguments after `--` (default: README's)")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "pytest", *(args.pytest_args or SUITE)]
    print("command:", " ".join(command[1:]))
    print("before:", uptime(), f"({os.cpu_count()} CPUs)")
    cpu_before, started = children_cpu_seconds(), time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, check=False)
    wall, cpu = time.perf_counter() - started, children_cpu_seconds() - cpu_before
    print("after:", uptime())
    minutes = wall / 60
    print(f"suite: exit {result.returncode}, wall {wall:.1f} s, CPU {cpu:.1f} s (user+sys), "
          f"CPU/wall {cpu / wall:.2f}")
    met = result.returncode == 0 and minutes <= TARGET_MINUTES
    why = "" if result.returncode == 0 else f", suite failed (exit {result.returncode})"
    print(f"target 5: {minutes:.2f} min wall (target <= {TARGET_MINUTES:g}{why}) {'ok' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
