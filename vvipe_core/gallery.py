"""A small retrieval gallery: diverse canonical poses, their embeddings and where they came from.

Built once from a pose file (our npz) and stored as ``assets/gallery.npz`` (plain arrays, no
pickle). The canonical poses are what is shown; the embeddings belong to one model, so a program
that swaps models re-embeds the gallery with :meth:`Gallery.with_model` (milliseconds for a few
thousand poses). Search goes through :class:`vvipe_core.index.PoseIndex` (exact L2).

    g = build_gallery(VVIPE.load(), load_poses("train.npz"), size=3000)
    g.save("assets/gallery.npz"); g = Gallery.load("assets/gallery.npz")
    hits = g.search(z, k=8)          # nearest first; plain (not squared) L2 distances
    hits = g.search(z, k=8, keypoints=kp, confidence=c)  # best fit to the photo first

With the photo's 2D keypoints, the nearest VERIFY_K poses are checked against the picture
(vvipe_core/verify.py): on all val poses (seen cameras) this takes photo -> 3D gallery Hit@1
from 0.805 to 0.968 on clean keypoints and from 0.685 to 0.903 at 5 px noise (docs/RESULTS.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vvipe_core.atomic import atomic_write
from vvipe_core.bundled import bundled
from vvipe_core.data import PoseSet
from vvipe_core.errors import VVIPEError
from vvipe_core.index import PoseIndex
from vvipe_core.skeleton import H36M17
from vvipe_core.verify import fit_cameras, rerank

if TYPE_CHECKING:
    from vvipe_core.api import VVIPE

FORMAT = "vvipe-gallery"
FORMAT_VERSION = 1
BUNDLED_GALLERY = bundled("assets/gallery.npz")
# Farthest-point sampling costs O(pool × size); the pool is drawn evenly across sequences first.
DEFAULT_POOL = 20_000
# Farthest points alone crowd a gallery with rare poses. Measured on 2,000 validation poses
# against 3,000-pose galleries of the training split (nearest gallery pose, mean per-joint error
# in torso units): all random median 0.099, p99 0.238; half and half median 0.105, p99 0.213
# (the rare poses' tail is better covered); all FPS median 0.137 (500-pose sample).
DEFAULT_RANDOM_SHARE = 0.5
# Candidates a photo's search checks against its keypoints: on val, 200 gain 3 to 4 Hit@1
# points over 50 on seen cameras, for ~1.6 ms of CPU per query (docs/RESULTS.md, BENCHMARKS.md).
VERIFY_K = 200


class GalleryFileError(VVIPEError, ValueError):
    """A gallery file that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class Hit:
    index: int
    distance: float  # L2 in embedding space
    sequence: str
    frame: int
    activity: str
    pose: np.ndarray  # (17, 3) canonical
    # How far the pose, seen through the camera that fits it best, lands from the photo's
    # keypoints: mean per joint over the person's size (verify.py); NaN: not checked.
    fit: float = float("nan")
    projected: np.ndarray | None = None  # (17, 2) the pose through that camera, photo pixels

    @property
    def verified(self) -> bool:
        return not np.isnan(self.fit)


@dataclass(frozen=True)
class LatentAxes:
    """Principal directions of a set of embeddings, for moving through the embedding space.

    Coordinates along the axes are in standard deviations from the mean. The embeddings are far
    from symmetric about their mean (on the bundled gallery the first axis runs from -14.6 to
    +1.0), so `low`/`high` give the range where the embeddings really lie: decoding far outside
    it gives distorted bodies.
    """

    mean: np.ndarray  # (D,)
    directions: np.ndarray  # (K, D) orthonormal rows, by decreasing variance
    scale: np.ndarray  # (K,) standard deviation of the embeddings along each direction
    low: np.ndarray  # (K,) 1st percentile of the embeddings' coordinates
    high: np.ndarray  # (K,) 99th percentile

    def coordinates(self, z: np.ndarray) -> np.ndarray:
        """(..., D) embeddings -> (..., K) coordinates along the axes."""
        return ((np.asarray(z, dtype=np.float32) - self.mean) @ self.directions.T) / self.scale

    def move_to(self, base: np.ndarray, coordinates: np.ndarray) -> np.ndarray:
        """`base` (D,) moved along the axes until its coordinates are `coordinates` (K,); the
        part of `base` outside the axes' span is kept."""
        step = np.asarray(coordinates, dtype=np.float32) - self.coordinates(base)
        return (base + (step * self.scale) @ self.directions).astype(np.float32)


@dataclass
class Gallery:
    poses: np.ndarray  # (N, 17, 3) canonical poses (float32)
    embeddings: np.ndarray  # (N, D) float32, from the model named in `checkpoint`
    sequence: np.ndarray  # (N,) str
    frame: np.ndarray  # (N,) int, -1 where unknown
    activity: np.ndarray  # (N,) str, "" where unknown
    checkpoint: str = ""
    source: str = ""
    _index: PoseIndex | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.poses)

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def with_model(self, model: VVIPE) -> Gallery:
        """The same poses embedded by `model` (for a program that swaps checkpoints)."""
        return replace(self, embeddings=model.embed_3d(self.poses), checkpoint=model.source)

    def hit(self, index: int, distance: float = 0.0) -> Hit:
        return Hit(int(index), float(distance), str(self.sequence[index]), int(self.frame[index]),
                   str(self.activity[index]), self.poses[index])

    def search(
        self, z: np.ndarray, k: int = 8, keypoints: np.ndarray | None = None,
        confidence: np.ndarray | None = None, verify: int = VERIFY_K,
    ) -> list[Hit]:
        """The k gallery poses nearest to one embedding (D,), nearest first.

        Given the query's 2D keypoints (17|13, 2) in pixels (NaN = missing) and optionally
        their detector confidences, the nearest `verify` poses are fitted to them and the k
        that fit best come first, each with its fit and projection (`verify` 0: no check).
        """
        if self._index is None:
            self._index = PoseIndex(self.dim)
            self._index.add(self.embeddings)
        checked = keypoints is not None and verify > 0
        distances, ids = self._index.search(np.asarray(z, dtype=np.float32)[None],
                                            max(k, verify) if checked else k)
        distances = np.sqrt(np.maximum(distances, 0))
        if not checked:
            return [self.hit(i, d) for d, i in zip(distances[0], ids[0]) if i >= 0]
        kp = np.asarray(keypoints, dtype=np.float64)[None]
        conf = None if confidence is None else np.asarray(confidence, dtype=np.float64)[None]
        ranked = rerank(kp, ids, distances, self.poses, conf, k=verify)
        found = ranked.ids[0, :k] >= 0
        ids, distances = ranked.ids[0, :k][found], ranked.distances[0, :k][found]
        fit = fit_cameras(kp[0], self.poses[ids], None if conf is None else conf[0])
        projected = fit.project(self.poses[ids])
        return [replace(self.hit(i, d), fit=float(e), projected=None if np.isnan(e) else p)
                for i, d, e, p in zip(ids, distances, fit.error, projected)]

    def latent_axes(self, k: int = 6) -> LatentAxes:
        """The k principal directions of the gallery's embeddings (PCA)."""
        mean = self.embeddings.mean(axis=0)
        _, singular, vt = np.linalg.svd(self.embeddings - mean, full_matrices=False)
        k = min(k, len(singular))
        scale = np.maximum(singular[:k] / np.sqrt(max(1, len(self) - 1)), 1e-12)
        axes = LatentAxes(mean.astype(np.float32), vt[:k].astype(np.float32),
                          scale.astype(np.float32), np.zeros(k), np.zeros(k))
        low, high = np.percentile(axes.coordinates(self.embeddings), [1, 99], axis=0)
        return replace(axes, low=low.astype(np.float32), high=high.astype(np.float32))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with atomic_write(path) as handle:
            np.savez_compressed(
                handle, format=np.str_(FORMAT), format_version=np.int32(FORMAT_VERSION),
                poses=self.poses.astype(np.float32), embeddings=self.embeddings.astype(np.float32),
                sequence=self.sequence.astype(str), frame=self.frame.astype(np.int32),
                activity=self.activity.astype(str), checkpoint=np.str_(self.checkpoint),
                source=np.str_(self.source),
            )
        return path

    @classmethod
    def load(cls, path: str | Path | None = None) -> Gallery:
        """Read a gallery file (the bundled one when `path` is None)."""
        path = Path(path) if path is not None else BUNDLED_GALLERY
        try:
            with np.load(path, allow_pickle=False) as d:
                arrays = {k: d[k] for k in d.files}
        except FileNotFoundError:
            raise GalleryFileError(path, "no such file") from None
        except Exception as e:  # zip/format errors come in many types
            raise GalleryFileError(path, f"not a readable gallery .npz file ({e})") from e
        if str(arrays.get("format", "")) != FORMAT:
            raise GalleryFileError(path, f"not a gallery file (no format '{FORMAT}')")
        if int(arrays.get("format_version", -1)) != FORMAT_VERSION:
            raise GalleryFileError(path, "gallery format version "
                                   f"{arrays.get('format_version')} (expected {FORMAT_VERSION})")
        gallery = cls(
            poses=arrays["poses"], embeddings=arrays["embeddings"], sequence=arrays["sequence"],
            frame=arrays["frame"], activity=arrays["activity"],
            checkpoint=str(arrays["checkpoint"]), source=str(arrays["source"]),
        )
        _check(gallery, path)
        return gallery


def _check(g: Gallery, path: Path) -> None:
    n = len(g.poses)
    if g.poses.shape[1:] != (H36M17.n, 3) or g.embeddings.ndim != 2 or n == 0:
        raise GalleryFileError(path, "poses must be (N, 17, 3) and embeddings (N, D), N > 0; "
                               f"got {g.poses.shape} and {g.embeddings.shape}")
    if any(len(a) != n for a in (g.embeddings, g.sequence, g.frame, g.activity)):
        raise GalleryFileError(path, f"arrays do not all have {n} rows")
    if not (np.isfinite(g.poses).all() and np.isfinite(g.embeddings).all()):
        raise GalleryFileError(path, "poses or embeddings contain NaN or inf")


def stratified_pool(groups: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """About `size` indices drawn evenly across groups (e.g. sequences): the same number from
    each group, so long takes do not crowd out short ones."""
    _, group = np.unique(groups, return_inverse=True)
    order = np.lexsort((rng.random(len(group)), group))
    starts = np.searchsorted(group[order], group[order], side="left")
    rank = np.empty(len(group), dtype=np.int64)
    rank[order] = np.arange(len(group)) - starts
    quota = max(1, size // (group.max() + 1))
    while (rank < quota).sum() < min(size, len(group)):
        quota *= 2
    return np.flatnonzero(rank < quota)


def farthest_points(
    poses: np.ndarray, size: int, rng: np.random.Generator, start: np.ndarray | None = None
) -> np.ndarray:
    """Farthest-point sampling by mean per-joint distance: `size` indices, beginning with
    `start` (already chosen) or else with one random pose."""
    size = min(size, len(poses))
    start = np.asarray([rng.integers(len(poses))] if start is None or not len(start) else start)
    chosen = np.empty(size, dtype=np.int64)
    nearest = np.full(len(poses), np.inf, dtype=np.float32)
    for i in range(size):
        if i < len(start):
            chosen[i] = start[i]
        else:
            chosen[i] = int(np.argmax(nearest))
        step = np.linalg.norm(poses - poses[chosen[i]], axis=-1).mean(axis=-1)
        np.minimum(nearest, step, out=nearest)
    return chosen


def select_diverse(
    canonical: np.ndarray, groups: np.ndarray, size: int, seed: int = 0, pool: int = DEFAULT_POOL,
    random_share: float = DEFAULT_RANDOM_SHARE,
) -> np.ndarray:
    """Indices of `size` varied poses from a pool spread across groups: a random part, which
    keeps the gallery dense where poses are common, then farthest points, which reach the rare
    poses the random part misses."""
    rng = np.random.default_rng(seed)
    candidates = stratified_pool(groups, max(pool, size), rng)
    size = min(size, len(candidates))
    n_random = min(round(size * random_share), size)
    start = rng.choice(len(candidates), n_random, replace=False)
    picked = farthest_points(canonical[candidates], size, rng, start=start)
    return np.sort(candidates[picked])


def build_gallery(
    model: VVIPE, data: PoseSet, size: int = 3000, seed: int = 0, source: str = ""
) -> Gallery:
    """Pick `size` diverse poses of `data` (seeded) and embed them with `model`."""
    canonical = model.canonicalize(data.poses)
    keep = select_diverse(canonical, data.sequence, size, seed)
    n = len(data)
    frame = data.extra.get("frame", np.full(n, -1))
    activity = data.extra.get("activity", np.full(n, ""))
    return Gallery(
        poses=canonical[keep], embeddings=model.embed_3d(canonical[keep]),
        sequence=data.sequence[keep].astype(str), frame=np.asarray(frame)[keep].astype(np.int32),
        activity=np.asarray(activity)[keep].astype(str), checkpoint=model.source, source=source,
    )


def embedding_distances(z: np.ndarray) -> np.ndarray:
    """(N, D) embeddings -> (N, N) pairwise L2 distances (the retrieval metric)."""
    z = np.asarray(z, dtype=np.float64)
    return np.linalg.norm(z[:, None, :] - z[None, :, :], axis=-1).astype(np.float32)
