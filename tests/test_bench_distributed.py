"""bench/bench_distributed.py runs end to end on tiny data (its numbers are in BENCHMARKS.md)."""
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import tiny_config


@pytest.mark.slow
def test_bench_distributed_smoke(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_config().to_toml())
    result = subprocess.run(
        [sys.executable, "-m", "bench.bench_distributed", "--config", str(config), "--steps", "6",
         "--stages", "vae"], cwd=Path(__file__).parent.parent, capture_output=True, text=True,
        check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| vae |")]
    assert [row.split("|")[2].strip() for row in rows] == ["1", "2"]
    assert rows[0].endswith("| 1.00x |") and "load average after" in result.stdout
