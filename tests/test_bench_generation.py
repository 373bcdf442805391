"""bench/bench_generation.py and bench/generation_eval.py run (their numbers are in
docs/BENCHMARKS.md and docs/GENERATION.md)."""
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SMALL_POSES
from tests.test_generation import needs_bundled

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_bench_generation_smoke(tiny_checkpoint: Path) -> None:
    out = run("bench.bench_generation", "--checkpoint", str(tiny_checkpoint), "--repeats", "2")
    assert "| edit (one drag" in out and "| interpolate" in out


@pytest.mark.slow
@needs_bundled
def test_generation_eval_smoke() -> None:
    out = run("bench.generation_eval", "--data", str(SMALL_POSES), "--poses", "40", "--drags",
              "4", "--pairs", "4")
    assert "| 3 σ |" in out and "| Left knee bend |" in out and "| VVIPE.interpolate |" in out
