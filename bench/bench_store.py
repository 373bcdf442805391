"""Pose library store at scale, on real pose embeddings: SQLite (ours) against LanceDB on open,
add and top-10 query at each size, exact against IVF search (latency, recall@10), and the
exact search's latency as the library grows (where library search switches to IVF).

The gallery is the shipped model's embed_2d of --real training poses seen from seeded cameras
(one view each, then more views if --real is larger than the data); sizes above --real repeat
those embeddings with a small jitter (0.02 of their spread), marked "tiled" in the table: the
recall on real embeddings is the one at --real or below. The queries are validation poses from
other cameras. Embedding takes minutes: --cache keeps them for the next run.

    python -m bench.bench_store                                   # 100k and 1M
    python -m bench.bench_store --sizes 2000 --queries 20 --data tests/data/cmu_val_small.npz
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from functools import partial
from pathlib import Path

from bench.threads import limit_blas_threads
from bench.timing import latencies_ms

ADD_FILES, ROWS_PER_FILE = 10, 1000  # "add 10k poses": ten files (videos) of 1000 poses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/cmu_h36m17_train.npz"))
    parser.add_argument("--queries-data", type=Path,
                        default=Path("../shared/data/cmu_h36m17_val.npz"))
    parser.add_argument("--real", type=int, default=248_275, help="real embeddings to make")
    parser.add_argument("--cache", type=Path, default=None, help="npz of the embeddings")
    parser.add_argument("--no-lancedb", action="store_true", help="SQLite only")
    parser.add_argument("--threads", type=int, default=1, help="for torch, faiss and BLAS")
    parser.add_argument("--checkpoint", type=Path, default=None)
    args = parser.parse_args()
    limit_blas_threads(args.threads)
    run(args)


def embeddings(args: argparse.Namespace):
    """gallery (max size, D), queries (Q, D) float32, and how many gallery rows are real."""
    import numpy as np

    from vvipe_core.api import VVIPE
    from vvipe_core.atomic import atomic_write
    from vvipe_core.cameras import project, sample_cameras
    from vvipe_core.data import load_poses

    real = min(args.real, max(args.sizes))
    if args.cache is not None and args.cache.is_file():
        cached = np.load(args.cache)
        gallery, queries = cached["gallery"], cached["queries"]
    if not (args.cache is not None and args.cache.is_file() and len(gallery) >= real
            and len(queries) >= args.queries):
        model = VVIPE.load(args.checkpoint, device="cpu")
        poses = load_poses(args.data).poses
        views = -(-real // len(poses))
        gallery = np.concatenate([model.embed_2d(
            project(poses, sample_cameras(poses[:, 0], rng=view)).astype(np.float32))
            for view in range(views)])[:real]
        val = load_poses(args.queries_data).poses
        val = val[np.random.default_rng(0).permutation(len(val))[: args.queries]]
        queries = model.embed_2d(project(val, sample_cameras(val[:, 0], rng=99))
                                 .astype(np.float32))
        if args.cache is not None:
            with atomic_write(args.cache) as handle:  # a killed run leaves no half cache
                np.savez(handle, gallery=gallery, queries=queries)
    gallery, queries = gallery[:real], queries[: args.queries]
    copies = -(-max(args.sizes) // real)
    rng = np.random.default_rng(2)
    tiled = [gallery] + [gallery + rng.normal(scale=0.02 * gallery.std(0), size=gallery.shape)
                         .astype(np.float32) for _ in range(copies - 1)]
    return np.concatenate(tiled)[: max(args.sizes)], queries, real


def run(args: argparse.Namespace) -> None:
    import faiss
    import torch

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    gallery, queries, real = embeddings(args)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{args.threads} thread(s), D = {gallery.shape[1]}, faiss {faiss.__version__}; "
          f"{real:,} real embeddings")
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            rows += sqlite_rows(Path(tmp) / f"sqlite_{size}", gallery[:size], queries)
            if not args.no_lancedb:
                rows += lancedb_rows(Path(tmp) / f"lance_{size}", gallery[:size], queries)
    rows += search_rows(gallery, queries, args.sizes, real)
    print("| measure | result |\n| --- | --- |")
    for measure, result in rows:
        print(f"| {measure} | {result} |")


def _entries(start: int, n: int):
    from vvipe_core.library import Entry

    return [Entry(f"/videos/{i // ROWS_PER_FILE}.mp4", i % ROWS_PER_FILE,
                  (i % ROWS_PER_FILE) / 30, (0.0, 0.0, 640.0, 480.0), 0)
            for i in range(start, start + n)]


def _ms(ms) -> str:
    import numpy as np

    return f"{np.median(ms):.2f} / {np.percentile(ms, 90):.2f} ms"


def sqlite_rows(directory: Path, gallery, queries) -> list[tuple[str, str]]:
    import numpy as np

    from vvipe_core.library import PoseLibrary

    size, dim = gallery.shape
    library = PoseLibrary(directory, dim, "bench")
    library.add(gallery, _entries(0, size))
    start = time.perf_counter()
    library.save()
    rows = [(f"SQLite: write {size:,} poses ({size // ROWS_PER_FILE} files, a transaction each)",
             f"{time.perf_counter() - start:.2f} s")]
    start, cpu = time.perf_counter(), time.process_time()
    library = PoseLibrary.open(directory)
    # CPU seconds too: on a shared machine the wall time is mostly waiting for a core.
    rows.append((f"SQLite: open {size:,} poses (all rows into memory, validated), wall / CPU",
                 f"{time.perf_counter() - start:.2f} / {time.process_time() - cpu:.2f} s"))
    start = time.perf_counter()
    library.search(queries[0], 10)
    rows.append((f"SQLite: first search of {size:,} ({library.index_kind} index built)",
                 f"{time.perf_counter() - start:.2f} s"))
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    for f in range(ADD_FILES):
        added = rng.normal(size=(ROWS_PER_FILE, dim)).astype(np.float32)
        library.add(added, _entries(size + f * ROWS_PER_FILE, ROWS_PER_FILE))
        library.save()  # one transaction per file, as indexing commits
    rows.append(((f"SQLite: add {ADD_FILES * ROWS_PER_FILE:,} poses to {size:,} "
                 f"({ADD_FILES} files, committed and searchable)"),
                 f"{time.perf_counter() - start:.2f} s"))
    times = latencies_ms(lambda query: library.search(query, 10), queries)
    rows.append(((f"SQLite library: query top-10 of {size:,} ({library.index_kind}), "
                 f"median / p90 of {len(queries)}"), _ms(times)))
    library.keep_search_index()  # as indexing does at the end of a run
    start = time.perf_counter()
    PoseLibrary.open(directory).search(queries[0], 10)
    rows.append((f"SQLite: open {len(library):,} poses and first search (the kept index)",
                 f"{time.perf_counter() - start:.2f} s"))
    return rows


def lancedb_rows(directory: Path, gallery, queries) -> list[tuple[str, str]]:
    try:
        import lancedb
        import pyarrow as pa
    except ImportError:
        return [("LanceDB", "not installed")]
    import numpy as np

    size, dim = gallery.shape

    def table(vectors, start: int):
        n = len(vectors)
        index = np.arange(start, start + n)
        return pa.table({
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
            "file": pa.array([f"/videos/{i // ROWS_PER_FILE}.mp4" for i in index]),
            "frame": pa.array(index % ROWS_PER_FILE), "time_s": index % ROWS_PER_FILE / 30,
            "person": pa.array(np.zeros(n, np.int32))})

    start = time.perf_counter()
    db = lancedb.connect(directory)
    db.create_table("poses", table(gallery, 0))
    rows = [(f"LanceDB: write {size:,} poses (one table)", f"{time.perf_counter() - start:.2f} s")]
    start = time.perf_counter()
    poses = lancedb.connect(directory).open_table("poses")
    count = poses.count_rows()
    rows.append((f"LanceDB: open {size:,} poses (lazy: nothing read)",
                 f"{time.perf_counter() - start:.2f} s"))
    assert count == size
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    for f in range(ADD_FILES):
        added = rng.normal(size=(ROWS_PER_FILE, dim)).astype(np.float32)
        poses.add(table(added, size + f * ROWS_PER_FILE))  # one version (commit) per file
    rows.append(((f"LanceDB: add {ADD_FILES * ROWS_PER_FILE:,} poses to {size:,} "
                 f"({ADD_FILES} files)"), f"{time.perf_counter() - start:.2f} s"))
    times = latencies_ms(lambda query: poses.search(query).limit(10).to_list(), queries[:20])
    rows.append(((f"LanceDB: query top-10 of {size:,} (no index: exact scan), median / p90 "
                 f"of {len(times)}"), _ms(times)))
    return rows


def search_rows(gallery, queries, sizes: list[int], real: int) -> list[tuple[str, str]]:
    """Exact latency as the library grows; IVF build, tuning, latency and recall@10 on the
    real embeddings (recall against the exact search's top 10 for the validation queries)."""
    import numpy as np

    from vvipe_core.index import PoseIndex

    rows = []
    steps = sorted({s for s in (25_000, 50_000, 100_000, 200_000, 400_000, 1_000_000)
                    if s <= max(sizes)} | set(sizes))
    for size in steps:
        exact = PoseIndex(gallery.shape[1])
        exact.add(gallery[:size])
        times = latencies_ms(partial(exact.search, k=10), queries[:, None])
        rows.append((f"exact (faiss flat) top-10 of {size:,}, median / p90", _ms(times)))
    for size in sorted(set(sizes) | {min(real, max(sizes))}):
        label = f"{size:,}" + (" (tiled)" if size > real else " (real)")
        exact = PoseIndex(gallery.shape[1])
        exact.add(gallery[:size])
        truth = exact.search(queries, 10)[1]
        start = time.perf_counter()
        ivf = PoseIndex.for_size(gallery.shape[1], size, force="ivf")
        ivf.add(gallery[:size])
        rows.append((f"IVF build for {label} (train, add, tune nprobe; {ivf.describe()})",
                     f"{time.perf_counter() - start:.2f} s"))
        found = ivf.search(queries, 10)[1]
        recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found)])
        times = latencies_ms(partial(ivf.search, k=10), queries[:, None])
        rows.append(((f"IVF top-10 of {label}: recall@10 on {len(queries)} validation queries; "
                     "median / p90"), f"{recall:.3f}; {_ms(times)}"))
    return rows


if __name__ == "__main__":
    main()
