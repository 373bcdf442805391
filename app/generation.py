"""The app's generation: every walk, variation, edit and in-between decoded onto a body, the
plausibility of what is shown, joint drags with pins and undo/redo, and in-between motions.

The maths is vvipe_core's (``VVIPE.decode(body=)``, ``edit``, ``interpolate``,
``vvipe_core.generation.Plausibility``); this object keeps what the user chose and turns
gestures into state changes, as the controller does for the rest of the window.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.state import Anchor, AppState
from app.workers import Jobs
from vvipe_core.export import PoseSequence, save_poses
from vvipe_core.skeleton import H36M17

if TYPE_CHECKING:  # torch: imported by the job that loads the model, not by the window
    from vvipe_core.api import VVIPE
    from vvipe_core.generation import Plausibility

KEEP_NEAR_QUANTILE = 0.98  # the walk stops where only 2 % of the gallery's poses lie farther out


@dataclass(frozen=True)
class Endpoint:
    """One end of an in-between motion."""

    latent: np.ndarray  # (D,)
    label: str
    body: np.ndarray | None  # (17, 3), None: the nominal body


@dataclass(frozen=True)
class Between:
    """An in-between motion, ready to preview and export."""

    latents: np.ndarray  # (n, D)
    poses: np.ndarray  # (n, 17, 3) canonical, on the start's body
    fps: float


class Generation(QObject):
    scoreChanged = Signal()  # the shown latent's plausibility
    pinsChanged = Signal()
    historyChanged = Signal()  # undo / redo availability
    betweenChanged = Signal()  # endpoints or the motion between them

    def __init__(self, state: AppState, jobs: Jobs, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        self.plausibility: Plausibility | None = None
        self.keep_near = True
        self.score: float | None = None
        self.pins: set[str] = set()
        self._undo: list[Anchor] = []
        self._redo: list[Anchor] = []
        self._editing = False  # the anchor change under way is an edit's
        self._drag_start: np.ndarray | None = None  # the latent a drag began from
        self._dragged: np.ndarray | None = None  # the latent the drag has reached
        self._held: dict[str, np.ndarray] = {}  # pinned joints where the drag found them
        self.start: Endpoint | None = None
        self.end: Endpoint | None = None
        self.between: Between | None = None
        self._pending: tuple[int, float] | None = None  # (frames, fps) being computed
        state.galleryChanged.connect(self._gallery_changed)
        state.anchorChanged.connect(self._anchor_changed)
        state.modelChanged.connect(self._model_changed)
        state.latentChanged.connect(self._score)
        self._gallery_changed()

    # -- decoding what is shown --------------------------------------------------------------
    def body(self) -> np.ndarray | None:
        """The body generated poses take: the anchor's own (an edit's), else the pose it shows
        (real mocap, a frame, a photo's lifted pose); None (nominal) without an anchor."""
        anchor = self.state.anchor
        if anchor is None:
            return None
        return anchor.body if anchor.body is not None else anchor.pose

    def shown(self, latent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The latent to show (kept near the data when asked: pulled back towards the anchor)
        and its pose on the body."""
        anchor, model = self.state.anchor, self.state.model
        if self.keep_near and self.plausibility is not None and anchor is not None:
            latent = self.plausibility.project(latent, anchor.latent, KEEP_NEAR_QUANTILE)
        return latent, model.decode(latent[None], body=self.body())[0]

    def set_keep_near(self, on: bool) -> None:
        self.keep_near = bool(on)
        self.state.walkChanged.emit()  # the controller redraws the walk

    def _score(self) -> None:
        """The shown latent's plausibility."""
        latent, score = self.state.latent, None
        if latent is not None and self.plausibility is not None:
            score = float(self.plausibility.score(latent))
        if score != self.score:
            self.score = score
            self.scoreChanged.emit()

    def _gallery_changed(self) -> None:
        gallery = self.state.gallery
        if gallery is None:
            self.plausibility = None
        else:  # embedded by a loaded model: torch is imported already
            from vvipe_core.generation import Plausibility

            self.plausibility = Plausibility.from_embeddings(gallery.embeddings)
        self._score()

    def _model_changed(self) -> None:
        """Latents of another model mean nothing to this one."""
        self._undo, self._redo = [], []
        self.start = self.end = self.between = self._pending = None
        self.historyChanged.emit()
        self.betweenChanged.emit()

    # -- dragging joints -----------------------------------------------------------------------
    def drag(self, joint: str, target: np.ndarray) -> None:
        """Move `joint` of the shown pose to `target` (canonical), the pins staying put; the
        result is shown at once and becomes the new anchor when the drag ends."""
        state = self.state
        if state.model is None or state.latent is None:
            return
        if self._drag_start is None:  # the pins hold where they are seen at the start
            self._drag_start = state.latent
            self._held = {name: state.pose[H36M17.index(name)] for name in self.pins}
        body = self.body()
        pinned = {name: at for name, at in self._held.items() if name != joint}
        self._dragged = state.model.edit(self._drag_start, {joint: target}, pinned, body=body)
        state.set_view(self._dragged, state.model.decode(self._dragged[None], body=body)[0])

    def end_drag(self) -> None:
        dragged, self._drag_start, self._dragged = self._dragged, None, None
        if dragged is not None:
            anchor, body = self.state.anchor, self.body()
            self._push(anchor)
            label = anchor.label if anchor.label.endswith("(edited)") else f"{anchor.label} (edited)"
            pose = self.state.model.decode(dragged[None], body=body)[0]
            self._set_anchor(Anchor(dragged, label, pose, body=body))

    def toggle_pin(self, joint: str) -> None:
        self.pins ^= {joint}
        self.pinsChanged.emit()

    def clear_pins(self) -> None:
        if self.pins:
            self.pins = set()
            self.pinsChanged.emit()

    # -- undo / redo ---------------------------------------------------------------------------
    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> None:
        if self._undo:
            self._redo.append(self.state.anchor)
            self._set_anchor(self._undo.pop())

    def redo(self) -> None:
        if self._redo:
            self._undo.append(self.state.anchor)
            self._set_anchor(self._redo.pop())

    def _push(self, anchor: Anchor) -> None:
        self._undo.append(anchor)
        self._redo = []

    def _set_anchor(self, anchor: Anchor) -> None:
        """An edit's anchor: the walk restarts there without variation, history and pins stay."""
        state = self.state
        state.set_walk(state.coordinates, 0.0, state.seed)
        self._editing = True
        try:
            state.set_anchor(anchor)
        finally:
            self._editing = False
        self.historyChanged.emit()

    def _anchor_changed(self) -> None:
        """Another pose (photo, gallery, frame): its own history, no pins."""
        if self._editing:
            return
        self._drag_start = self._dragged = None
        if self._undo or self._redo:
            self._undo, self._redo = [], []
            self.historyChanged.emit()
        self.clear_pins()

    # -- in-between motions --------------------------------------------------------------------
    def set_endpoint(self, which: str) -> None:
        """The shown pose becomes the "start" or the "end" of the in-between motion."""
        state = self.state
        if state.latent is None or state.anchor is None:
            self.state.show_message("there is no pose to use yet", error=True)
            return
        point = Endpoint(state.latent.copy(), state.anchor.label, self.body())
        if which == "start":
            self.start = point
        else:
            self.end = point
        self.between, self._pending = None, None
        self.betweenChanged.emit()

    def make_between(self, duration_s: float, fps: float) -> None:
        """Compute the motion from start to end, `duration_s` long at `fps` frames a second, on
        the start's body, in a job (a long motion takes seconds); betweenChanged says when."""
        if self.start is None or self.end is None or self.state.model is None:
            return
        wanted = (max(2, round(duration_s * fps) + 1), float(fps))
        motion = self.between
        if self._pending == wanted or (motion is not None
                                       and (len(motion.poses), motion.fps) == wanted):
            return
        self._pending, self.between = wanted, None
        self.betweenChanged.emit()
        self.jobs.start("between", "computing the in-between motion", between_motion,
                        self.state.model, self.start, self.end, *wanted,
                        on_result=self._between_ready)

    def _between_ready(self, motion: Between) -> None:
        self._pending, self.between = None, motion
        self.betweenChanged.emit()

    def show_between(self, frame: int) -> None:
        """Show one frame of the motion in the 3D view (previewing it)."""
        if self.between is None:
            return
        frame = int(np.clip(frame, 0, len(self.between.poses) - 1))
        latent = self.between.latents[frame]
        self.state.set_view(latent, self.between.poses[frame])
        self.state.show_message(f"in-between {self.start.label} → {self.end.label}: frame "
                                f"{frame + 1} of {len(self.between.poses)}")

    def export_between(self, path: Path) -> Path:
        """Write the motion to .json / .npz / .bvh (by suffix), canonical units at its fps."""
        if self.between is None:
            raise ValueError("the in-between motion is not ready: choose its start and end")
        meta = {"checkpoint": self.state.model.source, "start": self.start.label,
                "end": self.end.label, "generated": "VVIPE.interpolate, decoded onto a body"}
        return save_poses(path, PoseSequence(self.between.poses, "canonical",
                                             fps=self.between.fps, meta=meta))


def between_motion(model: VVIPE, start: Endpoint, end: Endpoint, n: int, fps: float) -> Between:
    """The n-frame motion from `start` to `end`, on the start's body (runs in a job)."""
    latents = model.interpolate(start.latent, end.latent, n)
    return Between(latents, model.decode(latents, body=start.body), fps)
