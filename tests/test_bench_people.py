"""bench/bench_people.py runs (its numbers are in docs/BENCHMARKS.md)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_people_smoke(tiny_checkpoint: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.bench_people", "--smoke", "--checkpoint",
         str(tiny_checkpoint)], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for table in ("## everyone in a picture", "time per extra person found", "## tracking",
                  "µs per frame and person", "## live", "ratio to MediaPipe alone"):
        assert table in out
    assert "| mask and redetect + tiles (detect) |" in out and "| everyone (2 people) |" in out
