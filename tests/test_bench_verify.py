"""The verified-search benchmark runs (a smoke run on the test poses; timings are not checked)."""
import subprocess
import sys
from pathlib import Path

from tests.helpers import SMALL_POSES

ROOT = Path(__file__).resolve().parent.parent


def test_bench_verify_prints_its_table():
    run = subprocess.run(
        [sys.executable, "-m", "bench.bench_verify", "--sizes", "300", "--ks", "5", "20",
         "--queries", "20", "--budget", "0.01", "--data", str(SMALL_POSES)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("| 300 |")]
    assert [row.split("|")[2].strip() for row in rows] == [
        "embedding alone", "top 5 verified", "top 20 verified"]
    assert all(float(row.split("|")[3]) > 0 for row in rows)
