"""`vvipe classify`: what is the person doing? `vvipe classify-train`: build the classifier.

Exit codes: 0 done, 1 nobody could be classified, 2 unusable input or options, 130 interrupted.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vvipe_core.classify import DEFAULT_WINDOW, METHODS, ActivityClassifier, Predictions
from vvipe_core.errors import NoPersonFound, VVIPEError
from vvipe_core.images import IMAGE_SUFFIXES
from vvipe_core.pose_windows import FEATURES
from vvipe_core.video import VIDEO_SUFFIXES

if TYPE_CHECKING:
    from vvipe_core.data import PoseSet

console = Console(soft_wrap=True, highlight=False)
errors = Console(stderr=True, soft_wrap=True, highlight=False)
POSE_SUFFIXES = frozenset({".npz", ".json", ".csv"})
UNLABELLED = ("other", "")  # "other" = the take had no usable description


@dataclass
class Clip:
    """One sequence to classify: frames in time order (3D poses or 2D keypoints)."""

    name: str
    frames: np.ndarray
    times_s: np.ndarray | None  # per frame, when known
    dense: bool  # video frames (thinned before windowing) rather than our thinned data
    truth: str = ""


def classify(
    path: Annotated[Path, typer.Argument(
        help="A picture, a video, or a pose file (our .npz data, or a .json/.csv/.npz from "
             "`vvipe lift`).")],
    classifier: Annotated[Path | None, typer.Option(
        help="Activity classifier file [default: assets/activity_classifier.npz].")] = None,
    checkpoint: Annotated[Path | None, typer.Option(
        help="V-VIPE checkpoint the classifier was trained with [default: the bundled one].")
    ] = None,
    model: Annotated[Path | None, typer.Option(
        help="MediaPipe pose landmarker .task file [default: the bundled one].")] = None,
    top: Annotated[int, typer.Option(min=1, help="Labels to show per result.")] = 3,
    window: Annotated[int | None, typer.Option(
        min=1, help="Poses per window [default: the classifier's].")] = None,
    stride: Annotated[int | None, typer.Option(
        min=1, help="Poses between window starts [default: the classifier's].")] = None,
    smooth: Annotated[bool, typer.Option(
        "--smooth/--no-smooth", help="Video: One Euro smoothing of the 2D keypoints.")] = True,
) -> None:
    """Recognise the activity of the main person: top labels with scores for a picture,
    labels over time (segments) for a video or a pose sequence."""
    from vvipe_core.api import VVIPE

    try:
        vvipe = VVIPE.load(checkpoint)
        clf = ActivityClassifier.load(classifier, vvipe)
        suffix = path.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            _show_clips(clf, [_video_clip(path, model, smooth)], top, window, stride)
        elif suffix in POSE_SUFFIXES:
            _show_pose_file(clf, path, top, window, stride)
        elif suffix in IMAGE_SUFFIXES or not path.exists():
            _show_picture(clf, path, model, top)
        else:
            raise VVIPEError(path, "not a picture, a video or a pose file (.npz, .json, .csv)")
    except NoPersonFound as error:
        _fail(str(error), code=1)
    except VVIPEError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        _fail("interrupted", code=130)


def _show_picture(clf: ActivityClassifier, path: Path, model: Path | None, top: int) -> None:
    from vvipe_core.detect import PoseDetector

    with PoseDetector(model) as detector:
        person = detector.detect_person(path)
    prediction = clf.predict_2d(person.keypoints[None])
    if not prediction.valid[0]:
        raise NoPersonFound(path, "too few torso joints visible to classify the person")
    console.print(f"{escape(path.name)}: {_labels(prediction.top(top)[0])}")


def _video_clip(path: Path, model: Path | None, smooth: bool) -> Clip:
    from tqdm import tqdm

    from vvipe_core.detect import PoseDetector
    from vvipe_core.smoothing import DEFAULT_SMOOTHING, one_euro
    from vvipe_core.video import VideoDetection, track_main_person

    with PoseDetector(model) as detector:
        run = VideoDetection(path, detector)
        frames = tqdm(run, total=run.info.frame_count or None, desc=path.name, unit="frame")
        track = track_main_person(frames, (run.info.width, run.info.height))
    keypoints = track.keypoints
    if smooth and len(track) > 1:
        keypoints = one_euro(keypoints, times_s=track.time_s, settings=DEFAULT_SMOOTHING)
    return Clip(path.name, keypoints, track.time_s, dense=True)


def _show_pose_file(
    clf: ActivityClassifier, path: Path, top: int, window: int | None, stride: int | None
) -> None:
    from vvipe_core.data import DataFileError, load_poses
    from vvipe_core.export import load_poses as load_exported

    if path.suffix.lower() == ".npz" and not _is_exported(path):
        try:
            data = load_poses(path)
        except DataFileError as error:
            raise VVIPEError(path, error.reason) from None
        _show_clips(clf, _data_clips(data), top, window, stride)
        return
    sequence = load_exported(path)
    poses = np.asarray(sequence.poses, dtype=np.float32)
    if poses.shape[1:] != (17, 3):
        raise VVIPEError(path, f"expected 17-joint 3D poses, got shape {poses.shape}")
    if len(poses) == 0:
        raise VVIPEError(path, "holds no poses")
    if sequence.fps is None:  # a folder of pictures: each pose on its own
        names = sequence.source or [f"pose {i}" for i in range(len(poses))]
        prediction = clf.predict_3d(poses)
        for name, best in zip(names, prediction.top(top)):
            console.print(f"{escape(str(name))}: {_labels(best) if best else '(no pose)'}")
        return
    clip = Clip(path.name, poses, sequence.time_s, dense=True)
    _show_clips(clf, [clip], top, window, stride)


def _is_exported(path: Path) -> bool:
    """Files of `vvipe lift` carry a format name; our data files do not."""
    try:
        with np.load(path, allow_pickle=False) as d:
            return "format" in d.files
    except (OSError, ValueError, zipfile.BadZipFile):  # the data reader will say what is wrong
        return False


def _data_clips(data: PoseSet) -> list[Clip]:
    frame = data.extra.get("frame", np.arange(len(data)))
    activity = data.extra.get("activity")
    clips = []
    for name in dict.fromkeys(data.sequence):  # sequences in file order
        rows = np.flatnonzero(data.sequence == name)
        rows = rows[np.argsort(frame[rows], kind="stable")]
        truth = str(activity[rows[0]]) if activity is not None else ""
        clips.append(Clip(str(name), data.poses[rows], None, dense=False, truth=truth))
    return clips


def _show_clips(
    clf: ActivityClassifier, clips: list[Clip], top: int, window: int | None, stride: int | None
) -> None:
    results = [(clip, clf.predict_windows(clip.frames, window, stride, thin_frames=clip.dense))
               for clip in clips]
    results = [(clip, prediction) for clip, prediction in results if len(prediction)]
    if not results:
        raise NoPersonFound(None, "no frame with a person that can be classified")
    if len(results) == 1:
        _segments_table(*results[0])
    summary = Table(title="whole sequences (mean of the window scores)")
    for column in ("sequence", "windows", f"top {top}") + (("label in file",) if
                                                              clips[0].truth else ()):
        summary.add_column(column)
    right = 0
    for clip, prediction in results:
        overall = Predictions(prediction.classes, prediction.scores.mean(axis=0, keepdims=True))
        cells = [escape(clip.name), str(len(prediction)), _labels(overall.top(top)[0])]
        if clip.truth:
            cells.append(escape(clip.truth))
            right += overall.labels[0] == clip.truth
        summary.add_row(*cells)
    console.print(summary)
    if clips[0].truth:
        console.print(f"best label = the file's label in {right} of {len(results)} sequences")


def _segments_table(clip: Clip, prediction: Predictions) -> None:
    unit = "s" if clip.times_s is not None else "pose"
    n = len(prediction)
    table = Table(title=f"{escape(clip.name)}: labels over time ({n} window{'s' * (n != 1)})")
    for column in (f"from ({unit})", f"to ({unit})", "label", "score"):
        table.add_column(column, justify="right" if column != "label" else "left")
    for segment in prediction.segments():
        span = (segment.start, segment.stop - 1)
        if clip.times_s is not None:
            span = tuple(f"{clip.times_s[i]:.2f}" for i in span)
        table.add_row(str(span[0]), str(span[1]), segment.label, f"{segment.score:.2f}")
    console.print(table)


def _labels(best: list[tuple[str, float]]) -> str:
    return "  ".join(f"{escape(label)} {score:.2f}" for label, score in best)


def _fail(message: str, code: int = 2) -> None:
    errors.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def classify_train(
    data: Annotated[Path, typer.Option(help="Labelled poses (our npz with `activity`).")] = Path(
        "../shared/data/cmu_h36m17_train.npz"),
    out: Annotated[Path, typer.Option("--out", "-o", help="Classifier file to write.")] = Path(
        "assets/activity_classifier.npz"),
    checkpoint: Annotated[Path | None, typer.Option(
        help="V-VIPE checkpoint [default: the bundled one].")] = None,
    method: Annotated[str, typer.Option(help=f"One of {', '.join(METHODS)}.")] = "probe",
    feature: Annotated[str, typer.Option(help=f"One of {', '.join(FEATURES)}.")] = "embedding",
    window: Annotated[int, typer.Option(min=2, help="Poses per window.")] = DEFAULT_WINDOW,
    max_samples: Annotated[int, typer.Option(
        min=1, help="Training poses, and separately windows, drawn at random.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Seed of the draws and of the training.")] = 0,
    threads: Annotated[int, typer.Option(min=1, help="torch threads.")] = 1,
) -> None:
    """Train an activity classifier on labelled 3D poses (and their 2D projections)."""
    import torch

    from vvipe_core.api import VVIPE
    from vvipe_core.atomic import check_writable
    from vvipe_core.data import load_poses

    if method not in METHODS or feature not in FEATURES:
        raise typer.BadParameter(f"--method: {METHODS}; --feature: {FEATURES}")
    torch.set_num_threads(threads)
    try:
        check_writable(out)
        vvipe = VVIPE.load(checkpoint, device="cpu")
        poses = load_poses(data)
        if "activity" not in poses.extra:
            raise VVIPEError(data, "has no `activity` labels")
    except VVIPEError as error:
        _fail(str(error))
    poses = poses.subset(~np.isin(poses.extra["activity"], UNLABELLED))
    clf = ActivityClassifier.fit(
        vvipe, poses.poses, poses.extra["activity"], sequence=poses.sequence,
        frame=poses.extra.get("frame"), feature=feature, method=method, window=window,
        max_samples=max_samples, seed=seed,
        meta={"data": data.name, "excluded_labels": list(UNLABELLED)},
    )
    try:
        clf.save(out)
    except VVIPEError as error:
        _fail(str(error), code=1)
    size = out.stat().st_size / 1e6
    console.print(f"{len(clf.classes)} activities, {clf.meta['n_single']:,} poses and "
                  f"{clf.meta['n_windows']:,} windows of {window} -> {escape(str(out))} "
                  f"({size:.1f} MB)")


def register(app: typer.Typer) -> None:
    app.command("classify")(classify)
    app.command("classify-train")(classify_train)
