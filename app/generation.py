"""The app's generation: every walk, variation, edit and in-between decoded onto a body, the
plausibility of what is shown, joint drags with pins and undo/redo, and in-between motions.

The maths is vvipe_core's (``VVIPE.decode(body=)``, ``edit``, ``interpolate``,
``vvipe_core.generation.Plausibility``); this controller turns gestures into changes of
app.state.generation (what the generation panels show) and of the walk.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.feature import FeatureController
from app.state import Anchor, AppState
from app.state.generation import Between, Endpoint
from app.workers import Jobs
from vvipe_core.export import PoseSequence, save_poses
from vvipe_core.skeleton import H36M17

if TYPE_CHECKING:  # torch: imported by the job that loads the model, not by the window
    from vvipe_core.api import VVIPE
    from vvipe_core.generation import Plausibility

KEEP_NEAR_QUANTILE = 0.98  # the walk stops where only 2 % of the gallery's poses lie farther out


class Generation(FeatureController):
    def __init__(self, state: AppState, jobs: Jobs) -> None:
        super().__init__(state, jobs)
        self.plausibility: Plausibility | None = None
        self._undo: list[Anchor] = []
        self._redo: list[Anchor] = []
        self._editing = False  # the anchor change under way is an edit's
        self._drag_start: np.ndarray | None = None  # the latent a drag began from
        self._dragged: np.ndarray | None = None  # the latent the drag has reached
        self._held: dict[str, np.ndarray] = {}  # pinned joints where the drag found them
        self._pending: tuple[int, float] | None = None  # (frames, fps) being computed
        state.source.events.gallery.connect(self._gallery_changed)
        state.walk.events.anchor.connect(self._anchor_changed)
        state.source.events.model.connect(self._model_changed)
        state.walk.events.latent.connect(self._score)
        self._gallery_changed()

    # -- decoding what is shown --------------------------------------------------------------
    def body(self) -> np.ndarray | None:
        """The body generated poses take: the anchor's own (an edit's), else the pose it shows
        (real mocap, a frame, a photo's lifted pose); None (nominal) without an anchor."""
        anchor = self.state.walk.anchor
        if anchor is None:
            return None
        return anchor.body if anchor.body is not None else anchor.pose

    def shown(self, latent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The latent to show (kept near the data when asked: pulled back towards the anchor)
        and its pose on the body."""
        walk, model = self.state.walk, self.state.source.model
        if walk.keep_near and self.plausibility is not None and walk.anchor is not None:
            latent = self.plausibility.project(latent, walk.anchor.latent, KEEP_NEAR_QUANTILE)
        return latent, model.decode(latent[None], body=self.body())[0]

    def _score(self) -> None:
        """The shown latent's plausibility."""
        latent, score = self.state.walk.latent, None
        if latent is not None and self.plausibility is not None:
            score = float(self.plausibility.score(latent))
        self.state.generation.set_score(score)

    def _gallery_changed(self) -> None:
        gallery = self.state.source.gallery
        if gallery is None:
            self.plausibility = None
        else:  # embedded by a loaded model: torch is imported already
            from vvipe_core.generation import Plausibility

            self.plausibility = Plausibility.from_embeddings(gallery.embeddings)
        self._score()

    def _model_changed(self) -> None:
        """Latents of another model mean nothing to this one."""
        self._undo, self._redo, self._pending = [], [], None
        self._undo_changed()
        self.state.generation.set_between(None, None, None)

    # -- dragging joints -----------------------------------------------------------------------
    def drag(self, joint: str, target: np.ndarray) -> None:
        """Move `joint` of the shown pose to `target` (canonical), the pins staying put; the
        result is shown at once and becomes the new anchor when the drag ends."""
        walk, model = self.state.walk, self.state.source.model
        if model is None or walk.latent is None:
            return
        if self._drag_start is None:  # the pins hold where they are seen at the start
            self._drag_start = walk.latent
            self._held = {name: walk.pose[H36M17.index(name)]
                          for name in self.state.generation.pins}
        body = self.body()
        pinned = {name: at for name, at in self._held.items() if name != joint}
        self._dragged = model.edit(self._drag_start, {joint: target}, pinned, body=body)
        walk.set_view(self._dragged, model.decode(self._dragged[None], body=body)[0])

    def end_drag(self) -> None:
        dragged, self._drag_start, self._dragged = self._dragged, None, None
        if dragged is not None:
            anchor, body = self.state.walk.anchor, self.body()
            self._push(anchor)
            label = anchor.label if anchor.label.endswith("(edited)") else f"{anchor.label} (edited)"
            pose = self.state.source.model.decode(dragged[None], body=body)[0]
            self._set_anchor(Anchor(dragged, label, pose, body=body))

    def toggle_pin(self, joint: str) -> None:
        self.state.generation.set_pins(self.state.generation.pins ^ {joint})

    def clear_pins(self) -> None:
        self.state.generation.set_pins(frozenset())

    # -- undo / redo ---------------------------------------------------------------------------
    def undo(self) -> None:
        if self._undo:
            self._redo.append(self.state.walk.anchor)
            self._set_anchor(self._undo.pop())

    def redo(self) -> None:
        if self._redo:
            self._undo.append(self.state.walk.anchor)
            self._set_anchor(self._redo.pop())

    def _push(self, anchor: Anchor) -> None:
        self._undo.append(anchor)
        self._redo = []

    def _undo_changed(self) -> None:
        self.state.generation.set_undo(bool(self._undo), bool(self._redo))

    def _set_anchor(self, anchor: Anchor) -> None:
        """An edit's anchor: the walk restarts there without variation, history and pins stay."""
        walk = self.state.walk
        walk.set_walk(walk.coordinates, 0.0, walk.seed)
        self._editing = True
        try:
            walk.set_anchor(anchor)
        finally:
            self._editing = False
        self._undo_changed()

    def _anchor_changed(self) -> None:
        """Another pose (photo, gallery, frame): its own history, no pins."""
        if self._editing:
            return
        self._drag_start = self._dragged = None
        self._undo, self._redo = [], []
        self._undo_changed()
        self.clear_pins()

    # -- in-between motions --------------------------------------------------------------------
    def set_endpoint(self, which: str) -> None:
        """The shown pose becomes the "start" or the "end" of the in-between motion."""
        walk, generation = self.state.walk, self.state.generation
        if walk.latent is None or walk.anchor is None:
            self.error("there is no pose to use yet")
            return
        point = Endpoint(walk.latent.copy(), walk.anchor.label, self.body())
        start, end = (point, generation.end) if which == "start" else (generation.start, point)
        self._pending = None
        generation.set_between(start, end, None)

    def make_between(self, duration_s: float, fps: float) -> None:
        """Compute the motion from start to end, `duration_s` long at `fps` frames a second, on
        the start's body, in a job (a long motion takes seconds); the between event says when."""
        generation, model = self.state.generation, self.state.source.model
        start, end, motion = generation.start, generation.end, generation.between
        if start is None or end is None or model is None:
            return
        wanted = (max(2, round(duration_s * fps) + 1), float(fps))
        if self._pending == wanted or (motion is not None
                                       and (len(motion.poses), motion.fps) == wanted):
            return
        self._pending = wanted
        generation.set_between(start, end, None)
        self.jobs.start("between", "computing the in-between motion", between_motion,
                        model, start, end, *wanted, on_result=self._between_ready)

    def _between_ready(self, motion: Between) -> None:
        self._pending = None
        generation = self.state.generation
        generation.set_between(generation.start, generation.end, motion)

    def show_between(self, frame: int) -> None:
        """Show one frame of the motion in the 3D view (previewing it)."""
        generation = self.state.generation
        if generation.between is None:
            return
        frame = int(np.clip(frame, 0, len(generation.between.poses) - 1))
        latent = generation.between.latents[frame]
        self.state.walk.set_view(latent, generation.between.poses[frame])
        self.message(f"in-between {generation.start.label} → {generation.end.label}: frame "
                     f"{frame + 1} of {len(generation.between.poses)}")

    def export_between(self, path: Path) -> Path:
        """Write the motion to .json / .npz / .bvh (by suffix), canonical units at its fps."""
        generation = self.state.generation
        if generation.between is None:
            raise ValueError("the in-between motion is not ready: choose its start and end")
        meta = {"checkpoint": self.state.source.model.source, "start": generation.start.label,
                "end": generation.end.label, "generated": "VVIPE.interpolate, decoded onto a body"}
        return save_poses(path, PoseSequence(generation.between.poses, "canonical",
                                             fps=generation.between.fps, meta=meta))


def between_motion(model: VVIPE, start: Endpoint, end: Endpoint, n: int, fps: float) -> Between:
    """The n-frame motion from `start` to `end`, on the start's body (runs in a job)."""
    latents = model.interpolate(start.latent, end.latent, n)
    return Between(latents, model.decode(latents, body=start.body), fps)
