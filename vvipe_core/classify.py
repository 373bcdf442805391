"""Activity recognition from V-VIPE embeddings: what a person is doing, from one pose or a clip.

Two classifiers over the same features (vvipe_core.pose_windows): ``knn`` votes among the k
nearest training examples (a PoseIndex), ``probe`` is a one-hidden-layer MLP trained with torch
and run with numpy. Each classifier has two heads, one for single poses and one for windows of W
consecutive frames (mean and standard deviation of the frames' features).

It is trained on 3D poses with activity labels; since the embedding does not depend on the
camera, the same classifier reads 2D keypoints from any viewpoint (through embed_2d).

    clf = ActivityClassifier.fit(model, poses3d, labels, sequence=seq, frame=frame)
    clf.predict_3d(poses).top(3)             # [[("walk", 0.71), ("run", 0.12), ...], ...]
    clf.predict_2d(kp2d).labels              # (N,) best labels, "" where there was no pose
    clf.predict_windows(video_kp, thin=True).segments()   # a label track over time
    clf.save("clf.npz"); clf = ActivityClassifier.load("clf.npz", model)

Files are .npz of plain arrays (no pickle) that remember a fingerprint of the model they were
trained with: loading with another checkpoint, whose embeddings mean something else, fails.
"""
from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from vvipe_core.atomic import atomic_write
from vvipe_core.bundled import bundled
from vvipe_core.cameras import SEEN, CameraRanges, project, sample_cameras
from vvipe_core.errors import VVIPEError
from vvipe_core.index import PoseIndex
from vvipe_core.pose_windows import (
    FEATURES,
    Feature,
    frame_features,
    frames_of_windows,
    pool,
    sequence_windows,
    thin,
    usable,
    window_views,
)

if TYPE_CHECKING:
    from vvipe_core.api import VVIPE

Method = Literal["knn", "probe"]
METHODS: tuple[str, ...] = ("knn", "probe")
FORMAT = "vvipe-activity-classifier"
FORMAT_VERSION = 1
BUNDLED_CLASSIFIER = bundled("assets/activity_classifier.npz")
DEFAULT_WINDOW = 32  # poses: about 3 s of our thinned data (11 poses per second on average)
# Chosen by 5-fold cross-validation over the train split's people (never val), on balanced
# accuracy: stronger regularisation (64 units, dropout 0.5) raised top-1 by predicting the
# common classes more often but lowered balanced accuracy (windows 0.275 -> 0.204).
PROBE_HIDDEN, PROBE_EPOCHS, PROBE_DROPOUT, PROBE_WEIGHT_DECAY = 256, 30, 0.1, 1e-4
FINGERPRINT_POSES = 8
FINGERPRINT_ATOL = 1e-3  # embeddings of the same checkpoint on another device differ by ~1e-6


class ClassifierFileError(VVIPEError):
    """A classifier file that is missing, unreadable, inconsistent or made for another model."""


@dataclass(frozen=True)
class Segment:
    start: int  # first input frame
    stop: int  # one past the last input frame
    label: str
    score: float  # mean score of the label over the segment's windows


@dataclass
class Predictions:
    """Class scores of N poses or windows; rows are NaN where the input held no usable pose."""

    classes: tuple[str, ...]
    scores: np.ndarray  # (N, C), each row sums to 1
    start: np.ndarray | None = None  # windows: (N,) first input frame
    stop: np.ndarray | None = None  # windows: (N,) one past the last input frame

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def valid(self) -> np.ndarray:
        return ~np.isnan(self.scores).any(axis=1)

    def top_indices(self, k: int = 3) -> np.ndarray:
        """(N, k) class indices, best first (meaningless on invalid rows)."""
        return np.argsort(-np.nan_to_num(self.scores, nan=0.0), axis=1, kind="stable")[:, :k]

    @property
    def labels(self) -> np.ndarray:
        """(N,) best label per row, "" where the input held no usable pose."""
        best = np.asarray(self.classes, dtype=str)[self.top_indices(1)[:, 0]]
        return np.where(self.valid, best, "")

    def top(self, k: int = 3) -> list[list[tuple[str, float]]]:
        """Per row the k best (label, score) pairs; an empty list for invalid rows."""
        return [
            [(self.classes[c], float(self.scores[i, c])) for c in row] if ok else []
            for i, (row, ok) in enumerate(zip(self.top_indices(k), self.valid))
        ]

    def segments(self) -> list[Segment]:
        """Consecutive windows with the same best label merged into segments that tile the
        input from the first window's start to the last window's stop (windows only)."""
        if self.start is None or self.stop is None:
            raise ValueError("segments need window predictions (predict_windows)")
        rows = np.flatnonzero(self.valid)
        labels = self.labels
        runs: list[list[int]] = []
        for i in rows:
            if runs and labels[runs[-1][0]] == labels[i]:
                runs[-1].append(i)
            else:
                runs.append([i])
        out = []
        for n, run in enumerate(runs):
            stop = self.start[runs[n + 1][0]] if n + 1 < len(runs) else self.stop[run[-1]]
            c = self.classes.index(labels[run[0]])
            out.append(Segment(int(self.start[run[0]]), int(stop), str(labels[run[0]]),
                               float(self.scores[run, c].mean())))
        return out


def segment_at(segments: list[Segment], frame: int) -> Segment | None:
    """The segment of a label track (segments in order, as `Predictions.segments` gives them)
    that holds `frame`; None outside them."""
    i = bisect.bisect_right([s.start for s in segments], frame) - 1
    return segments[i] if i >= 0 and frame < segments[i].stop else None


class _Head:
    """Standardised features -> class scores. Subclasses keep their state in plain arrays."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    @property
    def n_inputs(self) -> int:
        return len(self.arrays["mean"])

    def scores(self, x: np.ndarray) -> np.ndarray:
        return self._scores((x - self.arrays["mean"]) / self.arrays["std"])

    def _scores(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class _KNN(_Head):
    """Votes of the k nearest training examples (exact L2 on standardised features)."""

    def __init__(self, arrays: dict[str, np.ndarray], n_classes: int) -> None:
        super().__init__(arrays)
        self.n_classes = n_classes
        self.index = PoseIndex(arrays["gallery"].shape[1])
        self.index.add(arrays["gallery"].astype(np.float32))

    def _scores(self, x: np.ndarray) -> np.ndarray:
        k = int(self.arrays["k"])
        _, ids = self.index.search(x, k)
        votes = self.arrays["targets"][ids]  # (N, k)
        counts = (votes[..., None] == np.arange(self.n_classes)).sum(axis=1)
        return counts / counts.sum(axis=1, keepdims=True)


class _Probe(_Head):
    """A one-hidden-layer MLP, evaluated with numpy."""

    def _scores(self, x: np.ndarray) -> np.ndarray:
        a = self.arrays
        logits = np.maximum(x @ a["w1"] + a["b1"], 0.0) @ a["w2"] + a["b2"]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def _standardise(x: np.ndarray) -> dict[str, np.ndarray]:
    # A floor relative to the typical spread: canonical 3D joints have coordinates that are
    # zero by construction (the pelvis), which a lifted pose only nearly matches.
    std = x.std(axis=0)
    return {"mean": x.mean(axis=0), "std": np.maximum(std, 0.01 * np.median(std) + 1e-12)}


def _train_head(
    method: str, x: np.ndarray, y: np.ndarray, n_classes: int, k: int, hidden: int, epochs: int,
    seed: int,
) -> _Head:
    arrays = _standardise(x)
    xs = ((x - arrays["mean"]) / arrays["std"]).astype(np.float32)
    if method == "knn":
        # float16 halves the file; the vote hardly notices 3 significant digits.
        arrays |= {"gallery": xs.astype(np.float16), "targets": y.astype(np.int16),
                   "k": np.int32(k)}
        return _KNN(arrays, n_classes)
    return _Probe(arrays | _train_probe(xs, y, n_classes, hidden, epochs, seed))


def _train_probe(
    x: np.ndarray, y: np.ndarray, n_classes: int, hidden: int, epochs: int, seed: int
) -> dict[str, np.ndarray]:
    import torch
    from torch import nn

    with torch.random.fork_rng():  # seeded without disturbing the caller's random state
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Dropout(PROBE_DROPOUT),
                            nn.Linear(hidden, n_classes))
        optimiser = torch.optim.AdamW(net.parameters(), lr=2e-3,
                                      weight_decay=PROBE_WEIGHT_DECAY)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
        for _ in range(epochs):
            for batch in torch.randperm(len(xt)).split(512):
                loss = nn.functional.cross_entropy(net(xt[batch]), yt[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            schedule.step()
    weights = {name: p.detach().numpy().copy() for name, p in net.state_dict().items()}
    return {"w1": weights["0.weight"].T, "b1": weights["0.bias"],
            "w2": weights["3.weight"].T, "b2": weights["3.bias"]}


@dataclass
class ActivityClassifier:
    """Activity labels for single poses and for windows; build with `fit` or `load`."""

    model: VVIPE | None  # needed by the embedding and canonical3d features
    classes: tuple[str, ...]
    feature: str
    method: str
    window: int
    stride: int
    single: _Head
    windowed: _Head
    fingerprint: np.ndarray  # (P, 17, 3) canonical poses ...
    fingerprint_z: np.ndarray  # (P, D) ... and their embeddings by the training model
    meta: dict[str, Any] = field(default_factory=dict)

    # -- training ----------------------------------------------------------------------------
    @classmethod
    def fit(
        cls, model: VVIPE | None, poses3d: np.ndarray, labels: np.ndarray, *,
        sequence: np.ndarray | None = None, frame: np.ndarray | None = None,
        feature: Feature = "embedding", method: Method = "probe", window: int = DEFAULT_WINDOW,
        stride: int | None = None, max_samples: int | None = None,
        cameras: CameraRanges | None = SEEN, k: int = 16, hidden: int = PROBE_HIDDEN,
        epochs: int = PROBE_EPOCHS, seed: int = 0, meta: dict[str, Any] | None = None,
    ) -> ActivityClassifier:
        """Train both heads on world poses (N, 17, 3) mm with one label each.

        Windows are W consecutive poses of one `sequence` ordered by `frame` (default: the whole
        input in its order), every `stride` poses (default W / 2). `max_samples` draws at most
        that many single poses and, separately, windows. With `cameras`, the poses' 2D
        projections (one camera per pose, and one per window) join the training examples: that
        helps 2D input a little (balanced accuracy of single 2D poses +0.01 to +0.02 on people
        held out of the train split) and is all the keypoints2d feature reads.
        """
        poses = np.asarray(poses3d, dtype=np.float32)
        labels = np.asarray(labels).astype(str)
        if poses.ndim != 3 or poses.shape[1:] != (17, 3) or len(labels) != len(poses):
            raise ValueError(f"expected poses (N, 17, 3) and N labels, got {poses.shape}, "
                             f"{labels.shape}")
        if method not in METHODS or feature not in FEATURES:
            raise ValueError(f"method must be one of {METHODS}, feature one of {FEATURES}")
        n = len(poses)
        stride = stride or max(1, window // 2)
        rng = np.random.default_rng(seed)
        singles = _subset(np.arange(n), max_samples, rng)
        sequence = np.zeros(n, dtype=np.int64) if sequence is None else np.asarray(sequence)
        frame = np.arange(n) if frame is None else np.asarray(frame)
        windows = _subset(sequence_windows(sequence, frame, window, stride), max_samples, rng)
        x_single, x_windows = [], []
        if feature != "keypoints2d":
            needed = np.unique(np.concatenate([singles, windows.ravel()]))
            per_pose = frame_features(model, feature, poses[needed])
            x_single.append(per_pose[np.searchsorted(needed, singles)])
            x_windows.append(pool(per_pose[np.searchsorted(needed, windows)]))
        if cameras is not None:
            chosen = poses[singles]
            kp = project(chosen, sample_cameras(chosen[:, 0], cameras, rng))
            x_single.append(frame_features(model, feature, kp))
            clips = window_views(poses, windows, cameras, rng)
            x_windows.append(pool(_clip_features(model, feature, clips)))
        if not x_single:
            raise ValueError("the keypoints2d feature needs cameras to project the training poses")
        classes = tuple(np.unique(labels).tolist())
        target = np.searchsorted(classes, labels)
        heads = [
            _train_head(method, np.concatenate(x), np.tile(target[t], len(x)), len(classes), k,
                        hidden, epochs, seed)
            for x, t in ((x_single, singles), (x_windows, windows[:, window // 2]))
        ]
        refs = poses[rng.choice(n, min(n, FINGERPRINT_POSES), replace=False)]
        fingerprint, fingerprint_z = _fingerprint(model, refs)
        facts = {"n_single": len(singles), "n_windows": len(windows), "seed": seed,
                 "checkpoint": Path(getattr(model, "source", "")).name} | (meta or {})
        return cls(model, classes, feature, method, window, stride, *heads,
                   fingerprint, fingerprint_z, facts)

    # -- prediction --------------------------------------------------------------------------
    def predict_3d(self, poses3d: np.ndarray) -> Predictions:
        """Single poses (N, 17, 3), any frame and unit; NaN poses give invalid rows."""
        return self._predict_single(_frames(poses3d, dims=(3,)))

    def predict_2d(self, kp2d: np.ndarray) -> Predictions:
        """Single 2D poses (N, 17|13, 2) pixels of any camera (NaN = missing keypoint)."""
        return self._predict_single(_frames(kp2d, dims=(2,)))

    def predict_window_batch(self, clips: np.ndarray) -> Predictions:
        """M windows at once: (M, W, 17, 3) poses or (M, W, 17|13, 2) keypoints. A window with
        an unusable frame gives an invalid row."""
        clips = np.asarray(clips, dtype=np.float32)
        if clips.ndim != 4:
            raise ValueError(f"expected windows (M, W, J, 2|3), got shape {clips.shape}")
        ok = usable(clips.reshape(-1, *clips.shape[2:])).reshape(clips.shape[:2]).all(axis=1)
        scores = np.full((len(clips), len(self.classes)), np.nan)
        if ok.any():
            scores[ok] = self.windowed.scores(pool(_clip_features(self.model, self.feature,
                                                                  clips[ok])))
        return Predictions(self.classes, scores)

    def predict_windows(
        self, frames: np.ndarray, window: int | None = None, stride: int | None = None,
        thin_frames: bool = False,
    ) -> Predictions:
        """One sequence in time order -> one prediction per window, with its frame span.

        `frames`: (T, 17, 3) poses, (T, 17|13, 2) keypoints, or (T, F) features (for the
        embedding feature: V-VIPE embeddings). Frames without a usable pose are skipped. Set
        `thin_frames` for dense video: frames are then kept only once some joint has moved as
        far as between two poses of our thinned training data (vvipe_core.pose_windows.thin).
        """
        frames = np.asarray(frames, dtype=np.float32)
        ok = usable(frames) if frames.ndim == 3 else np.isfinite(frames).all(axis=-1)
        keep = np.flatnonzero(ok)
        if frames.ndim == 2:
            if frames.shape[1] != self.single.n_inputs:
                raise ValueError(f"expected (T, {self.single.n_inputs}) features, got "
                                 f"{frames.shape}")
            features = frames[keep]
        else:
            features = frame_features(self.model, self.feature, frames[keep])
        if len(keep) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return Predictions(self.classes, np.zeros((0, len(self.classes))), empty, empty)
        end = keep[-1] + 1
        if thin_frames:
            kept = thin(self._canonical(frames[keep]))
            keep, features = keep[kept], features[kept]
        # A frame left out (no pose, or thinned away) belongs to the kept frame before it, so
        # the windows' spans reach the next window and the end of the input.
        until = np.append(keep[1:], end)
        windows = frames_of_windows(len(keep), window or self.window, stride or self.stride)
        scores = self.windowed.scores(pool(features[windows]))
        return Predictions(self.classes, scores, keep[windows[:, 0]], until[windows[:, -1]])

    def _predict_single(self, x: np.ndarray) -> Predictions:
        ok = usable(x)
        scores = np.full((len(x), len(self.classes)), np.nan)
        if ok.any():
            scores[ok] = self.single.scores(frame_features(self.model, self.feature, x[ok]))
        return Predictions(self.classes, scores)

    def _canonical(self, frames: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise ValueError("thinning frames needs a V-VIPE model")
        if frames.ndim == 2:
            if self.feature != "embedding":
                raise ValueError("thinning precomputed features needs V-VIPE embeddings")
            return self.model.decode(frames)
        return self.model.canonicalize(frames) if frames.shape[-1] == 3 else self.model.lift(frames)

    # -- files -------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        arrays = {f"single.{k}": v for k, v in self.single.arrays.items()}
        arrays |= {f"windowed.{k}": v for k, v in self.windowed.arrays.items()}
        with atomic_write(path) as handle:  # np.savez would append ".npz" to another suffix
            np.savez_compressed(
                handle, format=np.str_(FORMAT), format_version=np.int32(FORMAT_VERSION),
                classes=np.asarray(self.classes, dtype=str), feature=np.str_(self.feature),
                method=np.str_(self.method), window=np.int32(self.window),
                stride=np.int32(self.stride), fingerprint=self.fingerprint.astype(np.float32),
                fingerprint_z=self.fingerprint_z.astype(np.float32),
                meta_json=np.str_(json.dumps(self.meta)), **arrays,
            )
        return path

    @classmethod
    def load(cls, path: str | Path | None = None, model: VVIPE | None = None) -> ActivityClassifier:
        """Read a classifier file (the bundled one when `path` is None) for `model` (the
        bundled checkpoint when None and the feature needs a model)."""
        path = Path(path) if path is not None else BUNDLED_CLASSIFIER
        arrays = _read(path)
        try:
            return cls._from_arrays(path, arrays, model)
        except (KeyError, ValueError, IndexError, TypeError) as e:
            raise ClassifierFileError(path, f"inconsistent classifier file ({e})") from e

    @classmethod
    def _from_arrays(
        cls, path: Path, a: dict[str, np.ndarray], model: VVIPE | None
    ) -> ActivityClassifier:
        classes = tuple(str(c) for c in a["classes"])
        feature, method = str(a["feature"]), str(a["method"])
        if feature not in FEATURES or method not in METHODS or not classes:
            raise ValueError(f"unknown feature {feature!r} or method {method!r}, or no classes")
        heads = []
        for name in ("single", "windowed"):
            head = {k.split(".", 1)[1]: v for k, v in a.items() if k.startswith(name + ".")}
            heads.append(_KNN(head, len(classes)) if method == "knn" else _Probe(head))
            _check_head(heads[-1], method, len(classes))
        if heads[1].n_inputs != 2 * heads[0].n_inputs:
            raise ValueError("window features must be twice the single-pose features")
        if int(a["window"]) < 2 or int(a["stride"]) < 1:
            raise ValueError(f"window {int(a['window'])} (at least 2) or stride "
                             f"{int(a['stride'])} (at least 1)")
        if feature != "keypoints2d":
            if model is None:
                from vvipe_core.api import VVIPE

                model = VVIPE.load()
            _check_fingerprint(path, model, a["fingerprint"], a["fingerprint_z"])
        return cls(model, classes, feature, method, int(a["window"]), int(a["stride"]), *heads,
                   a["fingerprint"], a["fingerprint_z"], json.loads(str(a["meta_json"])))


def _subset(rows: np.ndarray, max_samples: int | None, rng: np.random.Generator) -> np.ndarray:
    if not max_samples or max_samples >= len(rows):
        return rows
    return rows[np.sort(rng.choice(len(rows), max_samples, replace=False))]


def _frames(x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3 or x.shape[-1] not in dims:
        want = "(N, 17, 3) poses" if dims == (3,) else "(N, 17|13, 2) keypoints"
        raise ValueError(f"expected {want}, got shape {x.shape}")
    return x


def _clip_features(model: VVIPE | None, feature: str, clips: np.ndarray) -> np.ndarray:
    """(M, W, J, D) frames, all usable -> (M, W, F) features, in one batch."""
    flat = frame_features(model, feature, clips.reshape(-1, *clips.shape[2:]))
    return flat.reshape(*clips.shape[:2], -1)


def _fingerprint(model: VVIPE | None, poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if model is None:
        return np.zeros((0, 17, 3), np.float32), np.zeros((0, 0), np.float32)
    canonical = model.canonicalize(poses)
    return canonical, model.embed_3d(canonical)


def _check_fingerprint(path: Path, model: VVIPE, poses: np.ndarray, z: np.ndarray) -> None:
    if len(poses) == 0:
        raise ClassifierFileError(path, "has no model fingerprint (trained without a model)")
    if z.shape[1] != model.embedding_dim or not np.allclose(
        model.embed_3d(poses), z, atol=FINGERPRINT_ATOL
    ):
        raise ClassifierFileError(
            path, f"was trained on the embeddings of another V-VIPE checkpoint than "
                  f"{model.source or 'the given model'}; retrain it (vvipe classify-train)")


def _check_head(head: _Head, method: str, n_classes: int) -> None:
    a = head.arrays
    f = head.n_inputs
    if a["std"].shape != (f,) or not (a["std"] > 0).all():
        raise ValueError("bad standardisation arrays")
    if method == "knn":
        if a["gallery"].shape[1] != f or len(a["targets"]) != len(a["gallery"]):
            raise ValueError("gallery and targets disagree")
        if a["targets"].min() < 0 or a["targets"].max() >= n_classes or int(a["k"]) < 1:
            raise ValueError("targets out of range or k < 1")
    elif a["w1"].shape[0] != f or a["w2"].shape[1] != n_classes or a["b2"].shape != (n_classes,):
        raise ValueError("probe weights do not fit the features and classes")


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as d:
            arrays = {k: d[k] for k in d.files}
    except FileNotFoundError:
        raise ClassifierFileError(path, "no such file") from None
    except Exception as e:  # zip and format errors come in many types
        raise ClassifierFileError(path, f"not a readable classifier .npz file ({e})") from e
    if str(arrays.get("format", "")) != FORMAT:
        raise ClassifierFileError(path, f"not an activity classifier (no format '{FORMAT}')")
    if int(arrays.get("format_version", -1)) != FORMAT_VERSION:
        raise ClassifierFileError(path, f"classifier format version {arrays['format_version']} "
                                        f"(expected {FORMAT_VERSION})")
    return arrays
