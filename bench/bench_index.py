"""Retrieval speed: PoseIndex (faiss exact / HNSW) against brute-force torch and numpy search.

For each gallery size (random normal float32, D = 32 by default) and each method it prints, as
a Markdown table, the build time, the mean latency of one query, the latency of a batch of 1000
queries and the batch's recall@10 against the exact faiss result. Repetitions stop after a time
budget, so the slow 1M numpy case runs only once or twice.

    python -m bench.bench_index                          # from the repository root
    python -m bench.bench_index --sizes 10000 --threads 1
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bench.threads import limit_blas_threads

if TYPE_CHECKING:  # numpy, torch and faiss are imported late, after the thread caps are set
    import numpy as np

    from vvipe_core.index import Kind

K = 10
BATCH = 1000
# Brute force works on chunks of queries so the (chunk, N) distance block stays near 64 MB.
BLOCK_ELEMENTS = 1 << 24

Search = Callable[["np.ndarray"], "np.ndarray"]  # queries (Q, D) -> ids (Q, K)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=2, help="for faiss, torch and BLAS")
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--ef-search", type=int, default=128, help="HNSW search breadth")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of repeats per timing")
    args = parser.parse_args()
    limit_blas_threads(args.threads)
    run(args)


def run(args: argparse.Namespace) -> None:
    import faiss
    import numpy as np
    import torch

    faiss.omp_set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    builders: dict[str, Callable[[np.ndarray], Search]] = {
        "faiss flat": lambda g: build_pose_index(g, "flat"),
        f"faiss hnsw (ef={args.ef_search})": lambda g: build_pose_index(
            g, "hnsw", ef_search=args.ef_search
        ),
        "torch matmul+topk": build_torch,
        "numpy matmul+argpartition": build_numpy,
    }

    print(f"{cpu_model()}, {os.cpu_count()} CPUs visible, {args.threads} threads, "
          f"D={args.dim}, k={K}, numpy {np.__version__}, torch {torch.__version__}, "
          f"faiss {faiss.__version__}\n")
    # A Markdown table, printed row by row: shows progress and pastes into docs/BENCHMARKS.md.
    print(f"| items | method | build (s) | 1 query (ms) | {BATCH} queries (ms) | recall@{K} |")
    print("|---:|---|---:|---:|---:|---:|", flush=True)
    rng = np.random.default_rng(0)
    for n in args.sizes:
        gallery = rng.standard_normal((n, args.dim), dtype=np.float32)
        queries = rng.standard_normal((BATCH, args.dim), dtype=np.float32)
        exact_ids = None
        for name, build in builders.items():
            start = time.perf_counter()
            search = build(gallery)
            build_s = time.perf_counter() - start
            single_s, batch_s, ids = measure(search, queries, args.budget)
            if exact_ids is None:  # faiss flat runs first: it is the reference
                exact_ids = ids
            print(f"| {n:,} | {name} | {build_s:.3f} | {single_s * 1e3:.3f} | "
                  f"{batch_s * 1e3:.1f} | {recall(ids, exact_ids):.3f} |", flush=True)


def measure(search: Search, queries: np.ndarray, budget: float) -> tuple[float, float, np.ndarray]:
    """Seconds per single query, seconds per batch, and the batch's result ids."""
    search(queries[:10])  # warm-up: lazy initialisation and first-call allocations
    single_s, _ = timed(lambda i: search(queries[i % len(queries)][None]), budget)
    batch_s, ids = timed(lambda _: search(queries), budget)
    return single_s, batch_s, ids


def timed(
    fn: Callable[[int], np.ndarray], budget: float, max_reps: int = 200
) -> tuple[float, np.ndarray]:
    """Mean seconds per call, repeating until the budget is spent, and the last call's result."""
    reps, start = 0, time.perf_counter()
    while reps == 0 or (reps < max_reps and time.perf_counter() - start < budget):
        result = fn(reps)
        reps += 1
    return (time.perf_counter() - start) / reps, result


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def recall(ids: np.ndarray, exact_ids: np.ndarray) -> float:
    hits = sum(len(set(a) & set(b)) for a, b in zip(ids.tolist(), exact_ids.tolist()))
    return hits / exact_ids.size


def build_pose_index(gallery: np.ndarray, kind: Kind, **options: int) -> Search:
    from vvipe_core.index import PoseIndex

    index = PoseIndex(gallery.shape[1], kind, **options)
    index.add(gallery)
    return lambda q: index.search(q, K)[1]


def build_torch(gallery: np.ndarray) -> Search:
    import torch

    g = torch.from_numpy(gallery)
    norms = (g * g).sum(1)
    chunk = max(1, BLOCK_ELEMENTS // len(g))

    def search(queries: np.ndarray) -> np.ndarray:
        q = torch.from_numpy(queries)
        # |q|^2 is the same along a row, so it does not change the ranking: left out.
        parts = [torch.topk(norms - 2 * (c @ g.T), K, largest=False) for c in q.split(chunk)]
        return torch.cat([p.indices for p in parts]).numpy()

    return search


def build_numpy(gallery: np.ndarray) -> Search:
    import numpy as np

    norms = np.einsum("nd,nd->n", gallery, gallery)
    chunk = max(1, BLOCK_ELEMENTS // len(gallery))

    def search(queries: np.ndarray) -> np.ndarray:
        parts = []
        for start in range(0, len(queries), chunk):
            d = norms - 2 * (queries[start:start + chunk] @ gallery.T)
            top = np.argpartition(d, K - 1, axis=1)[:, :K]  # unordered k smallest
            order = np.argsort(np.take_along_axis(d, top, axis=1), axis=1)
            parts.append(np.take_along_axis(top, order, axis=1))
        return np.concatenate(parts)

    return search


if __name__ == "__main__":
    main()
