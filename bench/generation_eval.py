"""Issue 17's targets for generation, measured on val poses with the shipped model.

Bone lengths of decoded poses at 3 sigma from the data (raw decoder vs decoded onto the body),
joint-drag edits (0.3 torso lengths, reachable targets), interpolation step evenness, the
plausibility score, and how well each named direction does what its name says. Prints Markdown.

    python -m bench.generation_eval                    # val split, ~2 minutes on 2 shared cores
    python -m bench.generation_eval --data tests/data/cmu_val_small.npz --poses 200 --drags 40

The tests (tests/test_generation.py) run the same measurements on the val poses of tests/data.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vvipe_core import VVIPE
from vvipe_core.data import load_poses
from vvipe_core.gallery import Gallery
from vvipe_core.generation import (
    FEATURES,
    NamedDirections,
    Plausibility,
    ancestors,
    body_bones,
    bone_lengths,
    limb,
    named_directions,
    pose_features,
)
from vvipe_core.skeleton import H36M17

VAL = "../shared/data/cmu_h36m17_val.npz"
DRAGGED = ("l_wrist", "r_wrist", "l_ankle", "r_ankle")
DRAG = 0.3  # torso lengths


def relative_bone_error(poses: np.ndarray, bodies: np.ndarray) -> np.ndarray:
    """(..., 16) |bone / body's bone - 1|, the body's bones in canonical units."""
    bodies = np.asarray(bodies)
    lengths = np.stack([body_bones(b) for b in bodies.reshape(-1, H36M17.n, 3)])
    return np.abs(bone_lengths(poses) / lengths.reshape(*bodies.shape[:-2], -1) - 1)


def far_latents(z: np.ndarray, gallery: Gallery, sigmas: float, seed: int = 0,
                axes: int = 6) -> np.ndarray:
    """Each latent moved `sigmas` standard deviations of the data along one of the gallery's
    first `axes` principal axes (a random one, either way), as a walk along one axis does."""
    pca = gallery.latent_axes(axes)
    rng = np.random.default_rng(seed)
    axis = rng.integers(len(pca.scale), size=len(z))
    sign = rng.choice([-1.0, 1.0], size=len(z))
    move = (sign * sigmas * pca.scale[axis])[:, None] * pca.directions[axis]
    return (z + move).astype(np.float32)


def reachable_drag(pose: np.ndarray, joint: int, rng: np.random.Generator) -> np.ndarray:
    """A DRAG move of `joint` in a random direction its limb can reach (within 95 % of the
    limb's length from where the limb hangs): a straight arm cannot be pulled longer."""
    chain = sorted(limb(joint) & ancestors(joint))  # e.g. shoulder, elbow, wrist
    hangs_from = H36M17.parents[chain[0]]
    reach = bone_lengths(pose)[[j - 1 for j in chain]].sum()  # bone j - 1 ends at joint j
    while True:
        move = rng.normal(size=3)
        target = pose[joint] + DRAG * move / np.linalg.norm(move)
        if np.linalg.norm(target - pose[hangs_from]) <= 0.95 * reach:
            return target


@dataclass
class Drags:
    miss: np.ndarray  # (n,) distance of the dragged joint to its target
    others: np.ndarray  # (n,) mean move of the joints away from the dragged limb
    bone_error: np.ndarray  # (n,) largest relative bone error
    ms: np.ndarray  # (n,) milliseconds per edit


def drags(model: VVIPE, poses: np.ndarray, z: np.ndarray, n: int, seed: int = 1) -> Drags:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        name = DRAGGED[i % len(DRAGGED)]
        joint = H36M17.index(name)
        start = model.decode(z[i : i + 1], body=poses[i])[0]
        target = reachable_drag(start, joint, rng)
        began = time.perf_counter()
        edited_z = model.edit(z[i], {name: target}, body=poses[i])
        ms = 1000 * (time.perf_counter() - began)
        edited = model.decode(edited_z[None], body=poses[i])[0]
        away = [j for j in range(H36M17.n) if j not in limb(joint)]
        rows.append((np.linalg.norm(edited[joint] - target),
                     np.linalg.norm(edited[away] - start[away], axis=-1).mean(),
                     relative_bone_error(edited, poses[i]).max(), ms))
    return Drags(*map(np.asarray, zip(*rows)))


def interpolation_steps(model: VVIPE, poses: np.ndarray, z: np.ndarray, pairs: int,
                        n: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair of consecutive val poses: largest / mean step of the even path and of the
    plain straight line in the latent, and the largest bone error along the even path."""
    even, straight, bone_error = [], [], []
    for i in range(0, 2 * pairs, 2):
        line = z[i] + np.linspace(0, 1, n)[:, None] * (z[i + 1] - z[i])
        for path, out in ((model.interpolate(z[i], z[i + 1], n), even), (line, straight)):
            motion = model.decode(path, body=poses[i])
            steps = np.linalg.norm(np.diff(motion, axis=0), axis=-1).mean(axis=-1)
            out.append(steps.max() / steps.mean())
        bone_error.append(relative_bone_error(motion, poses[i]).max())
    return np.asarray(even), np.asarray(straight), np.asarray(bone_error)


def direction_effects(model: VVIPE, directions: NamedDirections, poses: np.ndarray,
                      z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Readout R² per feature on these poses, and the (K, K) median change of every feature
    (in its standard deviations) when the latent moves one standard deviation along each
    direction, decoded onto the poses' median body."""
    real = pose_features(poses)
    r2 = 1 - ((real - directions.coordinates(z)) ** 2).mean(0) / real.var(0)
    before = pose_features(model.decode(z, body=poses))
    effects = []
    for k in range(len(FEATURES)):
        move = np.zeros(len(FEATURES), np.float32)
        move[k] = directions.scale[k]
        after = pose_features(model.decode(z + move @ directions.steps, body=poses))
        effects.append(np.median((after - before) / directions.scale, axis=0))
    return r2, np.asarray(effects)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=VAL)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped one")
    parser.add_argument("--gallery", type=Path, default=None, help="default: the bundled one")
    parser.add_argument("--poses", type=int, default=2000)
    parser.add_argument("--drags", type=int, default=400)
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    model = VVIPE.load(args.checkpoint, device="cpu")
    gallery = Gallery.load(args.gallery).with_model(model)
    data = load_poses(args.data)
    pick = np.random.default_rng(0).choice(len(data), min(args.poses, len(data)), replace=False)
    poses = model.canonicalize(data.poses[pick])
    z = model.embed_3d(poses)
    print(f"{args.data}: {len(poses)} poses; checkpoint {model.source}; gallery "
          f"{len(gallery)} poses\n")

    print("| latents | raw decoder: bone error p5…p95 | on the body: largest bone error |")
    print("|---|---|---|")
    for sigmas in (0.0, 2.0, 3.0):
        far = far_latents(z, gallery, sigmas) if sigmas else z
        raw = bone_lengths(model.decode(far)) / bone_lengths(poses) - 1
        on_body = np.concatenate([relative_bone_error(model.decode(far[i : i + 1],
                                                                   body=poses[i]), poses[i])
                                  for i in range(len(far))])
        print(f"| {sigmas:.0f} σ | {100 * np.percentile(raw, 5):+.0f} % … "
              f"{100 * np.percentile(raw, 95):+.0f} % | {100 * on_body.max():.1e} % |")

    plausibility = Plausibility.from_embeddings(gallery.embeddings)
    print("\n| latents | plausibility median | share below 0.05 |\n|---|---|---|")
    for sigmas in (0.0, 2.0, 3.0):
        score = plausibility.score(far_latents(z, gallery, sigmas) if sigmas else z)
        print(f"| val poses + {sigmas:.0f} σ | {np.median(score):.2f} | "
              f"{np.mean(score < 0.05):.2f} |")

    d = drags(model, poses, z, min(args.drags, len(z)))
    print(f"\nEdits ({len(d.miss)} drags of {DRAG} torso lengths, {', '.join(DRAGGED)} in turn, "
          "random reachable directions):\n")
    print("| within 0.03 of target | miss p50 / p90 | others move (mean) | bone error max | "
          "ms p50 / p90 |\n|---|---|---|---|---|")
    print(f"| {np.mean(d.miss <= 0.03):.3f} | {np.median(d.miss):.4f} / "
          f"{np.percentile(d.miss, 90):.4f} | {d.others.mean():.4f} | "
          f"{100 * d.bone_error.max():.4f} % | {np.median(d.ms):.1f} / "
          f"{np.percentile(d.ms, 90):.1f} |")

    even, straight, bone_error = interpolation_steps(model, poses, z,
                                                     min(args.pairs, len(z) // 2))
    print(f"\nInterpolation ({len(even)} pairs of val poses, 30 poses each): largest / mean step\n")
    print("| path | p50 | max |\n|---|---|---|")
    print(f"| VVIPE.interpolate | {np.median(even):.3f} | {even.max():.3f} |")
    print(f"| straight line in the latent | {np.median(straight):.3f} | {straight.max():.3f} |")
    print(f"\nLargest bone error along the paths: {100 * bone_error.max():.4f} %")

    directions = named_directions(gallery.poses, gallery.embeddings)
    r2, effects = direction_effects(model, directions, poses, z)
    print("\nNamed directions (fitted on the gallery; a 1-σ move, decoded):\n")
    print("| direction | readout R² | own change (σ) | largest other change (σ) | "
          "mean other | slider range (1st–99th pct) |\n|---|---|---|---|---|---|")
    for k, (feature, _) in enumerate(FEATURES):
        others = np.abs(np.delete(effects[k], k))
        worst = [f.label for i, (f, _) in enumerate(FEATURES) if i != k][int(np.argmax(others))]
        print(f"| {feature.label} | {r2[k]:.2f} | {effects[k, k]:.2f} | {others.max():.2f} "
              f"({worst}) | {others.mean():.2f} | {directions.low[k]:.1f} … "
              f"{directions.high[k]:.1f}{feature.unit} |")


if __name__ == "__main__":
    main()
