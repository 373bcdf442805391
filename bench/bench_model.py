"""Model benchmark: batched lifting throughput and single-pose latency on CPU, next to the
machine's own float32 matmul rate measured in the same run, and training time per step/epoch;
then the same for each mapping-network architecture (untrained weights of the right shapes).

    python -m bench.bench_model [--checkpoint FILE] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

# Mapping networks compared at equal single-pose latency (model-config changes to the checkpoint's).
ARCHITECTURES = {
    "MLP 512x2, 1 network": {"mappers": 1},
    "MLP 512x2, 3 averaged": {"mappers": 3},
    "MLP 1024x2, 1 network": {"mappers": 1, "mapper_width": 1024},
    "GCN 128x2, 1 network": {"mappers": 1, "mapper_arch": "gcn", "mapper_width": 128},
    "GCN 64x2, 3 averaged": {"mappers": 3, "mapper_arch": "gcn", "mapper_width": 64},
}


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
    parser.add_argument("--budget-s", type=float, default=1.0, help="Timing budget per row.")
    parser.add_argument("--batch", type=int, default=1024, help="Batch of the architecture rows.")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    from tests.helpers import SMALL_POSES
    from vvipe_core import VVIPE, checkpoint
    from vvipe_core.cameras import SEEN, project, sample_cameras
    from vvipe_core.data import load_poses
    from vvipe_core.models import build_mapper
    from vvipe_core.train import Trainer

    torch.set_num_threads(args.threads)
    model = VVIPE.load(args.checkpoint, device="cpu")
    poses = load_poses(SMALL_POSES).poses
    kp = project(poses, sample_cameras(poses[:, 0], SEEN, 0))

    n = 4096
    a = torch.randn(n, n)
    matmul_s = _rate(lambda: a @ a, args.budget_s)
    gflops = 2 * n**3 / matmul_s / 1e9
    params = sum(p.numel() for m in (model.mapper, model.vae.decoder) for p in m.parameters())
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {args.threads} thread(s)")
    print(f"# model: {model.source}, mapper+decoder {params / 1e6:.2f} M parameters")
    print("| measurement | value | note |\n|---|---:|---|")
    print(f"| float32 matmul {n}x{n} | {gflops:.1f} GFLOP/s | machine reference |")
    for batch in (1, 64, 1024, 8192):
        kb = np.resize(kp, (batch, 17, 2))
        s = _rate(lambda kb=kb: model.lift(kb), args.budget_s)
        flops = 2 * params * batch / s / 1e9  # matmul FLOPs of mapper + decoder forward
        label = "single-pose latency" if batch == 1 else f"lift, batch {batch}"
        value = f"{s * 1e3:.2f} ms" if batch == 1 else f"{batch / s:,.0f} poses/s"
        print(f"| {label} | {value} | {flops:.1f} GFLOP/s = {100 * flops / gflops:.0f}% of matmul |")

    # The checkpoint's own training recipe (ensemble, triplets, augmentation) on small data.
    cfg = model.config.replace(train_data=str(SMALL_POSES), val_data=str(SMALL_POSES), device="cpu")
    for stage in ("vae", "mapper"):
        per_step = _train_step_s(Trainer(cfg, "/tmp/bench_model.pt"), stage, args.train_steps)
        print(f"| train {stage}, batch {cfg.batch_size} | {per_step * 1e3:.0f} ms/step | "
              f"{per_step * STEPS_PER_EPOCH / 60:.1f} min per epoch of the train split |")

    print(f"\n| mapping network | parameters | single-pose lift | with flip | lift, batch "
          f"{args.batch} | mapper train step | mapper epoch |\n|---|---:|---:|---:|---:|---:|---:|")
    kb = np.resize(kp, (args.batch, 17, 2))
    for name, arch in ARCHITECTURES.items():
        arch_cfg = cfg.replace(model=arch)
        mapper = build_mapper(arch_cfg.model)
        variant = VVIPE(checkpoint.build(arch_cfg.to_dict(), model.vae.state_dict(),
                                         mapper.state_dict()), device="cpu")
        single = _rate(lambda v=variant: v.lift(kp[:1]), args.budget_s)
        flip = _rate(lambda v=variant: v.lift(kp[:1], flip=True), args.budget_s)
        batch = _rate(lambda v=variant: v.lift(kb), args.budget_s)
        per_step = _train_step_s(Trainer(arch_cfg, "/tmp/bench_model.pt"), "mapper", args.train_steps)
        n_params = sum(p.numel() for p in mapper.parameters())
        print(f"| {name} | {n_params / 1e6:.2f} M | {single * 1e3:.2f} ms | {flip * 1e3:.2f} ms | "
              f"{args.batch / batch:,.0f} poses/s | {per_step * 1e3:.0f} ms | "
              f"{per_step * STEPS_PER_EPOCH / 60:.1f} min |")


STEPS_PER_EPOCH = 248_275 // 256  # the train split at the shipped batch size


def _train_step_s(trainer, stage: str, steps: int) -> float:
    """Seconds per training step of `stage`, batches prepared beforehand."""
    trainer.opt = trainer._optimiser(stage)
    trainer._set_modes(stage)
    step = trainer._vae_step if stage == "vae" else trainer._mapper_step
    batches = [trainer._batch(stage, 0, i % 2) for i in range(steps)]
    t = time.perf_counter()
    for i, (world, rng) in enumerate(batches):
        step(world, rng, i)
    return (time.perf_counter() - t) / steps


if __name__ == "__main__":
    main()
