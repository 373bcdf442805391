"""Activity classification by person: train on the train split, score on the val split.

For each feature (V-VIPE embedding, normalised 2D keypoints, canonical 3D joints) and method
(kNN, MLP probe), single poses and windows of consecutive poses, read from 3D poses and from 2D
projections through the protocol's seen and unseen cameras. Writes
docs/results/classification.json, two confusion-matrix PNGs, and prints Markdown tables.

    python -m bench.classify_eval                      # about 5 minutes on 2 shared cores
    python -m bench.classify_eval --report             # tables and PNGs from the saved JSON
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
TRAIN = "../shared/data/cmu_h36m17_train.npz"
VAL = "../shared/data/cmu_h36m17_val.npz"
INPUTS = ("3d", "seen", "unseen")
LABELS = {"3d": "3D poses", "seen": "2D, seen cameras", "unseen": "2D, unseen cameras"}
FEATURE_NAMES = {
    "embedding": "V-VIPE embedding",
    "keypoints2d": "normalised 2D keypoints",
    "canonical3d": "canonical 3D joints (2D input: V-VIPE lift)",
}
HEADER = ("| input | feature | kNN top-1 | kNN top-3 | kNN balanced "
          "| probe top-1 | probe top-3 | probe balanced |")
CI_HEADER = "| input | feature | single top-1 | single balanced | windows top-1 | windows balanced |"
SHIPPED_METHOD = "probe"  # the method of assets/activity_classifier.npz, plotted below
BOOTSTRAP = 1000
BASELINES = ("keypoints2d", "canonical3d")


def scores(pred, truth: np.ndarray, classes: tuple[str, ...], takes: np.ndarray
           ) -> tuple[dict, np.ndarray]:
    """top-1, top-3, balanced accuracy (mean recall over the classes present), confusion, and
    95 % intervals of top-1 and balanced accuracy from resampling whole takes (poses of one take
    are far from independent, and labels are per take). Also returns the resampled (top-1,
    balanced) pairs, (BOOTSTRAP, 2): every row draws the same resamples, so rows can be compared
    pairwise."""
    t = np.searchsorted(classes, truth)
    top = pred.top_indices(3)
    hit1 = pred.valid & (top[:, 0] == t)
    present = np.unique(t)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (t[pred.valid], top[pred.valid, 0]), 1)
    # per take and class: examples and hits; a resample weights each take by its multiplicity
    take_ids = np.unique(takes, return_inverse=True)[1]
    n = np.zeros((take_ids.max() + 1, len(classes)))
    h = np.zeros_like(n)
    np.add.at(n, (take_ids, t), 1)
    np.add.at(h, (take_ids, t), hit1)
    m = np.random.default_rng(0).multinomial(len(n), np.full(len(n), 1 / len(n)), size=BOOTSTRAP)
    mn, mh = m @ n, m @ h
    with np.errstate(invalid="ignore"):  # a class can be absent from a resample
        draws = np.stack([mh.sum(1) / mn.sum(1), np.nanmean((mh / mn)[:, present], axis=1)], 1)
    row = {"n": len(t), "top1": float(hit1.mean()),
           "top3": float((pred.valid & (top == t[:, None]).any(axis=1)).mean()),
           "balanced": float(np.mean([hit1[t == c].mean() for c in present])),
           "top1_ci": np.percentile(draws[:, 0], [2.5, 97.5]).round(3).tolist(),
           "balanced_ci": np.percentile(draws[:, 1], [2.5, 97.5]).round(3).tolist(),
           "confusion": confusion.tolist()}
    return row, draws


def paired(rows: list[dict], draws: dict[tuple, np.ndarray]) -> list[dict]:
    """Embedding minus each baseline on the same examples and the same take resamples."""
    by_key = {(r["feature"], r["method"], r["granularity"], r["input"]): r for r in rows}
    out = []
    for (feature, *rest), r in by_key.items():
        ours = by_key.get(("embedding", *rest))
        if feature not in BASELINES or ours is None:
            continue
        diff = draws[("embedding", *rest)] - draws[(feature, *rest)]
        lo, hi = np.percentile(diff, [2.5, 97.5], axis=0).round(3).tolist()
        out.append({"baseline": feature, "method": rest[0], "granularity": rest[1],
                    "input": rest[2],
                    "top1_diff": [round(ours["top1"] - r["top1"], 3), lo[0], hi[0]],
                    "balanced_diff": [round(ours["balanced"] - r["balanced"], 3), lo[1], hi[1]]})
    return out


def evaluate(args: argparse.Namespace) -> dict:
    import faiss
    import torch

    from vvipe_core import VVIPE
    from vvipe_core.cameras import CAMERA_SETS
    from vvipe_core.classify import ActivityClassifier
    from vvipe_core.data import load_poses
    from vvipe_core.evaluation import EvalOptions, camera_views
    from vvipe_core.pose_windows import sequence_windows, window_views

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    start = time.perf_counter()
    model = VVIPE.load(args.checkpoint, device="cpu")
    train, val = load_poses(args.train), load_poses(args.val)
    train = train.subset(train.extra["activity"] != "other")  # "no usable description"
    truth = val.extra["activity"].astype(str)
    windows = sequence_windows(val.sequence, val.extra["frame"], args.window, args.window // 2)
    inputs_single = {"3d": val.poses} | {
        # View 0 of the protocol's cameras (seeded per view, so the same for any view count).
        s: camera_views(val.poses, s, EvalOptions(views=2, seed=args.seed))[0]
        for s in ("seen", "unseen")}
    inputs_windows = {"3d": val.poses[windows]} | {
        s: window_views(val.poses, windows, CAMERA_SETS[s], np.random.default_rng([args.seed, i]))
        for i, s in enumerate(("seen", "unseen"))}
    result = {"train": args.train, "val": args.val,
              "checkpoint": args.checkpoint or "checkpoints/vvipe.pt",
              "max_samples": args.max_samples, "window": args.window, "seed": args.seed,
              "n_val_poses": len(val), "n_val_windows": len(windows), "rows": []}
    draws: dict[tuple, np.ndarray] = {}
    for feature in FEATURE_NAMES:
        for method in ("knn", "probe"):
            t0 = time.perf_counter()
            clf = ActivityClassifier.fit(
                model, train.poses, train.extra["activity"], sequence=train.sequence,
                frame=train.extra["frame"], feature=feature, method=method, window=args.window,
                max_samples=args.max_samples, seed=args.seed)
            for source in INPUTS:
                if feature == "keypoints2d" and source == "3d":
                    continue
                single = clf.predict_3d if source == "3d" else clf.predict_2d
                for granularity, pred, rows in (
                    ("single", single(inputs_single[source]), np.arange(len(val))),
                    ("windows", clf.predict_window_batch(inputs_windows[source]),
                     windows[:, args.window // 2]),
                ):
                    row, draws[(feature, method, granularity, source)] = scores(
                        pred, truth[rows], clf.classes, val.sequence[rows])
                    result["rows"].append({"feature": feature, "method": method,
                                           "granularity": granularity, "input": source} | row)
            print(f"{feature} {method}: {time.perf_counter() - t0:.0f} s", flush=True)
    result["paired"] = paired(result["rows"], draws)
    result["classes"] = list(clf.classes)
    result["n_train_single"], result["n_train_windows"] = clf.meta["n_single"], clf.meta["n_windows"]
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def markdown(result: dict) -> str:
    rows = {(r["feature"], r["method"], r["granularity"], r["input"]): r for r in result["rows"]}
    out = []
    for granularity in ("single", "windows"):
        out += [f"\n**{granularity}** (top-1 / top-3 / balanced accuracy)\n",
                HEADER,
                "|---|---|---:|---:|---:|---:|---:|---:|"]
        for source in INPUTS:
            for feature, name in FEATURE_NAMES.items():
                cells = []
                for method in ("knn", "probe"):
                    r = rows.get((feature, method, granularity, source))
                    cells += [f"{r[k]:.3f}" for k in ("top1", "top3", "balanced")] if r else ["–"] * 3
                if r:  # the 2D keypoints read no 3D input
                    out.append(f"| {LABELS[source]} | {name} | " + " | ".join(cells) + " |")
    out += [f"\n**{SHIPPED_METHOD}, with 95 % intervals** (resampling whole val takes)\n",
            CI_HEADER, "|---|---|---|---|---|---|"]
    for source in INPUTS:
        for feature, name in FEATURE_NAMES.items():
            cells = []
            for granularity in ("single", "windows"):
                r = rows.get((feature, SHIPPED_METHOD, granularity, source))
                cells += [f"{r[k]:.3f} ({r[k + '_ci'][0]:.2f}–{r[k + '_ci'][1]:.2f})"
                          for k in ("top1", "balanced")] if r else ["–"] * 2
            if r:
                out.append(f"| {LABELS[source]} | {name} | " + " | ".join(cells) + " |")
    out += [("\n**V-VIPE embedding minus baseline** (same examples; 95 % interval from the same "
            "take resamples; positive = the embedding is better)\n"),
            ("| input | baseline | method | single top-1 | single balanced | windows top-1 "
            "| windows balanced |"), "|---|---|---|---|---|---|---|"]
    diffs = {(d["baseline"], d["method"], d["granularity"], d["input"]): d
             for d in result["paired"]}
    for source in INPUTS:
        for baseline in BASELINES:
            for method in ("knn", "probe"):
                cells = [f"{d[k][0]:+.3f} ({d[k][1]:+.2f} to {d[k][2]:+.2f})"
                         for g in ("single", "windows")
                         if (d := diffs.get((baseline, method, g, source)))
                         for k in ("top1_diff", "balanced_diff")]
                if cells:
                    out.append(f"| {LABELS[source]} | {FEATURE_NAMES[baseline]} | {method} | "
                               + " | ".join(cells) + " |")
    return "\n".join(out)


def plot(result: dict, method: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = result["classes"]
    rows = {(r["granularity"], r["input"]): r for r in result["rows"]
            if r["feature"] == "embedding" and r["method"] == method}
    paths = []
    for granularity in ("single", "windows"):
        fig, axes = plt.subplots(1, 3, figsize=(19, 6.5), constrained_layout=True)
        for ax, source in zip(axes, INPUTS):
            r = rows[(granularity, source)]
            counts = np.asarray(r["confusion"], dtype=float)
            present = counts.sum(axis=1) > 0  # only classes that occur in val as rows
            recall = counts[present] / counts[present].sum(axis=1, keepdims=True)
            ax.imshow(recall, vmin=0, vmax=1, cmap="Blues")
            ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
            ax.set_yticks(range(int(present.sum())), np.asarray(classes)[present], fontsize=8)
            for (i, j), v in np.ndenumerate(recall):
                if v >= 0.05:
                    ax.text(j, i, f"{v:.2f}".lstrip("0"), ha="center", va="center", fontsize=6,
                            color="white" if v > 0.5 else "black")
            ax.set_xlabel("predicted")
            ax.set_title(f"{LABELS[source]}: top-1 {r['top1']:.3f}, balanced {r['balanced']:.3f}")
        axes[0].set_ylabel("true (val), row-normalised")
        size = f"W = {result['window']} poses" if granularity == "windows" else "one pose"
        fig.suptitle(f"V-VIPE embedding, {method}, {granularity} ({size})")
        path = RESULTS / f"classification_confusion_{granularity}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", default=TRAIN)
    parser.add_argument("--val", default=VAL)
    parser.add_argument("--checkpoint", default=None, help="default: checkpoints/vvipe.pt")
    parser.add_argument("--max-samples", type=int, default=50_000,
                        help="training poses, and separately windows, drawn from the train split")
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", action="store_true", help="tables and plots from the JSON")
    args = parser.parse_args()
    out = RESULTS / "classification.json"
    if args.report:
        result = json.loads(out.read_text())
    else:
        result = evaluate(args)
        from vvipe_core.atomic import write_text

        write_text(out, json.dumps(result) + "\n")
        print(f"wrote {out} ({result['seconds']} s)")
    print(markdown(result))
    for path in plot(result, SHIPPED_METHOD):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
