"""The paper-protocol comparison: train every protocol model on the train split with the
"seen" cameras only, several seeds each, evaluate all of them on the val split with the same
harness, and write docs/results/protocol.json, the tables of docs/RESULTS.md and the elevation
plot.

    python -m bench.protocol --max-poses 8000       # train and evaluate what is missing, report
    python -m bench.protocol --train vvipe:1 prvipe:2  # train these (name:seed) only
    python -m bench.protocol --evaluate-trained     # evaluate what is trained, train nothing
    python -m bench.protocol --only vvipe lifter    # these methods only (parallel processes)
    python -m bench.protocol --report               # tables and plot from the saved JSON only

protocol.json: {method: {"noise_0": result, "noise_5": result, "per_seed": [{"seed": s,
"noise_0": result, "noise_5": result, "train": {"steps": n, "wall_s": t}}, ...]}}, the top-level
results being the mean over the seeds. A method's seeds missing from the JSON are what a run
trains (when their checkpoint is missing) and evaluates.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "protocol"
RUNS = ROOT / "runs" / "protocol"
RESULTS = ROOT / "docs" / "results"
VAL = "../shared/data/cmu_h36m17_val.npz"
NOISES = (0.0, 5.0)


@dataclass(frozen=True)
class Entry:
    kind: str | None  # how it trains: vvipe | lifter | prvipe | None (no learning)
    config: str | None
    label: str
    seeds: int = 1
    models_of: str | None = None  # evaluates another entry's trained models (another retrieval)


MODELS = {
    "2d": Entry(None, None, "2D keypoints, nearest neighbour (no learning)"),
    "vvipe": Entry("vvipe", "vvipe.toml", "V-VIPE (full realignment, triplet, pretrained VAE)", 5),
    "no_realign": Entry("vvipe", "no_realign.toml", "V-VIPE without rotation realignment", seeds=2),
    "yaw_realign": Entry("vvipe", "yaw_realign.toml", "V-VIPE with yaw-only realignment", seeds=2),
    "no_triplet": Entry("vvipe", "no_triplet.toml", "V-VIPE without triplet loss", seeds=3),
    "no_pretrain": Entry("vvipe", "no_pretrain.toml",
                         "V-VIPE without pretraining (decoder trained with the mapper)", seeds=3),
    "prvipe": Entry("prvipe", "prvipe.toml", "Pr-VIPE (official recipe), nearest embedding mean", 3),
    "prvipe_samples": Entry("prvipe", "prvipe.toml", "Pr-VIPE, sample distance", 3, models_of="prvipe"),
    "lifter": Entry("lifter", "baseline.toml", "Lift-then-compare (direct 2D → 3D regressor)", 3),
}
ELEVATIONS = [(-30, -10), (-10, 10), (10, 30), (30, 50), (50, 70), (70, 85)]
SWEEP_MODELS = ("vvipe", "prvipe", "2d")  # swept for their first seed only


def checkpoint_path(name: str, seed: int) -> Path:
    return RUNS / f"{MODELS[name].models_of or name}_s{seed}.pt"


def _train_record(name: str, seed: int) -> Path:
    """Steps and wall seconds of a training, beside its checkpoint."""
    return checkpoint_path(name, seed).with_suffix(".json")


def trained(name: str, seed: int) -> bool:
    return MODELS[name].kind is None or _train_record(name, seed).exists()


def train(name: str, seed: int) -> None:
    from vvipe_core.atomic import write_text
    from vvipe_core.baselines import BaselineModel, train_baseline
    from vvipe_core.config import TrainConfig
    from vvipe_core.train import Trainer

    entry = MODELS[name]
    cfg = TrainConfig.from_file(CONFIGS / entry.config).replace(seed=seed)
    out = checkpoint_path(name, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"training {name} seed {seed} -> {out}", flush=True)
    start = time.monotonic()
    if entry.kind == "vvipe":
        trainer = Trainer(cfg, out)
        trainer.run()
        stages = (cfg.vae_epochs if cfg.pretrained_vae else 0) + cfg.mapper_epochs
        record = {"steps": stages * trainer.steps_per_epoch(), "wall_s": time.monotonic() - start}
    else:
        train_baseline(entry.kind, cfg, out, callback=_log_validation)
        model = BaselineModel(out)  # Pr-VIPE resumes: the model counts its own steps and time
        record = {"steps": model.steps, "wall_s": model.train_s}
    write_text(_train_record(name, seed), json.dumps(record) + "\n")


def _log_validation(event) -> None:
    if event.val:
        print(f"  period {event.epoch}: val {event.val}, {event.elapsed_s:.0f} s", flush=True)


def method_for(name: str, seed: int):
    from vvipe_core import VVIPE
    from vvipe_core.baselines import BaselineModel, SampleDistanceMethod
    from vvipe_core.evaluation import Keypoints2DMethod, ModelMethod

    entry = MODELS[name]
    if entry.kind is None:
        return Keypoints2DMethod(), "full"
    if entry.kind == "vvipe":
        model = VVIPE.load(checkpoint_path(name, seed), device="cpu")
        return ModelMethod(model, name), model.realign
    model = BaselineModel(checkpoint_path(name, seed))
    if entry.models_of:
        return SampleDistanceMethod(model, seed=seed), model.realign
    return ModelMethod(model, name), model.realign


def evaluate_seed(name: str, seed: int, poses: np.ndarray, max_poses: int | None) -> dict:
    from vvipe_core.evaluation import EvalOptions, evaluate

    method, realign = method_for(name, seed)
    entry = {"seed": seed}
    for noise in NOISES:
        result = evaluate(poses, method, EvalOptions(noise_px=noise, max_poses=max_poses), realign)
        entry[f"noise_{noise:g}"] = result
        print(name, seed, noise, result["retrieval"], flush=True)
    if MODELS[name].kind:
        entry["train"] = json.loads(_train_record(name, seed).read_text())
    return entry


def elevation_sweep(name: str, poses: np.ndarray, max_poses: int | None) -> dict:
    from vvipe_core.cameras import CameraRanges
    from vvipe_core.evaluation import EvalOptions, evaluate

    method, realign = method_for(name, 0)
    sets = {f"elev_{lo}_{hi}": CameraRanges(elevation=(lo, hi)) for lo, hi in ELEVATIONS}
    return evaluate(poses, method, EvalOptions(cameras=(), max_poses=max_poses), realign, extra_sets=sets)


def mean_result(results: list):
    """The mean over seeds of every number in the results (other values from the first); keys
    that not every seed's result has (a field the harness gained later) are left out."""
    first = results[0]
    if isinstance(first, dict):
        return {k: mean_result([r[k] for r in results]) for k in first if all(k in r for r in results)}
    if isinstance(first, float):
        return float(np.mean(results))
    return first


def _evaluation_record(name: str, seed: int | str) -> Path:
    """One (method, seed) evaluation, kept beside the checkpoints: runs in parallel processes
    (each with --only) never lose each other's work; a last run gathers them into the JSON."""
    return RUNS / f"{name}_s{seed}.eval.json"


def run(saved: Path, max_poses: int | None, train_missing: bool = True,
        only: tuple[str, ...] | None = None) -> dict:
    """Train and evaluate every (method, seed) missing from the saved results (`only` these
    methods, NAME or NAME:SEED, when given); saves after each. Without `train_missing`, evaluates only what is
    trained already."""
    from vvipe_core.atomic import write_text
    from vvipe_core.data import load_poses

    results = json.loads(saved.read_text()) if saved.exists() else {}
    poses = None

    def save():
        write_text(saved, json.dumps(results, indent=1) + "\n")

    for name, entry in MODELS.items():
        done = {s["seed"] for s in results.get(name, {}).get("per_seed", [])}
        for seed in range(entry.seeds):
            if seed in done or not (train_missing or trained(name, seed)):
                continue
            if only and not {name, f"{name}:{seed}"} & set(only):
                continue
            record = _evaluation_record(name, seed)
            if not record.exists():
                if not trained(name, seed):
                    train(name, seed)
                poses = load_poses(ROOT / VAL).poses if poses is None else poses
                write_text(record, json.dumps(evaluate_seed(name, seed, poses, max_poses)) + "\n")
            per_seed = results.setdefault(name, {}).setdefault("per_seed", [])
            per_seed.append(json.loads(record.read_text()))
            per_seed.sort(key=lambda s: s["seed"])
            for noise in NOISES:
                key = f"noise_{noise:g}"
                results[name][key] = mean_result([s[key] for s in per_seed])
            save()
    for name in SWEEP_MODELS:
        if only and name not in only:
            continue
        if name in results and trained(name, 0) and "elevation_sweep" not in results[name]:
            record = _evaluation_record(name, "sweep")
            if not record.exists():
                poses = load_poses(ROOT / VAL).poses if poses is None else poses
                write_text(record, json.dumps(elevation_sweep(name, poses, max_poses)) + "\n")
            results[name]["elevation_sweep"] = json.loads(record.read_text())
            save()
    return results


def _stats(result: dict, path: tuple[str, ...], scale: float = 100.0) -> tuple[float, float | None]:
    """Mean and standard deviation (None for one seed) over the seeds of one number."""
    values = []
    for s in result["per_seed"]:
        v = s
        for key in path:
            v = v[key]
        values.append(scale * v)
    return float(np.mean(values)), (float(np.std(values, ddof=1)) if len(values) > 1 else None)


def _pm(stats: tuple[float, float | None]) -> str:
    mean, std = stats
    return f"{mean:.1f}" if std is None else f"{mean:.1f} ± {std:.1f}"


HIT1 = {
    "seen Hit@1": ("noise_0", "retrieval", "seen", "hit@1"),
    "unseen Hit@1": ("noise_0", "retrieval", "unseen", "hit@1"),
    "seen, 5 px noise Hit@1": ("noise_5", "retrieval", "seen", "hit@1"),
    "unseen, 5 px noise Hit@1": ("noise_5", "retrieval", "unseen", "hit@1"),
}


def report(results: dict) -> str:
    cols = ["method", "seeds", *HIT1, "seen / unseen Hit@10, @20", "PA-MPJPE seen / unseen (mm)",
            "training steps", "training wall time"]
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name in (n for n in MODELS if "per_seed" in results.get(n, {})):
        r = results[name]
        clean = r["noise_0"]
        tens = " / ".join(" , ".join(f"{100 * clean['retrieval'][c][k]:.1f}" for k in ("hit@10", "hit@20"))
                          for c in ("seen", "unseen")).replace(" , ", ", ")
        lift = ("lifting" in clean) and " / ".join(
            _pm(_stats(r, ("noise_0", "lifting", c, "pa_mpjpe_mm"), 1.0)) for c in ("seen", "unseen"))
        trains = [s["train"] for s in r["per_seed"] if "train" in s]
        steps = f"{trains[0]['steps']:,}" if trains else "–"
        walls = [t["wall_s"] / 60 for t in trains if t.get("wall_s")]
        wall = f"{np.mean(walls):.0f} min" if walls else "–"
        rows.append(f"| {MODELS[name].label} | {len(r['per_seed'])} | "
                    + " | ".join(_pm(_stats(r, path)) for path in HIT1.values())
                    + f" | {tens} | {lift or '–'} | {steps} | {wall} |")
    return "\n".join(rows)


# (claim, method a, method b, column): a claim "holds" when a beats b by more than twice the
# larger of their seed standard deviations.
CLAIMS = [
    ("V-VIPE beats lift-then-compare on unseen cameras", "vvipe", "lifter", "unseen Hit@1"),
    ("V-VIPE beats Pr-VIPE on unseen cameras", "vvipe", "prvipe", "unseen Hit@1"),
    ("Pr-VIPE beats the 2D nearest neighbour on seen cameras", "prvipe", "2d", "seen Hit@1"),
    ("Pr-VIPE (sample distance) beats the 2D nearest neighbour on seen cameras", "prvipe_samples",
     "2d", "seen Hit@1"),
    ("Pr-VIPE beats V-VIPE on seen cameras (the paper's in-domain result)", "prvipe", "vvipe",
     "seen Hit@1"),
    ("Rotation realignment helps on unseen cameras", "vvipe", "no_realign", "unseen Hit@1"),
    ("Full realignment beats yaw-only on unseen cameras", "vvipe", "yaw_realign", "unseen Hit@1"),
    ("Pretraining helps on unseen cameras", "vvipe", "no_pretrain", "unseen Hit@1"),
    ("The triplet loss helps on unseen cameras", "vvipe", "no_triplet", "unseen Hit@1"),
]


def claims(results: dict) -> str:
    """The claims table. A learned method with one seed borrows the other side's seed spread
    (said in the verdict); the 2D nearest neighbour learns nothing, so its spread is 0."""
    rows = ["| claim | column | a | b | gap | 2 × spread | verdict |", "|---|---|---|---|---|---|---|"]
    for text, a, b, col in CLAIMS:
        if a not in results or b not in results:
            continue
        (ma, sa), (mb, sb) = (_stats(results[n], HIT1[col]) for n in (a, b))
        known = [0.0 if n == "2d" else s for n, s in ((a, sa), (b, sb)) if n == "2d" or s is not None]
        gap = ma - mb
        if not known:
            verdict, twice = "one seed each: no spread to judge by", "–"
        else:
            spread = max(known)
            verdict = ("**holds**" if gap > 2 * spread else "reversed" if gap < -2 * spread
                       else "within noise")
            if len(known) == 1:
                verdict += " (one seed: judged by the other's spread)"
            twice = f"{2 * spread:.1f}"
        rows.append(f"| {text} | {col} | {_pm((ma, sa))} | {_pm((mb, sb))} | {gap:+.1f} | {twice} | {verdict} |")
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
                marker="o", label=MODELS[name].label.split(" (")[0].split(",")[0])
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
    parser.add_argument("--train", nargs="*", metavar="NAME:SEED", help="train only these")
    parser.add_argument("--report", action="store_true", help="report from the saved JSON")
    parser.add_argument("--evaluate-trained", action="store_true",
                        help="evaluate the trained models missing from the JSON; train nothing")
    parser.add_argument("--only", nargs="+", metavar="NAME[:SEED]", help="these methods (seeds) only")
    parser.add_argument("--max-poses", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    jobs = [job.split(":") for job in args.train or []]
    bad = [":".join(j) for j in jobs if len(j) != 2 or j[0] not in MODELS or not j[1].isdigit()]
    bad += [o for o in args.only or [] if o.split(":")[0] not in MODELS]
    if bad:
        parser.error(f"--train and --only take NAME:SEED (--only also NAME) with NAME one of "
                     f"{', '.join(MODELS)}; got {', '.join(bad)}")
    import torch

    torch.set_num_threads(args.threads)
    if args.train is not None:
        for name, seed in jobs:
            train(name, int(seed))
        return
    saved = RESULTS / "protocol.json"
    results = (json.loads(saved.read_text()) if args.report
               else run(saved, args.max_poses, not args.evaluate_trained, args.only and tuple(args.only)))
    print(report(results))
    print()
    print(claims(results))
    plot(results, RESULTS / "hit1_vs_elevation.png")
    print(f"plot: {RESULTS / 'hit1_vs_elevation.png'}")


if __name__ == "__main__":
    main()
