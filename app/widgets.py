"""Small widgets shared by the window's panels."""
from __future__ import annotations

from PySide6.QtWidgets import QProgressBar


class ProgressBar(QProgressBar):
    """A progress bar whose new value is drawn with the window's next frame: QProgressBar
    repaints at once on most value changes, and a synchronous repaint composes the whole window
    with its OpenGL views (a frame's cost under software OpenGL, per value)."""

    def setValue(self, value: int) -> None:
        self.setUpdatesEnabled(False)
        super().setValue(value)
        self.setUpdatesEnabled(True)  # schedules the paint
