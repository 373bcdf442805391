"""bench/bench_app.py runs (a few moves, one drop, one start, 3 s of Live view), so it cannot rot."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_app_prints_every_row(tiny_checkpoint, tiny_gallery):
    result = subprocess.run(
        [sys.executable, "bench/bench_app.py", "--checkpoint", str(tiny_checkpoint),
         "--gallery", str(tiny_gallery), "--moves", "3", "--drops", "1", "--starts", "1", "--live-s", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + 8, result.stdout
    for line in rows[2:]:  # median, p90 and max of each measure: positive numbers
        cells = [cell.split()[0] for cell in line.strip("| ").split(" | ")[1:]]
        assert len(cells) == 3 and all(float(c) > 0 for c in cells), line
