"""bench/preview.py runs (size 1 only, one repeat): a smoke test, never a timing assertion."""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^ +1 +(\d+) +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+  (yes|NO)$", re.MULTILINE)


def test_bench_runs_for_one_copy():
    result = subprocess.run([sys.executable, "bench/preview.py", "--sizes", "1", "--repeats", "1"], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = ROW.findall(result.stdout)
    assert len(rows) == 2, result.stdout  # collector on, collector paused
    assert all(int(resources) > 1 for resources, _ in rows)
