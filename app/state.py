"""What the window shows, as one Qt object: values plus change signals, no computation.

Every setter emits only when the value really changes, so a widget that mirrors a value (a
slider) and the state it drives cannot ping-pong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:  # torch comes with these: imported where the model loads, off this thread
    from vvipe_core.api import VVIPE
    from vvipe_core.classify import ActivityClassifier, Segment
    from vvipe_core.detect import Pose2D
    from vvipe_core.gallery import Gallery, Hit
    from vvipe_core.generation import NamedDirections
    from vvipe_core.library import LibraryHit, PoseLibrary


@dataclass(frozen=True)
class Picture:
    """A photo (or a video's first frame) as shown; keypoints are in `size` pixels."""

    path: Path | None
    rgb: np.ndarray  # (h, w, 3) uint8, possibly downscaled
    size: tuple[int, int]  # (width, height) of the original


@dataclass(frozen=True)
class Anchor:
    """Where the latent walk starts: a lifted photo, a gallery hit, a frame of a sequence.

    `pose` is the exact pose to show while nothing has moved (a gallery pose is real mocap, not
    its decoding); None means decode(latent). `keypoints`: the 2D evidence, which the activity
    labels read while nothing has moved. `body`: an edited pose keeps the body it was edited
    on (else the body is `pose`). `keep_hits`: showing it does not
    search the gallery again (a clicked hit would otherwise reorder the list under the cursor).
    """

    latent: np.ndarray  # (D,)
    label: str
    pose: np.ndarray | None = None
    keep_hits: bool = False
    keypoints: np.ndarray | None = None  # (17, 2) what was seen (a photo's person, a frame)
    confidence: np.ndarray | None = None  # (17,) the detector's, for those keypoints
    body: np.ndarray | None = None  # (17, 3) whose bones generated poses take (see above)


@dataclass(frozen=True)
class Comparison:
    """One photo of the multi-view comparison."""

    picture: Picture
    person: Pose2D
    latent: np.ndarray  # (D,)
    pose: np.ndarray  # (17, 3) canonical


@dataclass(frozen=True)
class VirtualViews:
    """The current pose seen by N cameras around it, and each view lifted back to 3D."""

    azimuths: np.ndarray  # (N,) degrees
    keypoints: np.ndarray  # (N, 17, 2) pixels
    image_size: tuple[int, int]
    lifted: np.ndarray  # (N, 17, 3) canonical


@dataclass(frozen=True)
class Sequence:
    """A pose file or a lifted video: one pose per frame, browsed with the timeline."""

    path: Path
    poses: np.ndarray  # (T, 17, 3) canonical; NaN rows where nothing could be lifted
    fps: float
    keypoints: np.ndarray | None = None  # (T, 17, 2) for videos
    confidence: np.ndarray | None = None  # (T, 17)
    image_size: tuple[int, int] | None = None  # the video's (width, height)
    labels: list[str] = field(default_factory=list)  # per frame, for the status line
    person: int = 0  # a video's track id of the person this sequence follows
    people: dict[int, Sequence] = field(default_factory=dict)  # every tracked person's, by id


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, (int, float, str, tuple)) or a is None:
        return type(a) is type(b) and a == b
    return a is b  # models, galleries, lists of results: identity


class AppState(QObject):
    modelChanged = Signal()
    galleryChanged = Signal()
    pictureChanged = Signal()  # the picture and its people (the first person selected)
    personChanged = Signal()
    anchorChanged = Signal()
    walkChanged = Signal()  # coordinates, sigma or seed
    latentChanged = Signal()
    poseChanged = Signal()
    hitsChanged = Signal()
    comparisonsChanged = Signal()
    virtualChanged = Signal()
    sequenceChanged = Signal()  # a new sequence starts at frame 0
    frameChanged = Signal()
    videoFrameChanged = Signal()  # the picture of the current video frame
    libraryChanged = Signal()
    libraryHitsChanged = Signal()
    messageChanged = Signal()
    classifierChanged = Signal()  # the activity classifier, or why there is none
    activityChanged = Signal()  # the shown pose's top labels
    activityTrackChanged = Signal()  # the sequence's label track
    overlayChanged = Signal()  # a gallery hit's fitted projection over the picture

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model: VVIPE | None = None
        self.gallery: Gallery | None = None
        self.axes: NamedDirections | None = None
        self.picture: Picture | None = None
        self.people: list[Pose2D] = []
        self.person = 0
        self.anchor: Anchor | None = None
        self.coordinates = np.zeros(0, dtype=np.float32)  # along the named directions
        self.sigma = 0.0
        self.seed = 0
        self.latent: np.ndarray | None = None
        self.pose: np.ndarray | None = None
        self.hits: list[Hit] = []
        self.hit_sketches: np.ndarray | None = None  # (k, 17, 2) front views, for thumbnails
        self.comparisons: list[Comparison] = []
        self.distances: np.ndarray | None = None
        self.virtual: VirtualViews | None = None
        self.sequence: Sequence | None = None
        self.frame = 0
        self.video_frame: np.ndarray | None = None  # (h, w, 3) RGB of the current video frame
        self.library: PoseLibrary | None = None
        self.library_hits: list[tuple[LibraryHit, np.ndarray]] = []  # with source thumbnails
        self.message = ""
        self.message_is_error = False
        self.classifier: ActivityClassifier | None = None  # for the current model
        self.classifier_note = ""  # why there is no classifier
        self.activity: list[tuple[str, float]] = []  # (label, score), best first
        self.activity_track: list[Segment] = []  # in the sequence's frames
        self.overlay: np.ndarray | None = None  # (17, 2) picture pixels

    def _update(self, signal: Signal, **values: Any) -> bool:
        if all(_same(getattr(self, k), v) for k, v in values.items()):
            return False
        for k, v in values.items():
            setattr(self, k, v)
        signal.emit()
        return True

    def set_model(self, model: VVIPE, gallery: Gallery | None,
                  axes: NamedDirections | None) -> None:
        """Model and gallery change together: a gallery's embeddings belong to one model, so
        both are in place before either signal goes out."""
        gallery_changed = not (_same(self.gallery, gallery) and _same(self.axes, axes))
        model_changed = not _same(self.model, model)
        self.model, self.gallery, self.axes = model, gallery, axes
        if gallery_changed:
            self.galleryChanged.emit()
        if model_changed:
            self.modelChanged.emit()

    def set_gallery(self, gallery: Gallery | None, axes: NamedDirections | None) -> None:
        self._update(self.galleryChanged, gallery=gallery, axes=axes)

    def set_picture(self, picture: Picture | None, people: list[Pose2D]) -> None:
        self._update(self.pictureChanged, picture=picture, people=people, person=0)

    def set_person(self, index: int) -> None:
        self._update(self.personChanged, person=index)

    def set_anchor(self, anchor: Anchor | None) -> None:
        self._update(self.anchorChanged, anchor=anchor)

    def set_walk(self, coordinates: np.ndarray, sigma: float, seed: int) -> None:
        coordinates = np.asarray(coordinates, dtype=np.float32)
        self._update(self.walkChanged, coordinates=coordinates, sigma=float(sigma),
                     seed=int(seed))

    def set_view(self, latent: np.ndarray | None, pose: np.ndarray | None) -> None:
        self._update(self.latentChanged, latent=latent)
        self._update(self.poseChanged, pose=pose)

    def set_hits(self, hits: list[Hit], sketches: np.ndarray | None) -> None:
        self._update(self.hitsChanged, hits=hits, hit_sketches=sketches)

    def set_comparisons(self, comparisons: list[Comparison], distances: np.ndarray | None) -> None:
        self._update(self.comparisonsChanged, comparisons=comparisons, distances=distances)

    def set_virtual(self, views: VirtualViews | None) -> None:
        self._update(self.virtualChanged, virtual=views)

    def set_sequence(self, sequence: Sequence | None) -> None:
        self._update(self.sequenceChanged, sequence=sequence, frame=0)

    def set_frame(self, frame: int) -> None:
        self._update(self.frameChanged, frame=int(frame))

    def set_video_frame(self, rgb: np.ndarray | None) -> None:
        self._update(self.videoFrameChanged, video_frame=rgb)

    def set_library(self, library: PoseLibrary | None) -> None:
        self.library = library  # updated in place by indexing: always announce it
        self.libraryChanged.emit()

    def set_library_hits(self, hits: list[tuple[LibraryHit, np.ndarray]]) -> None:
        self._update(self.libraryHitsChanged, library_hits=hits)

    def set_classifier(self, classifier: ActivityClassifier | None, note: str = "") -> None:
        self._update(self.classifierChanged, classifier=classifier, classifier_note=note)

    def set_activity(self, activity: list[tuple[str, float]]) -> None:
        self._update(self.activityChanged, activity=activity)

    def set_activity_track(self, track: list[Segment]) -> None:
        self._update(self.activityTrackChanged, activity_track=track)

    def set_overlay(self, points: np.ndarray | None) -> None:
        self._update(self.overlayChanged, overlay=points)

    def show_message(self, text: str, error: bool = False) -> None:
        self._update(self.messageChanged, message=text, message_is_error=error)
