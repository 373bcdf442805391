"""`vvipe lift`: a picture, a folder of pictures or a video -> 3D poses in a file.

Exit codes: 0 done (bad items in a folder or empty video frames are skipped and reported),
1 nobody could be lifted, or a video ends before the frames it announces (what was decoded is
saved), 2 unusable input or options, 130 interrupted.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from tqdm import tqdm

from vvipe_core.api import VVIPE
from vvipe_core.atomic import WriteError
from vvipe_core.checkpoint import CheckpointError
from vvipe_core.detect import PoseDetector
from vvipe_core.errors import DetectionError, ExportError, NoPersonFound, VVIPEError
from vvipe_core.export import WRITERS, PoseSequence, save_poses
from vvipe_core.images import IMAGE_SUFFIXES
from vvipe_core.lifting import lift_keypoints, lift_track, pose_sequence
from vvipe_core.smoothing import DEFAULT_SMOOTHING
from vvipe_core.tracking import track_people
from vvipe_core.video import VIDEO_SUFFIXES, PoseTrack, VideoDetection, track_main_person

console = Console()
errors = Console(stderr=True)


CheckpointOption = Annotated[Path | None, typer.Option(
    help="V-VIPE checkpoint (default: the bundled one)."
)]
LandmarkerOption = Annotated[Path | None, typer.Option(
    help="MediaPipe pose landmarker .task file (default: the bundled one)."
)]


@dataclass
class Outcome:
    sequence: PoseSequence
    summary: str
    lifted: int
    skipped: list[str] = field(default_factory=list)
    incomplete: str | None = None  # why not all of the input could be read


def lift(
    path: Annotated[Path, typer.Argument(help="A picture, a folder of pictures, or a video.")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output: .json, .csv, .npz or .bvh (default: NAME_3d.json here)"
    )] = None,
    smooth: Annotated[bool, typer.Option(
        "--smooth/--no-smooth", help="Video: One Euro smoothing of 2D and 3D."
    )] = True,
    stride: Annotated[int, typer.Option(min=1, help="Video: use every Nth frame.")] = 1,
    checkpoint: CheckpointOption = None,
    model: LandmarkerOption = None,
    all_people: Annotated[bool, typer.Option(
        "--all-people", help="Everyone, not only the main person: each frame entry gains "
        "\"person\" (a picture's rank, largest first; a video's track id); BVH: one file per "
        "person (NAME.p1.bvh, ...). Videos: each frame is searched as a picture (slower)."
    )] = False,
) -> None:
    """Find the main person (or everyone) in each picture or frame, lift them to 3D and save
    the poses (nominal millimetres, canonical frame: pelvis at the origin, +z up, facing +y)."""
    out = out or Path(f"{path.stem or 'poses'}_3d.json")
    try:
        kind = _kind(path)
        if out.suffix.lower() not in WRITERS:
            raise ExportError(out, f"unknown export format; use one of {', '.join(WRITERS)}")
        vvipe = VVIPE.load(checkpoint)
        with PoseDetector(model) as detector:
            outcome = kind(path, detector, vvipe, Settings(smooth, stride, all_people))
        outcome.sequence.meta.update(checkpoint=vvipe.source, detector_sha256=detector.model.sha256)
        for item in outcome.skipped:
            _say(errors, f"[yellow]skipped[/yellow] {escape(item)}")
        if outcome.lifted == 0:
            _fail(f"{path}: nobody could be lifted ({outcome.summary})", code=1)
        written = save_people(out, outcome.sequence)
    except (NoPersonFound, WriteError) as error:  # the work was done, or there was none
        _fail(str(error), code=1)
    except (VVIPEError, CheckpointError) as error:
        _fail(str(error))
    except KeyboardInterrupt:
        _fail("interrupted", code=130)
    _say(console, escape(f"{outcome.summary} -> {', '.join(map(str, written))}"))
    if outcome.incomplete:
        _fail(outcome.incomplete, code=1)


def save_people(out: Path, sequence: PoseSequence) -> list[Path]:
    """save_poses, except that BVH (one skeleton per file) gets one file per person."""
    if sequence.person is None or out.suffix.lower() != ".bvh":
        return [save_poses(out, sequence)]
    return [save_poses(out.with_name(f"{out.stem}.p{person}{out.suffix}"),
                       PoseSequence(sequence.poses[sequence.person == person], sequence.units,
                                    fps=sequence.fps, meta=sequence.meta))
            for person in np.unique(sequence.person)]


def _say(where: Console, markup: str) -> None:
    where.print(markup, highlight=False, soft_wrap=True)  # file paths stay on one line


def _fail(message: str, code: int = 2) -> None:
    _say(errors, f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


@dataclass(frozen=True)
class Settings:
    smooth: bool
    stride: int
    all_people: bool


Runner = Callable[[Path, PoseDetector, VVIPE, Settings], Outcome]


def _kind(path: Path) -> Runner:
    if path.is_dir():
        return _folder
    if not path.exists():
        raise DetectionError(path, "no such file or folder")
    return _video if path.suffix.lower() in VIDEO_SUFFIXES else _picture


def _picture(path: Path, detector: PoseDetector, vvipe: VVIPE, settings: Settings) -> Outcome:
    poses = detector.detect(path)
    if not poses:
        raise NoPersonFound(path, "no person found in the picture")
    people = poses if settings.all_people else poses[:1]
    lifted = lift_keypoints(vvipe, np.stack([person.keypoints for person in people]))
    facts = {"person": np.arange(1, len(people) + 1)} if settings.all_people else {}
    sequence = pose_sequence(lifted, confidence=np.stack([p.confidence for p in people]),
                             source=[path.name] * len(people), frame_index=np.zeros(len(people)),
                             **facts)
    count = _count(lifted)
    if settings.all_people:
        summary = f"lifted {count} of {len(poses)} people from {path.name}"
    else:
        others = f" ({len(poses)} people, lifted the largest)" if len(poses) > 1 else ""
        summary = f"lifted 1 person from {path.name}{others}"
    return Outcome(sequence, summary, count)


def _folder(path: Path, detector: PoseDetector, vvipe: VVIPE, settings: Settings) -> Outcome:
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DetectionError(path, "no pictures in this folder")
    names, ranks, keypoints, confidence, skipped = [], [], [], [], []
    for file in tqdm(files, desc="pictures", unit="img"):
        try:
            people = detector.detect(file)
            if not people:
                raise NoPersonFound(file, "no person found in the picture")
        except DetectionError as error:
            skipped.append(str(error))
            continue
        for rank, person in enumerate(people if settings.all_people else people[:1], start=1):
            names.append(file.name)
            ranks.append(rank)
            keypoints.append(person.keypoints)
            confidence.append(person.confidence)
    if not names:
        empty = pose_sequence(np.zeros((0, 17, 3)))
        return Outcome(empty, f"0 of {len(files)} pictures", 0, skipped)
    lifted = lift_keypoints(vvipe, np.stack(keypoints))
    for name, rank in np.asarray(list(zip(names, ranks)))[np.isnan(lifted).any(axis=(1, 2))]:
        who = f" person {rank}" if settings.all_people else ""
        skipped.append(f"{path / name}{who}: too few torso joints visible to lift")
    facts = {"person": np.array(ranks)} if settings.all_people else {}
    sequence = pose_sequence(lifted, confidence=np.stack(confidence), source=names, **facts)
    count = _count(lifted)
    pictures = len(set(np.asarray(names)[~np.isnan(lifted).any(axis=(1, 2))]))
    people = f" ({count} people)" if settings.all_people else ""
    return Outcome(sequence, f"lifted {pictures} of {len(files)} pictures{people}", count, skipped)


def _video(path: Path, detector: PoseDetector, vvipe: VVIPE, settings: Settings) -> Outcome:
    smooth, stride = settings.smooth, settings.stride
    run = VideoDetection(path, detector, stride=stride, everyone=settings.all_people)
    total = -(-run.info.frame_count // stride) or None  # ceil
    frames = tqdm(run, total=total, desc=path.name, unit="frame")
    size = (run.info.width, run.info.height)
    if settings.all_people:
        everyone = _video_people(path, track_people(frames, size), vvipe, run.info.fps / stride,
                                 smooth)
        return replace(everyone, incomplete=run.truncation())
    track = track_main_person(frames, size)
    result = lift_track(vvipe, track, DEFAULT_SMOOTHING if smooth else None)
    fps = run.info.fps / stride
    sequence = pose_sequence(result.poses, fps=fps, time_s=result.time_s,
                         frame_index=result.frame_index, confidence=result.confidence)
    sequence.meta.update(smoothing="one euro, 2D and 3D" if smooth else "none")
    count = int(result.lifted.sum())
    empty = len(track.frames_without_person)
    summary = f"lifted {count} of {len(track)} frames ({empty} without a person)"
    if smooth and len(track) > 2:
        summary += f", 3D jitter {result.jitter_raw:.3g} -> {result.jitter:.3g} torso/frame²"
    skipped = [f"{path} frame {i}: no person" for i in track.frames_without_person[:5]]
    if empty > 5:
        skipped.append(f"... and {empty - 5} more frames without a person")
    return Outcome(sequence, summary, count, skipped, run.truncation())


def _video_people(
    path: Path, tracks: dict[int, PoseTrack], vvipe: VVIPE, fps: float, smooth: bool
) -> Outcome:
    """Every tracked person, each over all frames (NaN rows where not seen), person by person."""
    if not tracks:
        empty = pose_sequence(np.zeros((0, 17, 3)), fps=fps, person=np.zeros(0, dtype=int))
        return Outcome(empty, f"nobody found in {path.name}", 0)
    lifted = {person: lift_track(vvipe, track, DEFAULT_SMOOTHING if smooth else None)
              for person, track in tracks.items()}
    people = list(lifted.values())
    sequence = pose_sequence(
        np.concatenate([one.poses for one in people]), fps=fps,
        time_s=np.concatenate([one.time_s for one in people]),
        frame_index=np.concatenate([one.frame_index for one in people]),
        confidence=np.concatenate([one.confidence for one in people]),
        person=np.repeat(list(lifted), [len(one.poses) for one in people]),
    )
    sequence.meta.update(smoothing="one euro per person, 2D and 3D" if smooth else "none")
    counts = ", ".join(f"person {p} in {int(one.lifted.sum())}" for p, one in lifted.items())
    frames = len(people[0].poses)
    summary = f"lifted {len(lifted)} people in {frames} frames ({counts})"
    return Outcome(sequence, summary, int(sum(one.lifted.sum() for one in people)))


def _count(lifted: np.ndarray) -> int:
    return int((~np.isnan(lifted).any(axis=(1, 2))).sum())


def register(app: typer.Typer) -> None:
    app.command()(lift)
