"""2D keypoints from pictures: MediaPipe Tasks' PoseLandmarker, mapped to our 17 joints by name.

Decisions:
- Model file: the bundled ``assets/models/pose_landmarker_full.task`` must match its sha256, since
  a corrupt or swapped file would give plausible-looking garbage. A user-given model (e.g. the
  "lite" or "heavy" variant) may have any hash; it must be a readable ``.task`` bundle (a zip
  holding ``.tflite`` files). Its hash is kept in :class:`ModelFile` so runs can report it.
- Joint confidence: a joint derived from several landmarks (pelvis, spine, thorax, head top) gets
  the product of their visibilities; a joint below ``min_joint_confidence`` becomes NaN in
  ``Pose2D.keypoints`` (the façade treats NaN as missing) and True in ``Pose2D.missing``;
  ``keypoints_raw`` keeps MediaPipe's guess, e.g. for drawing it dimmed.
- Several people: every person found (up to ``num_poses``) is returned, largest box first, so
  ``poses[0]`` is the main person. MediaPipe alone often returns one of two people standing
  side by side, so ``detect`` blanks the boxes of the people found and looks again until nobody
  new turns up ("mask and redetect"). MediaPipe's person detector sees a square: in a wide
  picture people shrink until it finds nobody, so pictures wider than ``TILE_ASPECT`` are also
  searched in half-overlapping square tiles. On 198 two-person composites (docs/BENCHMARKS.md)
  MediaPipe alone found both people in 71, masking in 188, tiling alone in 178 (20 with a
  duplicate), both together in 196 with no miss (2 with a duplicate), at 5 times the time of
  one pass. Ordinary 4:3 and 3:2 landscape photos are not tiled, so they cost one or two
  passes. A second look can mistake furniture for a
  squashed person, or see half a person at a tile's edge, so people found there must be
  clearly visible (mean landmark visibility >= ``REDETECT_MIN_VISIBILITY``; real people
  scored >= 0.92, the one false find 0.78) and must not share most of their box with someone
  already found (``SAME_PERSON_OVERLAP`` of the smaller box).
- Coordinates: pixels of the original picture (after EXIF orientation), x right, y down, origin
  at the top-left corner of the picture; downscaling for detection is undone exactly because
  MediaPipe answers in normalised coordinates.
"""
from __future__ import annotations

import hashlib
import os
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vvipe_core.bundled import bundled
from vvipe_core.errors import ModelFileError, NoPersonFound
from vvipe_core.images import DETECT_MAX_SIDE, LoadedImage, image_from_array, load_image
from vvipe_core.skeleton import H36M17, MEDIAPIPE33, convert

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11

BUNDLED_MODEL = bundled("assets/models/pose_landmarker_full.task")
BUNDLED_MODEL_SHA256 = "4eaa5eb7a98365221087693fcc286334cf0858e2eb6e15b506aa4a7ecdcec4ad"
DEFAULT_MIN_JOINT_CONFIDENCE = 0.5
REDETECT_MIN_VISIBILITY = 0.85
MASK_PADDING = 0.1  # the blanked box grows by this fraction of its width on every side
MASK_GREY = 128
SAME_PERSON_OVERLAP = 0.5  # of the smaller box: a second look's find this much inside a known
# person's box (or around it) is that person again
TILE_ASPECT = 1.5  # pictures wider than this times their height are also searched in tiles

# (17, 33): which landmarks make up each of our joints (their product is the joint's confidence).
_SOURCES = MEDIAPIPE33.conversion_matrix(H36M17) > 0

ImageInput = str | Path | np.ndarray | LoadedImage


@dataclass(frozen=True)
class ModelFile:
    path: Path
    sha256: str
    bundled: bool
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Pose2D:
    """One person in one picture. Pixel coordinates of the original picture.

    keypoints: (17, 2) float32 in H36M17 order; NaN where confidence < the detector's threshold.
    keypoints_raw: (17, 2) the same before masking.
    confidence: (17,) float32 in [0, 1]; missing: (17,) bool, True where keypoints is NaN.
    box: (x0, y0, x1, y1) around the 33 landmarks, clipped to the picture.
    image_size: (width, height) of the picture.
    landmarks: (33, 5) MediaPipe landmarks: x, y (px), z (px, relative depth, smaller = nearer),
        visibility, presence.
    world_landmarks: (33, 3) MediaPipe world landmarks, metres, origin between the hips, y down.
    """

    keypoints: np.ndarray
    keypoints_raw: np.ndarray
    confidence: np.ndarray
    missing: np.ndarray
    box: tuple[float, float, float, float]
    image_size: tuple[int, int]
    landmarks: np.ndarray
    world_landmarks: np.ndarray

    @property
    def box_area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def load_model(path: str | Path | None = None) -> ModelFile:
    """Read and check the pose-landmarker model: the bundled one (sha256 checked) by default."""
    bundled = path is None
    path = BUNDLED_MODEL if path is None else Path(path)
    hint = " (the bundled model ships with the project: restore it from the repository)"
    if not path.is_file():
        reason = "no such model file" if not path.exists() else "not a file"
        raise ModelFileError(path, reason + (hint if bundled else ""))
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelFileError(path, f"cannot read the model file: {error.strerror or error}")
    digest = hashlib.sha256(data).hexdigest()
    if bundled and digest != BUNDLED_MODEL_SHA256:
        raise ModelFileError(
            path, f"sha256 {digest} differs from {BUNDLED_MODEL_SHA256}: corrupt or replaced{hint}"
        )
    if not bundled:
        _check_task_bundle(path)
    return ModelFile(path=path, sha256=digest, bundled=bundled, data=data)


def _check_task_bundle(path: Path) -> None:
    if path.suffix.lower() != ".task":
        raise ModelFileError(path, "expected a MediaPipe pose landmarker '.task' file")
    try:
        with zipfile.ZipFile(path) as bundle:
            names = bundle.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        raise ModelFileError(path, f"not a MediaPipe '.task' bundle (not a zip archive: {error})")
    if not any(name.endswith(".tflite") for name in names):
        raise ModelFileError(path, "not a MediaPipe '.task' bundle (no .tflite model inside)")


@contextmanager
def quiet_native_stderr(enabled: bool = True) -> Iterator[None]:
    """Silence MediaPipe's native (C++) log lines, which bypass Python's sys.stderr.

    It redirects file descriptor 2 for the duration, so it is used only around the calls that
    log (creating, first use and closing a landmarker), not around whole runs.
    """
    if not enabled:
        yield
        return
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (e.g. a windowed app): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


class PoseDetector:
    """Finds people in pictures and gives their 17 keypoints. Not thread-safe: one per thread.

    >>> with PoseDetector() as detector:
    ...     poses = detector.detect("photo.jpg")   # [] when nobody is found
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        num_poses: int = 4,
        min_joint_confidence: float = DEFAULT_MIN_JOINT_CONFIDENCE,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        max_side: int | None = DETECT_MAX_SIDE,
        quiet: bool = True,
    ) -> None:
        if num_poses < 1:
            raise ValueError(f"num_poses must be at least 1, got {num_poses}")
        self.model = load_model(model_path)
        self.num_poses = num_poses
        self.min_joint_confidence = min_joint_confidence
        self.max_side = max_side
        self.quiet = quiet
        self._thresholds = {
            "min_pose_detection_confidence": min_detection_confidence,
            "min_pose_presence_confidence": min_presence_confidence,
            "min_tracking_confidence": min_tracking_confidence,
        }
        self._image_landmarker = self._create_landmarker(video=False)
        self._warmed_up = False

    def detect(self, image: ImageInput) -> list[Pose2D]:
        """All people in a picture (file path, RGB array or LoadedImage), largest first, up to
        ``num_poses``: the people found are blanked out and the picture searched again until
        nobody new turns up; a wide picture's square tiles are searched the same way."""
        loaded = self.prepare(image)
        found = self._search(loaded.rgb, loaded.size, 0.0, loaded.size, [])
        height, width = loaded.rgb.shape[:2]
        if width > TILE_ASPECT * height:
            scale = loaded.size[0] / width  # picture pixels per rgb pixel
            for left in sorted({*range(0, width - height, max(height // 2, 1)), width - height}):
                tile = np.ascontiguousarray(loaded.rgb[:, left : left + height])
                found += self._search(tile, (height * scale, loaded.size[1]), left * scale,
                                      loaded.size, found)
        return sorted(found, key=lambda pose: -pose.box_area)[: self.num_poses]

    def _search(self, rgb: np.ndarray, size: tuple[float, float], left: float,
                picture_size: tuple[int, int], known: list[Pose2D]) -> list[Pose2D]:
        """Mask and redetect in `rgb`: the whole picture, or a tile of it `size` picture pixels
        large starting `left` pixels from the picture's left edge. Returns the people not in
        `known`, in picture pixels. Only the whole picture's first look is taken as it comes."""
        found: list[Pose2D] = []
        first_look = left == 0 and size == picture_size
        while len(known) + len(found) < self.num_poses:
            new = []
            for pose in self.detect_once(rgb, (round(size[0]), round(size[1]))):
                moved = _moved(pose, left, picture_size)
                clear = first_look or pose.landmarks[:, 3].mean() >= REDETECT_MIN_VISIBILITY
                if clear and not any(_same_person(moved, other) for other in known + found):
                    new.append(pose)
                    found.append(moved)
            if not new:
                break
            rgb = mask_people(rgb, new, size)
            first_look = False
        return found

    def detect_once(self, rgb: np.ndarray, size: tuple[int, int]) -> list[Pose2D]:
        """One MediaPipe pass over an RGB array (no second look): what MediaPipe alone finds;
        keypoints in `size` pixels."""
        with quiet_native_stderr(self.quiet and not self._warmed_up):
            result = self._image_landmarker.detect(_mp_image(rgb))
        # MediaPipe's one-time log lines come with the first landmarks it computes.
        self._warmed_up = self._warmed_up or bool(result.pose_landmarks)
        return poses_from_result(result, size, self.min_joint_confidence)

    def detect_person(self, image: ImageInput) -> Pose2D:
        """The main (largest) person; NoPersonFound when there is nobody."""
        loaded = self.prepare(image)
        poses = self.detect(loaded)
        if not poses:
            raise NoPersonFound(loaded.path, "no person found in the picture")
        return poses[0]

    def prepare(self, image: ImageInput) -> LoadedImage:
        if isinstance(image, LoadedImage):
            return image
        if isinstance(image, np.ndarray):
            return image_from_array(image, self.max_side)
        return load_image(image, self.max_side)

    def video_session(self) -> VideoSession:
        """A fresh VIDEO-mode landmarker (tracks people between frames) for one video."""
        return VideoSession(self, self._create_landmarker(video=True))

    def close(self) -> None:
        with quiet_native_stderr(self.quiet):
            self._image_landmarker.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create_landmarker(self, video: bool) -> Any:
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=self.model.data),
            running_mode=mode,
            num_poses=self.num_poses,
            **self._thresholds,
        )
        try:
            with quiet_native_stderr(self.quiet):
                return vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as error:
            raise ModelFileError(self.model.path, f"MediaPipe cannot load the model: {error}")


class VideoSession:
    """Detection on consecutive frames of one video; timestamps must increase strictly."""

    def __init__(self, detector: PoseDetector, landmarker: Any) -> None:
        self._detector = detector
        self._landmarker = landmarker
        self._warmed_up = False

    def detect(self, frame: LoadedImage, timestamp_ms: int) -> list[Pose2D]:
        with quiet_native_stderr(self._detector.quiet and not self._warmed_up):
            result = self._landmarker.detect_for_video(_mp_image(frame.rgb), int(timestamp_ms))
        self._warmed_up = self._warmed_up or bool(result.pose_landmarks)
        return poses_from_result(result, frame.size, self._detector.min_joint_confidence)

    def close(self) -> None:
        with quiet_native_stderr(self._detector.quiet):
            self._landmarker.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mask_people(rgb: np.ndarray, people: list[Pose2D], size: tuple[float, float]) -> np.ndarray:
    """A copy of `rgb` with each person's box (in `size` pixels; rgb may be downscaled) grown by
    MASK_PADDING and filled with grey."""
    masked = rgb.copy()
    height, width = rgb.shape[:2]
    scale = width / size[0]
    for person in people:
        x0, y0, x1, y1 = person.box
        pad = MASK_PADDING * (x1 - x0)
        left, top = max(0, int((x0 - pad) * scale)), max(0, int((y0 - pad) * scale))
        right = min(width, int(np.ceil((x1 + pad) * scale)))
        bottom = min(height, int(np.ceil((y1 + pad) * scale)))
        masked[top:bottom, left:right] = MASK_GREY
    return masked


def _moved(pose: Pose2D, left: float, image_size: tuple[int, int]) -> Pose2D:
    """A pose found in a tile, in the whole picture's pixels (the tile starts `left` pixels from
    the picture's left edge; image_size: the picture's)."""
    if left == 0 and pose.image_size == image_size:
        return pose
    shift = np.array([left, 0.0], dtype=np.float32)
    landmarks = pose.landmarks.copy()
    landmarks[:, 0] += left
    x0, y0, x1, y1 = pose.box
    return replace(pose, keypoints=pose.keypoints + shift, keypoints_raw=pose.keypoints_raw + shift,
                   box=(x0 + left, y0, x1 + left, y1), image_size=image_size, landmarks=landmarks)


def _same_person(a: Pose2D, b: Pose2D) -> bool:
    x0, y0, x1, y1 = (max(a.box[0], b.box[0]), max(a.box[1], b.box[1]),
                      min(a.box[2], b.box[2]), min(a.box[3], b.box[3]))
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter > SAME_PERSON_OVERLAP * max(min(a.box_area, b.box_area), 1e-9)


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes; 0 when either is empty."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _mp_image(rgb: np.ndarray) -> Any:
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


def poses_from_result(
    result: Any, image_size: tuple[int, int], min_joint_confidence: float
) -> list[Pose2D]:
    """MediaPipe's PoseLandmarkerResult -> our Pose2D list, largest box first."""
    poses = [
        pose_from_landmarks(
            np.array([[p.x, p.y, p.z, p.visibility or 0.0, p.presence or 0.0] for p in normalised]),
            np.array([[p.x, p.y, p.z] for p in world]),
            image_size,
            min_joint_confidence,
        )
        for normalised, world in zip(result.pose_landmarks, result.pose_world_landmarks)
    ]
    return sorted(poses, key=lambda pose: -pose.box_area)


def pose_from_landmarks(
    normalised: np.ndarray,
    world: np.ndarray,
    image_size: tuple[int, int],
    min_joint_confidence: float = DEFAULT_MIN_JOINT_CONFIDENCE,
) -> Pose2D:
    """(33, 5) normalised landmarks (x, y, z, visibility, presence) -> Pose2D in pixels."""
    width, height = image_size
    landmarks = normalised.astype(np.float32).copy()
    # MediaPipe's z uses roughly the scale of x, so it becomes pixels with the width.
    landmarks[:, [0, 2]] *= width
    landmarks[:, 1] *= height
    keypoints = convert(landmarks[:, :2], MEDIAPIPE33, H36M17)
    visibility = landmarks[:, 3]
    confidence = np.prod(np.where(_SOURCES, visibility[None, :], 1.0), axis=1).astype(np.float32)
    missing = confidence < min_joint_confidence
    masked = np.where(missing[:, None], np.nan, keypoints).astype(np.float32)
    x0, y0 = np.clip(landmarks[:, :2].min(axis=0), 0, (width, height))
    x1, y1 = np.clip(landmarks[:, :2].max(axis=0), 0, (width, height))
    return Pose2D(
        keypoints=masked,
        keypoints_raw=keypoints,
        confidence=confidence,
        missing=missing,
        box=(float(x0), float(y0), float(x1), float(y1)),
        image_size=(int(width), int(height)),
        landmarks=landmarks,
        world_landmarks=world.astype(np.float32),
    )
