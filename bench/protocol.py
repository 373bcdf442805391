"""The paper-protocol comparison: train every protocol model on the train split with the
"seen" cameras only, evaluate all of them on the val split with the same harness, and write
docs/results/protocol.json, the tables of docs/RESULTS.md and the elevation plot.

    python -m bench.protocol                 # train what is missing, evaluate, report
    python -m bench.protocol --train vvipe   # train one model only (run two at once on 2 cores)
    python -m bench.protocol --report        # tables and plot from the saved JSON only
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "protocol"
RUNS = ROOT / "runs" / "protocol"
RESULTS = ROOT / "docs" / "results"
VAL = "../shared/data/cmu_h36m17_val.npz"

# name -> (how it is trained, config file, label in the tables)
MODELS = {
    "2d": (None, None, "2D keypoints, nearest neighbour (no learning)"),
    "vvipe": ("vvipe", "vvipe.toml", "V-VIPE (full realignment, triplet, pretrained VAE)"),
    "no_realign": ("vvipe", "no_realign.toml", "V-VIPE without rotation realignment"),
    "yaw_realign": ("vvipe", "yaw_realign.toml", "V-VIPE with yaw-only realignment"),
    "no_triplet": ("vvipe", "no_triplet.toml", "V-VIPE without triplet loss"),
    "no_pretrain": ("vvipe", "no_pretrain.toml", "V-VIPE without pretraining (decoder trained with the mapper)"),
    "prvipe": ("prvipe", "baseline.toml", "Pr-VIPE-style probabilistic embedding"),
    "lifter": ("lifter", "baseline.toml", "Lift-then-compare (direct 2D → 3D regressor)"),
}
ELEVATIONS = [(-30, -10), (-10, 10), (10, 30), (30, 50), (50, 70), (70, 85)]
SWEEP_MODELS = ("vvipe", "prvipe", "2d")


def checkpoint_path(name: str) -> Path:
    return RUNS / f"{name}.pt"


def train(name: str) -> None:
    from vvipe_core.baselines import train_baseline
    from vvipe_core.config import TrainConfig
    from vvipe_core.train import Trainer

    kind, config, _ = MODELS[name]
    cfg = TrainConfig.from_file(CONFIGS / config)
    out = checkpoint_path(name)
    print(f"training {name} -> {out}", flush=True)
    if kind == "vvipe":
        Trainer(cfg, out).run()
    else:
        train_baseline(kind, cfg, out)


def method_for(name: str):
    from vvipe_core import VVIPE
    from vvipe_core.baselines import BaselineModel
    from vvipe_core.evaluation import Keypoints2DMethod, ModelMethod

    kind = MODELS[name][0]
    if kind is None:
        return Keypoints2DMethod(), "full"
    model = VVIPE.load(checkpoint_path(name), device="cpu") if kind == "vvipe" \
        else BaselineModel(checkpoint_path(name))
    return ModelMethod(model, name), model.realign


def evaluate_all(max_poses: int | None) -> dict:
    from vvipe_core.cameras import SEEN
    from vvipe_core.data import load_poses
    from vvipe_core.evaluation import EvalOptions, evaluate

    poses = load_poses(ROOT / VAL).poses
    results = {}
    for name in MODELS:
        if MODELS[name][0] and not checkpoint_path(name).exists():
            print(f"skipping {name}: not trained")
            continue
        method, realign = method_for(name)
        results[name] = {}
        for noise in (0.0, 5.0):
            opts = EvalOptions(noise_px=noise, max_poses=max_poses)
            results[name][f"noise_{noise:g}"] = evaluate(poses, method, opts, realign)
            print(name, noise, results[name][f"noise_{noise:g}"]["retrieval"], flush=True)
        if name in SWEEP_MODELS:
            sets = {f"elev_{lo}_{hi}": SEEN.__class__(elevation=(lo, hi)) for lo, hi in ELEVATIONS}
            opts = EvalOptions(cameras=(), max_poses=max_poses)
            results[name]["elevation_sweep"] = evaluate(poses, method, opts, realign, extra_sets=sets)
    return results


def _hits(result: dict, cameras: str) -> str:
    return " / ".join(f"{100 * result['retrieval'][cameras][k]:.1f}" for k in ("hit@1", "hit@10", "hit@20"))


def report(results: dict) -> str:
    header = ("| method | seen Hit@1 / @10 / @20 | unseen Hit@1 / @10 / @20 | seen, 5 px noise Hit@1 "
              "| unseen, 5 px noise Hit@1 | PA-MPJPE seen / unseen (mm) | MPJPE seen / unseen (mm) |")
    rows = [header, "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        clean, noisy = r["noise_0"], r["noise_5"]
        lift = clean.get("lifting")
        pa = f"{lift['seen']['pa_mpjpe_mm']:.1f} / {lift['unseen']['pa_mpjpe_mm']:.1f}" if lift else "–"
        mp = f"{lift['seen']['mpjpe_mm']:.1f} / {lift['unseen']['mpjpe_mm']:.1f}" if lift else "–"
        rows.append(f"| {MODELS[name][2]} | {_hits(clean, 'seen')} | {_hits(clean, 'unseen')} | "
                    f"{100 * noisy['retrieval']['seen']['hit@1']:.1f} | "
                    f"{100 * noisy['retrieval']['unseen']['hit@1']:.1f} | {pa} | {mp} |")
    return "\n".join(rows)


def plot(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    centres = [(lo + hi) / 2 for lo, hi in ELEVATIONS]
    for name in SWEEP_MODELS:
        if "elevation_sweep" not in results.get(name, {}):
            continue
        sweep = results[name]["elevation_sweep"]["retrieval"]
        ax.plot(centres, [100 * sweep[f"elev_{lo}_{hi}"]["hit@1"] for lo, hi in ELEVATIONS],
                marker="o", label=MODELS[name][2].split(" (")[0])
    ax.axvspan(-30, 30, color="0.9", zorder=0, label="training elevations")
    ax.set_xlabel("camera elevation (degrees, bin centre)")
    ax.set_ylabel("Hit@1 (%)")
    ax.set_title("Cross-view retrieval on the val split, 4 views")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", nargs="*", help="train only these models")
    parser.add_argument("--report", action="store_true", help="report from the saved JSON")
    parser.add_argument("--max-poses", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.train is not None:
        for name in args.train:
            train(name)
        return
    saved = RESULTS / "protocol.json"
    if args.report:
        results = json.loads(saved.read_text())
    else:
        for name, (kind, _, _) in MODELS.items():
            if kind and not checkpoint_path(name).exists():
                train(name)
        results = evaluate_all(args.max_poses)
        from vvipe_core.atomic import write_text

        write_text(saved, json.dumps(results, indent=1) + "\n")
    print(report(results))
    plot(results, RESULTS / "hit1_vs_elevation.png")
    print(f"plot: {RESULTS / 'hit1_vs_elevation.png'}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
