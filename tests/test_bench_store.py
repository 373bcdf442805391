"""bench/bench_store.py runs end to end on a tiny gallery (its numbers are in BENCHMARKS.md)."""
import argparse
from pathlib import Path

from bench.bench_store import run

SMALL = Path(__file__).parent / "data" / "cmu_val_small.npz"


def test_bench_store_smoke(tmp_path, tiny_checkpoint, capsys):
    run(argparse.Namespace(sizes=[1500], real=1000, queries=10, data=SMALL, queries_data=SMALL,
                           cache=tmp_path / "emb.npz", no_lancedb=False, threads=1,
                           checkpoint=tiny_checkpoint))
    table = capsys.readouterr().out
    assert "| SQLite: open 1,500 poses" in table and "recall@10" in table
    assert "IVF top-10 of 1,000 (real)" in table and "IVF top-10 of 1,500 (tiled)" in table
    assert (tmp_path / "emb.npz").exists()
