"""The evaluation protocol: cross-view retrieval (Hit@k) and lifting error on virtual cameras.

Each pose is seen by `views` cameras drawn from a camera set. For every ordered pair of views
(a, b), the 2D projections from view a query an index holding the projections of all poses from
view b; a result is a hit when its 3D pose is within NP-MPJPE 0.1 of the query's. With
``against="3d"`` every view instead queries one index of the clean 3D poses' ``embed_3d`` (what
the app's gallery holds), with the same hit rule. Lifting is scored against the query's own
canonical 3D pose. Everything is batched: one embedding pass per view, one faiss search per pair.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vvipe_core.cameras import CAMERA_SETS, CameraRanges, keypoint_features, project, sample_cameras
from vvipe_core.canonical import Realign, canonicalize
from vvipe_core.corruption import CORRUPTIONS, corrupt
from vvipe_core.data import augment_bones
from vvipe_core.errors import OptionError
from vvipe_core.index import PoseIndex
from vvipe_core.metrics import errors_mm, hits_at_k, np_mpjpe
from vvipe_core.skeleton import H36M17
from vvipe_core.verify import rerank

KS = (1, 10, 20)


class Method(Protocol):
    """What the harness evaluates: an embedding of 2D keypoints, and optionally a 3D lift."""

    name: str

    def embed(self, kp2d: np.ndarray) -> np.ndarray: ...

    def lift(self, kp2d: np.ndarray) -> np.ndarray | None: ...


class Method3D(Method, Protocol):
    """A method that also embeds 3D poses, so 2D queries can search a 3D gallery."""

    def embed_3d(self, poses3d: np.ndarray) -> np.ndarray: ...


@dataclass
class ModelMethod:
    """A V-VIPE model (or any object with embed_2d and lift, such as a baseline)."""

    model: object
    name: str = "vvipe"
    refine: int = 0  # steps fitting the latent to the keypoints before lifting (refine.py)
    flip: bool = False  # test-time flip averaging (VVIPE.lift's `flip`)

    def embed(self, kp2d: np.ndarray) -> np.ndarray:
        return self.model.embed_2d(kp2d, flip=True) if self.flip else self.model.embed_2d(kp2d)

    def lift(self, kp2d: np.ndarray) -> np.ndarray | None:
        options = {"refine": self.refine, "flip": self.flip}
        return self.model.lift(kp2d, **{k: v for k, v in options.items() if v})

    def embed_3d(self, poses3d: np.ndarray) -> np.ndarray:
        return self.model.embed_3d(poses3d)


class Keypoints2DMethod:
    """The paper's "2D keypoints" row: nearest neighbour on normalised 2D keypoints."""

    name = "2d-keypoints"

    def embed(self, kp2d: np.ndarray) -> np.ndarray:
        features, _ = keypoint_features(kp2d, H36M17)
        return features[..., :2].reshape(len(kp2d), -1)

    def lift(self, kp2d: np.ndarray) -> None:
        return None


@dataclass
class EvalOptions:
    cameras: tuple[str, ...] = ("seen", "unseen")
    views: int = 4
    noise_px: float = 0.0
    drop_joints: int = 0  # keypoints set missing (NaN) per 2D pose, at random
    bone_scale: float = 0.0  # bone length factors U(1 ± bone_scale), one body per take
    max_poses: int | None = None
    seed: int = 0
    against: str = "2d"  # "2d": other views' 2D; "3d": embed_3d of the clean 3D poses
    verify: int = 0  # with against="3d": re-rank the top `verify` by a camera fit (verify.py)
    verify_blend: float = 0.0  # weight of the embedding distance in that re-ranking
    corrupt: str = "none"  # "detector": detector-like errors (corruption.py) after the noise

    def __post_init__(self) -> None:
        """Every option in its range, so what the results report is what was evaluated."""
        droppable = H36M17.n - 2  # never the hips (see _drop)
        checks = {
            # None at all is for callers bringing their own sets (evaluate's extra_sets).
            "cameras": (set(self.cameras) <= set(CAMERA_SETS), f"some of {', '.join(CAMERA_SETS)}"),
            "views": (self.views >= 2, "at least 2 (retrieval is across views)"),
            "noise_px": (math.isfinite(self.noise_px) and self.noise_px >= 0, "a number ≥ 0"),
            "drop_joints": (0 <= self.drop_joints <= droppable, f"between 0 and {droppable}"),
            "bone_scale": (0 <= self.bone_scale < 1, "in [0, 1)"),
            "max_poses": (self.max_poses is None or self.max_poses >= 1, "at least 1"),
            "seed": (self.seed >= 0, "at least 0"),
            "against": (self.against in ("2d", "3d"), "2d or 3d"),
            "corrupt": (self.corrupt in CORRUPTIONS, " or ".join(CORRUPTIONS)),
            "verify": (self.verify >= 0 and (self.verify == 0 or self.against == "3d"),
                       "at least 0, and needs against 3d (a gallery of 3D poses)"),
            "verify_blend": (math.isfinite(self.verify_blend) and self.verify_blend >= 0,
                             "a number ≥ 0"),
        }
        for name, (ok, allowed) in checks.items():
            if not ok:
                raise OptionError(None, f"{name.replace('_', '-')} = {getattr(self, name)!r}: "
                                  f"must be {allowed}")


def select_poses(n: int, max_poses: int | None, seed: int) -> np.ndarray:
    """Indices of the evaluated poses: all, or a seeded subset of `max_poses`."""
    if max_poses is None or max_poses >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_poses, replace=False))


def _drop(kp: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Set k distinct random keypoints of each pose to NaN (never the hips, which the 2D
    normalisation anchors on, and so never more than the pose can lose)."""
    if k <= 0:
        return kp
    droppable = np.array([j for j, n in enumerate(H36M17.joints) if n not in ("l_hip", "r_hip")])
    order = np.argsort(rng.random((len(kp), len(droppable))), axis=1)[:, :k]
    out = kp.copy()
    out[np.arange(len(kp))[:, None], droppable[order]] = np.nan
    return out


def camera_views(
    poses: np.ndarray, camera_set: str, opts: EvalOptions, ranges: CameraRanges | None = None
) -> np.ndarray:
    """(N, 17, 3) world poses -> (views, N, 17, 2) pixels through the named camera set (or the
    given ranges), seeded by (seed, camera set name, view)."""
    ranges = ranges or CAMERA_SETS[camera_set]
    set_id = int.from_bytes(camera_set.encode()[:8].ljust(8, b"\0"), "little")
    views = []
    for v in range(opts.views):
        rng = np.random.default_rng([opts.seed, set_id, v])
        kp = project(poses, sample_cameras(poses[:, 0], ranges, rng))
        if opts.noise_px > 0:
            kp = kp + rng.normal(scale=opts.noise_px, size=kp.shape)
        if CORRUPTIONS[opts.corrupt] is not None:
            kp = corrupt(kp, rng, CORRUPTIONS[opts.corrupt])
        views.append(_drop(kp, opts.drop_joints, rng))
    return np.stack(views)


@dataclass
class Verification:
    """Re-rank a 3D gallery's answers by fitting each candidate to the query's keypoints."""

    keypoints: np.ndarray  # (views, N, 17, 2) the queries
    poses: np.ndarray  # (N, 17, 3) the gallery's 3D poses
    k: int
    blend: float = 0.0
    seconds: float = 0.0  # spent re-ranking so far
    queries: int = 0

    def __call__(self, view: int, ids: np.ndarray, distances: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        ids = rerank(self.keypoints[view], ids, np.sqrt(np.maximum(distances, 0)), self.poses,
                     k=self.k, blend=self.blend).ids
        self.seconds += time.perf_counter() - start
        self.queries += len(ids)
        return ids


def retrieval(
    embeddings: np.ndarray, truths: dict[str, np.ndarray], gallery: np.ndarray | None = None,
    verify: Verification | None = None,
    neighbours: Callable[[np.ndarray, np.ndarray, int], np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """embeddings (views, N, D) -> Hit@k for each named normalised 3D truth (N, 17, 3) that
    judges the hits (one search serves them all). Without `gallery`, averaged over ordered view
    pairs; with a `gallery` (N, D) of the same poses' 3D embeddings, every view queries it, and
    `verify` may re-rank its answers. `neighbours(queries, gallery, k)` -> ids (Q, k), a method's
    own search, replaces the L2 index."""
    n_views = len(embeddings)
    targets = list(embeddings) if gallery is None else [gallery]
    scores: dict[str, list] = {name: [] for name in truths}
    for b, target in enumerate(targets):
        if neighbours is None:
            index = PoseIndex(embeddings.shape[-1])
            index.add(target)
        for a in range(n_views):
            if gallery is not None or a != b:
                if neighbours is not None:
                    ids = neighbours(embeddings[a], target, max(KS))
                else:
                    depth = max(KS) if verify is None else max(*KS, verify.k)
                    distances, ids = index.search(embeddings[a], depth)
                    if verify is not None:
                        ids = verify(a, ids, distances)[:, :max(KS)]
                for name, truth in truths.items():
                    scores[name].append(hits_at_k(truth, truth[ids], KS))
    return {name: {key: float(np.mean([s[key] for s in runs])) for key in runs[0]}
            for name, runs in scores.items()}


def lifting(lifted: np.ndarray, canonical: np.ndarray, scale_mm: np.ndarray) -> dict[str, float]:
    """lifted (views, N, 17, 3) canonical predictions vs the canonical truth (N, 17, 3)."""
    truth = np.broadcast_to(canonical, lifted.shape).reshape(-1, 17, 3)
    return errors_mm(lifted, canonical, scale_mm) | {
        "np_mpjpe": float(np_mpjpe(lifted.reshape(-1, 17, 3), truth).mean()),
    }


def evaluate(
    poses: np.ndarray, method: Method, opts: EvalOptions, realign: Realign | str = Realign.FULL,
    progress: Callable[[str], None] | None = None,
    extra_sets: dict[str, CameraRanges] | None = None, sequences: np.ndarray | None = None,
) -> dict:
    """Run the protocol on world poses (N, 17, 3) mm; returns the JSON-ready result.

    `extra_sets` adds named camera ranges beyond the protocol's seen/unseen (e.g. an
    elevation sweep); they are evaluated after `opts.cameras`. `sequences` (N,) gives each
    take one body when `opts.bone_scale` rescales bones (else every pose gets its own).
    """
    keep = select_poses(len(poses), opts.max_poses, opts.seed)
    poses = poses[keep]
    if len(poses) < max(KS) or opts.views < 2:
        raise ValueError(f"the protocol needs at least {max(KS)} poses and 2 views")
    if opts.against == "3d" and not hasattr(method, "embed_3d"):
        raise ValueError(f"{method.name} has no 3D embedding to search against")
    # Hits are judged by NP-MPJPE, so any frame works for the truth.
    truths = {"retrieval": canonicalize(poses, Realign.NONE)}
    if opts.bone_scale > 0:
        bodies = None if sequences is None else np.asarray(sequences)[keep]
        poses = augment_bones(poses, opts.bone_scale, np.random.default_rng([opts.seed, 7]), bodies)
        # Strictly, a hit must match the rescaled skeleton too; that also removes most
        # near-duplicates from other takes (other bodies), so the task itself gets harder.
        # Judging by the pose before rescaling asks only "is this the same pose?".
        truths = {"retrieval": canonicalize(poses, Realign.NONE),
                  "retrieval_same_pose": truths["retrieval"]}
    canonical, scale = canonicalize(poses, realign, return_scale=True)
    result = {"n_poses": len(poses), "seed": opts.seed, "method": method.name,
              "views": opts.views, "noise_px": opts.noise_px, "drop_joints": opts.drop_joints,
              "bone_scale": opts.bone_scale, "against": opts.against, "corrupt": opts.corrupt,
              } | {name: {} for name in truths} | {"lifting": {}}
    if opts.verify:
        result |= {"verify": opts.verify, "verify_blend": opts.verify_blend,
                   "verify_ms_per_query": {}}
    gallery = method.embed_3d(poses) if opts.against == "3d" else None
    sets = {name: CAMERA_SETS[name] for name in opts.cameras} | (extra_sets or {})
    if not sets:
        raise ValueError("no camera set to evaluate: give cameras or extra_sets")
    for camera_set, ranges in sets.items():
        if progress:
            progress(camera_set)
        views = camera_views(poses, camera_set, opts, ranges)
        embeddings = np.stack([method.embed(v) for v in views])
        verify = Verification(views, poses, opts.verify, opts.verify_blend) if opts.verify \
            else None
        search = getattr(method, "neighbours", None)
        for name, hits in retrieval(embeddings, truths, gallery, verify, search).items():
            result[name][camera_set] = hits
        if verify is not None:
            result["verify_ms_per_query"][camera_set] = 1000 * verify.seconds / verify.queries
        lifted = [method.lift(v) for v in views]
        if lifted[0] is not None:
            result["lifting"][camera_set] = lifting(np.stack(lifted), canonical, scale)
    if not result["lifting"]:
        del result["lifting"]
    return result
