"""Model benchmark: batched lifting throughput and single-pose latency on CPU, next to the
machine's own float32 matmul rate measured in the same run, and training time per step/epoch.

    python -m bench.bench_model [--checkpoint FILE] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def _rate(fn, budget_s: float = 1.0) -> float:
    """Seconds per call: best of repeated timing rounds within a time budget."""
    fn()
    best, spent = float("inf"), 0.0
    while spent < budget_s:
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best, spent = min(best, dt), spent + dt
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-steps", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    from tests.helpers import SMALL_POSES
    from vvipe_core import VVIPE
    from vvipe_core.cameras import SEEN, project, sample_cameras
    from vvipe_core.data import load_poses
    from vvipe_core.train import Trainer

    torch.set_num_threads(args.threads)
    model = VVIPE.load(args.checkpoint, device="cpu")
    poses = load_poses(SMALL_POSES).poses
    kp = project(poses, sample_cameras(poses[:, 0], SEEN, 0))

    n = 4096
    a = torch.randn(n, n)
    matmul_s = _rate(lambda: a @ a)
    gflops = 2 * n**3 / matmul_s / 1e9
    params = sum(p.numel() for m in (model.mapper, model.vae.decoder) for p in m.parameters())
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {args.threads} thread(s)")
    print(f"# model: {model.source}, mapper+decoder {params / 1e6:.2f} M parameters")
    print("| measurement | value | note |\n|---|---:|---|")
    print(f"| float32 matmul {n}x{n} | {gflops:.1f} GFLOP/s | machine reference |")
    for batch in (1, 64, 1024, 8192):
        kb = np.resize(kp, (batch, 17, 2))
        s = _rate(lambda kb=kb: model.lift(kb))
        flops = 2 * params * batch / s / 1e9  # matmul FLOPs of mapper + decoder forward
        label = "single-pose latency" if batch == 1 else f"lift, batch {batch}"
        value = f"{s * 1e3:.2f} ms" if batch == 1 else f"{batch / s:,.0f} poses/s"
        print(f"| {label} | {value} | {flops:.1f} GFLOP/s = {100 * flops / gflops:.0f}% of matmul |")

    # The checkpoint's own training recipe (ensemble, triplets, augmentation) on small data.
    cfg = model.config.replace(train_data=str(SMALL_POSES), val_data=str(SMALL_POSES), device="cpu")
    trainer = Trainer(cfg, "/tmp/bench_model.pt")
    steps_per_epoch_full = 248_275 // cfg.batch_size
    for stage, step in (("vae", trainer._vae_step), ("mapper", trainer._mapper_step)):
        trainer.opt = trainer._optimiser(stage)
        trainer._set_modes(stage)
        batches = [trainer._batch(stage, 0, i % 2) for i in range(args.train_steps)]
        t = time.perf_counter()
        for i, (world, rng) in enumerate(batches):
            step(world, rng, i)
        per_step = (time.perf_counter() - t) / args.train_steps
        print(f"| train {stage}, batch {cfg.batch_size} | {per_step * 1e3:.0f} ms/step | "
              f"{per_step * steps_per_epoch_full / 60:.1f} min per epoch of the train split |")


if __name__ == "__main__":
    main()
