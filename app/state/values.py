"""The values the window shows (frozen dataclasses): what a picture, a sequence, an anchor of
the walk, a comparison and a set of virtual views are."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch comes with these: imported off the window's thread
    from vvipe_core.detect import Pose2D


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
