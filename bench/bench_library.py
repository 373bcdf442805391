"""Pose library speed: indexing throughput (frames/s) and query latency on a large library.

Indexing runs the real path (MediaPipe detection + embed_2d + saving after each file) on the
test photos and a generated video, then on --videos videos with 1 and 2 worker processes
(the parallel run's time includes starting the workers and their MediaPipe). The query part fills a library with synthetic embeddings
(random normal, the model's size) and times save, open, the first search (which builds the
faiss index) and single queries, plus one query from a photo (detection + embedding + search).

    python -m bench.bench_library                        # from the repository root
    python -m bench.bench_library --size 100000 --video-frames 120 --threads 1
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from bench.threads import limit_blas_threads
from bench.timing import latencies_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="synthetic library size")
    parser.add_argument("--video-frames", type=int, default=120)
    parser.add_argument("--videos", type=int, default=4, help="for the 1 vs 2 workers rows")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="for torch, faiss and BLAS")
    parser.add_argument("--checkpoint", type=Path, default=None)
    args = parser.parse_args()
    limit_blas_threads(args.threads)
    run(args)


def run(args: argparse.Namespace) -> None:
    import faiss
    import numpy as np
    import torch

    from tests.media import PHOTOS, write_video
    from vvipe_core.api import VVIPE
    from vvipe_core.detect import PoseDetector
    from vvipe_core.library import Entry, PoseLibrary, embed_query, index_paths

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    model = VVIPE.load(args.checkpoint, device="cpu")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{args.threads} thread(s), D = {model.embedding_dim}, torch {torch.__version__}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp, PoseDetector() as detector:
        tmp = Path(tmp)
        photos, videos = tmp / "photos", tmp / "videos"
        photos.mkdir()
        videos.mkdir()
        for photo in PHOTOS:
            shutil.copy(photo, photos / photo.name)
        cycle = [PHOTOS[i % len(PHOTOS)] for i in range(args.video_frames)]
        write_video(videos / "clip.avi", cycle, size=(640, 480), fps=30)
        detector.detect(PHOTOS[0])  # MediaPipe's first call loads its graph: not timed
        for name, folder, frames in (("photos", photos, len(PHOTOS)),
                                     ("video 640×480", videos, args.video_frames)):
            start = time.perf_counter()
            report = index_paths(tmp / f"lib_{folder.name}", [folder], model, detector=detector)
            seconds = time.perf_counter() - start
            rows.append((f"index {name}: {frames} frames -> {report.size} poses",
                         f"{seconds:.2f} s = {frames / seconds:.1f} frames/s"))
        rows += worker_rows(tmp, args, model, detector)
        start = time.perf_counter()
        again = index_paths(tmp / "lib_videos", [videos], model, detector=detector)
        rows.append((f"re-index the unchanged video ({len(again.skipped)} file skipped)",
                     f"{(time.perf_counter() - start) * 1e3:.1f} ms"))

        rng = np.random.default_rng(0)
        library = PoseLibrary(tmp / "big", model.embedding_dim, "synthetic")
        entries = [Entry(f"video_{i // 1000}.mp4", i % 1000, (i % 1000) / 30, (0, 0, 1, 1), 0)
                   for i in range(args.size)]
        library.add(rng.normal(size=(args.size, model.embedding_dim)).astype(np.float32), entries)
        for label, step in (("save", library.save), ("open", lambda: PoseLibrary.open(tmp / "big"))):
            start = time.perf_counter()
            step()
            rows.append((f"{label} a {args.size:,}-pose library", f"{time.perf_counter() - start:.2f} s"))
        queries = rng.normal(size=(args.queries, model.embedding_dim)).astype(np.float32)
        start = time.perf_counter()
        library.search(queries[0], 10)
        rows.append((f"first search of {args.size:,} (builds the exact faiss index)",
                     f"{(time.perf_counter() - start) * 1e3:.1f} ms"))
        times_ms = latencies_ms(lambda query: library.search(query, 10), queries)
        rows.append((f"query, k = 10, {args.size:,} poses: median / p90 of {args.queries}",
                     f"{np.median(times_ms):.2f} / {np.percentile(times_ms, 90):.2f} ms"))
        start = time.perf_counter()
        library.search(embed_query(model, PHOTOS[1], detector), 10)
        rows.append(("query from a photo (detection + embedding + search)",
                     f"{(time.perf_counter() - start) * 1e3:.0f} ms"))
    print("| measure | result |\n| --- | --- |")
    for measure, result in rows:
        print(f"| {measure} | {result} |")


def worker_rows(tmp: Path, args: argparse.Namespace, model, detector) -> list[tuple[str, str]]:
    """The same videos indexed by this process and by two worker processes."""
    from tests.media import PHOTOS, write_video
    from vvipe_core.library import index_paths

    folder = tmp / "many"
    folder.mkdir()
    frames = args.video_frames // args.videos
    for v in range(args.videos):
        write_video(folder / f"clip{v}.avi", [PHOTOS[(i + v) % len(PHOTOS)] for i in range(frames)],
                    size=(640, 480), fps=30)
    rows, total = [], frames * args.videos
    for workers in (1, 2):
        start = time.perf_counter()
        report = index_paths(tmp / f"lib_workers{workers}", [folder], model,
                             detector=detector if workers == 1 else None, workers=workers)
        seconds = time.perf_counter() - start
        rows.append(((f"index {args.videos} videos 640×480, {total} frames -> {report.size} poses,"
                     f" {workers} worker(s)"), f"{seconds:.2f} s = {total / seconds:.1f} frames/s"))
    return rows


if __name__ == "__main__":
    main()
