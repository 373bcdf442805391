"""The work behind the window, as plain functions of vvipe_core calls (they run in worker
threads, so they touch no widget and no state).

torch and scipy (through the model, the named directions and the tracker) are imported inside
the functions that need them: the first job to run one imports them, in its worker thread,
while the window paints and shows that it is loading."""
from __future__ import annotations

import threading
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.state import Picture, Sequence, VirtualViews
from vvipe_core.cameras import FRONT_AZIMUTH, view_canonical
from vvipe_core.classify import ActivityClassifier, ClassifierFileError, Segment
from vvipe_core.data import load_poses
from vvipe_core.detect import Pose2D, PoseDetector
from vvipe_core.errors import ExportError, VideoReadError, VVIPEError
from vvipe_core.export import FORMAT_NAME as EXPORT_FORMAT
from vvipe_core.export import PoseSequence, save_poses
from vvipe_core.export import load_poses as load_exported_poses
from vvipe_core.gallery import FORMAT as GALLERY_FORMAT
from vvipe_core.gallery import Gallery, Hit
from vvipe_core.library import LibraryError, LibraryHit, PoseLibrary, index_paths, source_picture
from vvipe_core.lifting import lift_track, liftable
from vvipe_core.skeleton import H36M17
from vvipe_core.video import VIDEO_SUFFIXES, VideoDetection, read_frame

if TYPE_CHECKING:
    from vvipe_core.api import VVIPE
    from vvipe_core.generation import NamedDirections

TOP_ACTIVITIES = 3
LIBRARY_THUMBNAIL_SIDE = 160
POSE_FILE_FPS = 30.0  # pose files do not say; 30 is a common capture rate
VIRTUAL_IMAGE = (1000, 1000)  # view_canonical's default picture


def detect_pictures(paths: list[Path]) -> list[tuple[Picture, list[Pose2D]]]:
    """Everyone in each picture, largest first (a detector per call: they are not
    thread-safe, and each job runs in its own thread)."""
    results = []
    with PoseDetector() as detector:
        for path in paths:
            loaded = detector.prepare(path)
            results.append((Picture(path, loaded.rgb, loaded.size), detector.detect(loaded)))
    return results


def open_pictures(
    paths: list[Path], *, cancel: threading.Event, progress: Callable[[int, int], None],
) -> tuple[list[tuple[Picture, list[Pose2D]]], list[str]]:
    """Everyone in each picture of a folder or a multiple selection; the pictures that cannot
    be read are skipped and named (one line each) instead of failing the others."""
    results, failed = [], []
    with PoseDetector() as detector:
        for done, path in enumerate(paths):
            if cancel.is_set():
                break
            progress(done, len(paths))
            try:
                loaded = detector.prepare(path)
            except VVIPEError as error:
                failed.append(str(error))
                continue
            results.append((Picture(path, loaded.rgb, loaded.size), detector.detect(loaded)))
    return results, failed


def detect_picture(path: Path) -> tuple[Picture, list[Pose2D]]:
    return detect_pictures([path])[0]


def load_model(path: Path | None, device: str | None) -> VVIPE:
    """device None: the GPU when there is one."""
    from vvipe_core.api import VVIPE

    return VVIPE.load(path, device=device or devices()[-1])


def embed_gallery(
    gallery: Gallery | None, model: VVIPE
) -> tuple[Gallery | None, NamedDirections | None]:
    """The gallery embedded by `model` (a gallery's embeddings belong to one model), and the
    named directions (knee bend, arm raise...) fitted on it."""
    from vvipe_core.generation import named_directions

    if gallery is None:
        return None, None
    embedded = gallery.with_model(model)
    return embedded, named_directions(embedded.poses, embedded.embeddings)


def load_gallery(path: Path | None) -> Gallery:
    return Gallery.load(path)


def search(
    gallery: Gallery, latent: np.ndarray, k: int, keypoints: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
) -> tuple[list[Hit], np.ndarray]:
    """The k nearest gallery poses (checked against the keypoints when given) and their front
    views (for thumbnails)."""
    hits = gallery.search(latent, k, keypoints, confidence)
    return hits, front_views(np.stack([hit.pose for hit in hits]))


def load_npz(path: Path, model: VVIPE) -> Gallery | Sequence:
    """A .npz file is a gallery or poses exported by the app or `vvipe lift` (they say so in
    their `format`), or a pose file of our data format."""
    try:
        with np.load(path, allow_pickle=False) as data:
            kind = str(data["format"]) if "format" in data.files else ""
    except (OSError, ValueError, zipfile.BadZipFile):  # load_poses names the file and reason
        kind = ""
    if kind == GALLERY_FORMAT:
        return Gallery.load(path)
    return load_exported(path, model) if kind == EXPORT_FORMAT else load_pose_file(path, model)


def load_exported(path: Path, model: VVIPE) -> Sequence:
    """Poses written by an export (.json, .csv, .npz), canonicalised unless they are."""
    saved = load_exported_poses(path)
    if saved.poses.shape[-1] != 3 or saved.skeleton.n != H36M17.n:
        raise ExportError(path, "holds 2D keypoints or another skeleton, not 3D poses to show")
    poses = saved.poses.astype(np.float32)
    if saved.units != "canonical":
        found = np.isfinite(poses).all(axis=(1, 2))
        poses[found] = model.canonicalize(poses[found]) if found.any() else poses[found]
        poses[~found] = np.nan
    sources = saved.source or [""] * len(poses)
    labels = [f"{Path(s).name}, frame {i}" if s else f"frame {i}"
              for i, s in zip(saved.frame_index, sources)]
    return Sequence(path, poses, fps=saved.fps or POSE_FILE_FPS, confidence=saved.confidence,
                    labels=labels)


def load_pose_file(path: Path, model: VVIPE) -> Sequence:
    data = load_poses(path)
    labels = [f"{s} #{f}" for s, f in zip(data.sequence, data.extra.get("frame", range(len(data))))]
    return Sequence(path, model.canonicalize(data.poses), fps=POSE_FILE_FPS, labels=labels)


def lift_video(
    path: Path, model: VVIPE, *, cancel: threading.Event, progress: Callable[[int, int], None]
) -> Sequence | None:
    """Detect, track and lift everyone in a video (None when cancelled). Returns the
    sequence of the person seen longest, with everyone's in `people`."""
    from vvipe_core.tracking import track_people

    with PoseDetector() as detector:
        detection = VideoDetection(path, detector, progress=progress, cancel=cancel)
        results = list(detection)
        if detection.cancelled:
            return None
        tracks = track_people(results, (detection.info.width, detection.info.height))
    if not tracks:
        raise VideoReadError(path, "nobody was found in the video")
    people = {}
    for person, track in tracks.items():
        lifted = lift_track(model, track)
        labels = [f"frame {i} ({t:.2f} s)" + (f", person {person}" if len(tracks) > 1 else "")
                  for i, t in zip(lifted.frame_index, lifted.time_s)]
        people[person] = Sequence(path, lifted.poses, detection.info.fps, lifted.keypoints,
                                  lifted.confidence, track.image_size, labels, person)
    longest = max(people, key=lambda p: np.isfinite(people[p].poses).all(axis=(1, 2)).sum())
    return replace(people[longest], people=people)


def video_frame(sequence: Sequence, frame: int) -> np.ndarray | None:
    """The picture under a video's keypoints (None for pose files, which have none)."""
    if sequence.path.suffix.lower() not in VIDEO_SUFFIXES:
        return None
    return read_frame(sequence.path, frame)


def export_poses(path: Path, model: VVIPE, sequence: Sequence | None,
                 pose: np.ndarray | None) -> Path:
    """The whole sequence when one is shown, else the current pose, in canonical units."""
    meta = {"checkpoint": model.source}
    if sequence is not None:
        exported = PoseSequence(sequence.poses, "canonical", fps=sequence.fps,
                                confidence=sequence.confidence,
                                meta=meta | {"source": str(sequence.path)})
    elif pose is not None:
        exported = PoseSequence(pose[None], "canonical", meta=meta)
    else:
        raise ValueError("there is no pose to export yet")
    return save_poses(path, exported)


def devices() -> list[str]:
    """Where the model can run: the CPU, and the GPU when torch sees one."""
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def index_library(
    directory: Path, paths: list[Path], model: VVIPE, *, cancel: threading.Event,
    progress: Callable[[int, int], None],
) -> PoseLibrary:
    """Add new and changed files to a library, reporting (files done, total). A cancel drops
    only the file in progress: the finished ones are saved."""
    index_paths(directory, paths, model, cancel=cancel,
                progress=lambda step: progress(step.files_done, step.files_total))
    return PoseLibrary.open(directory)


def open_library(directory: Path) -> PoseLibrary:
    return PoseLibrary.open(directory)


def search_library(
    library: PoseLibrary, latent: np.ndarray, k: int
) -> list[tuple[LibraryHit, np.ndarray]]:
    """The k nearest poses of a library, each with a thumbnail of its picture or frame."""
    if library.embedding_dim != len(latent):
        raise LibraryError(library.directory, f"made with another model ({library.checkpoint})")
    hits = library.search(latent, k)
    return [(hit, source_picture(hit.entry, LIBRARY_THUMBNAIL_SIDE)) for hit in hits]


def embed_person(model: VVIPE, person: Pose2D) -> np.ndarray | None:
    """The embedding of one detected person; None when too few torso joints were seen."""
    if not liftable(person.keypoints[None])[0]:
        return None
    return model.embed_2d(person.keypoints[None])[0]


def load_classifier(path: Path | None, model: VVIPE) -> tuple[ActivityClassifier | None, str]:
    """The activity classifier at `path` (None: the bundled one) for `model`, or None and why:
    a classifier is trained for one checkpoint, so most models have none (not an error)."""
    try:
        return ActivityClassifier.load(path, model), ""
    except ClassifierFileError as error:
        return None, str(error)


def activities(classifier: ActivityClassifier, pose: np.ndarray) -> list[tuple[str, float]]:
    """The best labels of one 3D pose (17, 3) or one person's 2D keypoints (17, 2)."""
    x = pose[None]
    prediction = classifier.predict_3d(x) if x.shape[-1] == 3 else classifier.predict_2d(x)
    return prediction.top(TOP_ACTIVITIES)[0]


def activity_track(classifier: ActivityClassifier, sequence: Sequence) -> list[Segment]:
    """Labels over a sequence's frames, from windows of its video keypoints or its poses
    (dense frames thinned as the training data was; thinning already thin data keeps it)."""
    frames = sequence.keypoints if sequence.keypoints is not None else sequence.poses
    return classifier.predict_windows(frames, thin_frames=True).segments()


def virtual_views(model: VVIPE, pose: np.ndarray, n: int, elevation: float) -> VirtualViews:
    azimuths = FRONT_AZIMUTH + np.arange(n) * 360.0 / n
    keypoints = view_canonical(np.repeat(pose[None], n, axis=0), azimuths, elevation)
    return VirtualViews(azimuths, keypoints, VIRTUAL_IMAGE, model.lift(keypoints))


def front_views(poses: np.ndarray) -> np.ndarray:
    """(N, 17, 3) canonical -> (N, 17, 2) as seen from the front (for thumbnails)."""
    return view_canonical(poses, np.full(len(poses), FRONT_AZIMUTH))
