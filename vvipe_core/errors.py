"""Typed errors for the user-input path (pictures, videos, model files, exports).

Every message names the file and the reason, so the CLI and the GUI can show it as it is.
"""
from __future__ import annotations

from pathlib import Path


class VVIPEError(Exception):
    """Base class: a user's file (or the path to it) stopped the work; `path` may be None."""

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = None if path is None else Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path is not None else reason)


class OptionError(VVIPEError, ValueError):
    """An option or setting out of its range; the message names it and what it must be."""


class PoseInputError(OptionError):
    """Arrays given to the façade (vvipe_core.api) of the wrong shape, or a setting out of range."""


class DetectionError(VVIPEError):
    """Base class of the errors on the way from a picture or video to 2D keypoints."""


class ImageReadError(DetectionError):
    """The file is missing, empty, truncated, or not an image we can decode."""


class VideoReadError(DetectionError):
    """The video cannot be opened or has no decodable frame."""


class NoPersonFound(DetectionError):
    """The detector found nobody in the picture."""


class ModelFileError(DetectionError):
    """The pose-landmarker model file is missing, unreadable, or not the file we ship."""


class ExportError(VVIPEError):
    """Poses cannot be written in the requested format."""
