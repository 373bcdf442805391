import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_model_prints_its_tables_for_every_architecture(tiny_checkpoint):
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_model", "--checkpoint", str(tiny_checkpoint),
         "--threads", "1", "--train-steps", "1", "--budget-s", "0.01", "--batch", "16"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True).stdout
    from bench.bench_model import ARCHITECTURES

    assert "single-pose latency" in out and "train mapper" in out
    for name in ARCHITECTURES:
        row = next(line for line in out.splitlines() if line.startswith(f"| {name} |"))
        assert row.count("|") == 8 and "ms" in row and "poses/s" in row
