"""Verified gallery search: the cost of checking the top K candidates against a photo's keypoints.

For each gallery size it times, per single query, `Gallery.search` without keypoints (the
reference: embedding search alone) and with them for each K (search + a camera fitted to each
of the K candidates + re-ranking, vvipe_core/verify.py), and the batched re-ranking that the
evaluation uses, printing a Markdown table with each time's ratio to the reference. Times are
CPU seconds of this process (one thread: the time on one core, whatever else shares the
machine) and, for single queries, wall-clock seconds too.

Gallery poses are val poses (tiled for large galleries), embeddings random normal (search cost
depends only on the size and D); queries are val poses seen by the protocol's seen cameras.

    python -m bench.bench_verify                          # from the repository root
    python -m bench.bench_verify --sizes 3000 --ks 50 --threads 1
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

from bench.bench_index import cpu_model
from bench.threads import limit_blas_threads

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cmu_h36m17_val.npz"
SHOWN = 8  # hits a search returns (the app's default k)
BATCH = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3_000, 100_000])
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--queries", type=int, default=BATCH)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of repeats per timing")
    args = parser.parse_args()
    limit_blas_threads(args.threads)
    run(args)


def run(args: argparse.Namespace) -> None:
    import faiss  # the search; the check is numpy only
    import numpy as np

    from vvipe_core.cameras import SEEN, project, sample_cameras
    from vvipe_core.data import load_poses
    from vvipe_core.gallery import Gallery

    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    poses = load_poses(args.data).poses.astype(np.float32)
    queries = poses[rng.choice(len(poses), args.queries)]
    keypoints = project(queries, sample_cameras(queries[:, 0], SEEN, rng))
    print(f"{cpu_model()}, {os.cpu_count()} CPUs visible, {args.threads} threads, D={args.dim}, "
          f"k={SHOWN} shown, numpy {np.__version__}, faiss {faiss.__version__}\n")
    print(f"| gallery | search | 1 query, CPU (ms) | × search alone | 1 query, wall (ms) | "
          f"{len(queries)} queries, re-ranking only, CPU (ms per query) |")
    print("|---:|---|---:|---:|---:|---:|", flush=True)
    for n in args.sizes:
        gallery = Gallery(poses[rng.integers(0, len(poses), n)],
                          rng.standard_normal((n, args.dim), dtype=np.float32),
                          np.full(n, "s"), np.zeros(n, np.int32), np.full(n, ""))
        z = rng.standard_normal((len(queries), args.dim), dtype=np.float32)
        bench_gallery(gallery, z, keypoints, args.ks, args.budget)


def bench_gallery(gallery, z, keypoints, ks: list[int], budget: float) -> None:
    """Table rows for one gallery: z (Q, D) and keypoints (Q, 17, 2) are the queries."""
    import numpy as np

    from vvipe_core.index import PoseIndex
    from vvipe_core.verify import rerank

    n, q = len(gallery), len(z)
    gallery.search(z[0], SHOWN)  # builds its index
    index = PoseIndex(gallery.dim)  # the same search, batched, for the re-ranking alone
    index.add(gallery.embeddings)
    reference, wall = timed(lambda i: gallery.search(z[i % q], SHOWN), budget)
    print(f"| {n:,} | embedding alone | {reference * 1e3:.3f} | 1.0 | {wall * 1e3:.3f} | |",
          flush=True)
    for k in ks:
        single, wall = timed(
            lambda i, k=k: gallery.search(z[i % q], SHOWN, keypoints[i % q], verify=k), budget)
        distances, ids = index.search(z, k)
        batch, _ = timed(lambda _, ids=ids, d=np.sqrt(distances), k=k: rerank(
            keypoints, ids, d, gallery.poses, k=k), budget, max_reps=5)
        print(f"| {n:,} | top {k} verified | {single * 1e3:.3f} | {single / reference:.1f} | "
              f"{wall * 1e3:.3f} | {batch / q * 1e3:.3f} |", flush=True)


def timed(fn: Callable[[int], object], budget: float, max_reps: int = 500) -> tuple[float, float]:
    """Mean CPU and wall seconds per call, repeating until `budget` CPU seconds are spent."""
    reps, cpu, wall = 0, time.process_time(), time.perf_counter()
    while reps == 0 or (reps < max_reps and time.process_time() - cpu < budget):
        fn(reps)
        reps += 1
    return (time.process_time() - cpu) / reps, (time.perf_counter() - wall) / reps


if __name__ == "__main__":
    main()
