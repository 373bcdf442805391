"""bench/bench_library.py runs end to end with tiny sizes (its numbers are in BENCHMARKS.md)."""
import argparse

import pytest

from bench.bench_library import run


@pytest.mark.slow
def test_bench_library_smoke(tiny_checkpoint, capsys):
    run(argparse.Namespace(size=2000, video_frames=4, videos=2, queries=5, threads=1,
                           checkpoint=tiny_checkpoint))
    table = capsys.readouterr().out
    assert "2 worker(s)" in table and "| open a 2,000-pose library |" in table
