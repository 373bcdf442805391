"""Training steps per second with 1 and N data-parallel processes (torchrun, gloo on the CPU).

Each row launches `torchrun --standalone --nproc_per_node=N` on this script's worker, which
trains one stage for --steps steps of the config's global batch and times the steps from the
end of the first one to the end of the last (start-up, data loading, validation and saving are
not counted). The 1-process row, measured in the same run, is the reference.

    python -m bench.bench_distributed                    # from the repository root
    python -m bench.bench_distributed --config configs/mapper/mlp1.toml --steps 200 --processes 1,2
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs/mapper/mlp1.toml")
    parser.add_argument("--vae-from", type=Path, default=ROOT / "checkpoints/vvipe.pt",
                        help="the VAE the mapper stage trains against")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--processes", default="1,2", help="comma-separated process counts")
    parser.add_argument("--stages", default="vae,mapper")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # its result file
    args = parser.parse_args()
    if args.worker is not None:
        worker(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    import platform

    import torch

    counts = [int(n) for n in args.processes.split(",")]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} "
          f"torch thread(s) per process, torch {torch.__version__}, {args.config.name}, "
          f"{args.steps} steps; load average before: {os.getloadavg()[0]:.1f}")
    print("\n| stage | processes | global batch | steps/s | poses/s | vs 1 process |")
    print("|---|---:|---:|---:|---:|---:|")
    for stage in args.stages.split(","):
        reference = None
        for n in counts:
            result = _launch(args, stage, n)
            reference = reference or result["steps_per_s"]
            print(f"| {stage} | {n} | {result['batch']} | {result['steps_per_s']:.2f} | "
                  f"{result['steps_per_s'] * result['batch']:,.0f} | "
                  f"{result['steps_per_s'] / reference:.2f}x |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


def _launch(args: argparse.Namespace, stage: str, n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result_file = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={n}", "-m", "bench.bench_distributed", "--worker", str(result_file),
                   "--config", str(args.config), "--vae-from", str(args.vae_from),
                   "--steps", str(args.steps), "--stages", stage, "--threads", str(args.threads)]
        env = os.environ | {"OMP_NUM_THREADS": str(args.threads)}
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        return json.loads(result_file.read_text())


def worker(args: argparse.Namespace) -> None:
    """Under torchrun: train `args.stages` (one stage) and, on the first process, write the
    step rate to the file `args.worker`."""
    import torch

    from vvipe_core import distributed
    from vvipe_core.atomic import write_text
    from vvipe_core.config import TrainConfig
    from vvipe_core.train import Trainer

    torch.set_num_threads(args.threads)
    cfg = TrainConfig.from_file(args.config).replace(
        device="cpu", steps_per_epoch=args.steps, vae_epochs=1, mapper_epochs=1, val_poses=100)
    with tempfile.TemporaryDirectory() as tmp:
        stage = args.stages
        trainer = Trainer(cfg, Path(tmp) / "run.pt",
                          vae_from=args.vae_from if stage == "mapper" else None)
        done = {}  # steps done -> seconds since the start
        trainer.run((stage,), callback=lambda e: e.val is None and done.setdefault(e.step, e.elapsed_s))
    if distributed.rank() == 0:
        first, last = min(done), max(done)
        rate = (last - first) / (done[last] - done[first])
        write_text(args.worker, json.dumps({"steps_per_s": rate, "batch": cfg.batch_size}))


if __name__ == "__main__":
    main()
