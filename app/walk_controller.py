"""The latent walk: the shown pose = decode(anchor moved along the named directions, plus
variation), and what follows it once the walk rests (see SETTLE_MS)."""
from __future__ import annotations

import numpy as np
from psygnal import Signal
from superqt.utils import qthrottled

from app.feature import FeatureController
from app.generation import Generation
from app.state import AppState
from app.workers import Jobs

# Slider drags and playback ask for a new pose per move or frame: the pose is drawn at once;
# the gallery search, activity labels and virtual views follow at most once per SETTLE_MS, for
# the pose shown then (a throttle: a steady stream of requests still gets answers, a few times
# a second, while most frames of a drag draw the pose alone).
SETTLE_MS = 100


class WalkController(FeatureController):
    settled = Signal(bool)  # the shown pose rests: (whether the gallery search is due)

    def __init__(self, state: AppState, jobs: Jobs, generation: Generation) -> None:
        super().__init__(state, jobs)
        self.generation = generation
        self._settle_later = qthrottled(self._settle, timeout=SETTLE_MS, leading=False)
        self._settling = False  # a _settle is due
        self._search_due = False  # part of it: the gallery search
        state.source.events.gallery.connect(self._reset_axes)
        state.walk.events.anchor.connect(self._anchor_changed)
        state.walk.events.walk.connect(self._refresh_pose)

    def shutdown(self) -> None:
        self._settle_later.cancel()
        self._settling = False

    @property
    def settling(self) -> bool:
        return self._settling

    def _anchor_changed(self) -> None:
        self._reset_axes()
        self._refresh_pose()

    def _anchor_coordinates(self) -> np.ndarray:
        """Where the anchor lies along the latent axes (nothing when either is missing)."""
        axes, anchor = self.state.source.axes, self.state.walk.anchor
        if axes is None or anchor is None or len(anchor.latent) != len(axes.mean):
            return np.zeros(0 if axes is None else len(axes.scale), dtype=np.float32)
        return axes.coordinates(anchor.latent)

    def _reset_axes(self) -> None:
        walk = self.state.walk
        walk.set_walk(self._anchor_coordinates(), walk.sigma, walk.seed)

    def set_coordinate(self, axis: int, value: float) -> None:
        walk = self.state.walk
        coordinates = walk.coordinates.copy()
        coordinates[axis] = value
        walk.set_walk(coordinates, walk.sigma, walk.seed)

    def set_sigma(self, sigma: float) -> None:
        walk = self.state.walk
        walk.set_walk(walk.coordinates, sigma, walk.seed)

    def resample(self) -> None:
        walk = self.state.walk
        walk.set_walk(walk.coordinates, walk.sigma, walk.seed + 1)

    def reset(self) -> None:
        self.state.walk.set_walk(self._anchor_coordinates(), 0.0, self.state.walk.seed)

    def set_keep_near(self, on: bool) -> None:
        self.state.walk.set_keep_near(on)

    def _walks_axes(self) -> bool:
        axes = self.state.source.axes
        return axes is not None and len(self.state.walk.coordinates) == len(axes.scale)

    def at_anchor(self) -> bool:
        """The walk has not left its anchor: no axis moved, no variation."""
        walk = self.state.walk
        moved = self._walks_axes() and not np.array_equal(walk.coordinates,
                                                           self._anchor_coordinates())
        return not moved and walk.sigma == 0

    def _refresh_pose(self) -> None:
        """Shown pose = decode(anchor moved along the named directions, plus variation)."""
        walk, model = self.state.walk, self.state.source.model
        anchor = walk.anchor
        # An anchor from the previous model waits for the re-anchoring that follows a swap.
        if model is None or anchor is None or len(anchor.latent) != model.embedding_dim:
            return
        latent, at_anchor = anchor.latent, self.at_anchor()
        if self._walks_axes():
            latent = self.state.source.axes.move_to(latent, walk.coordinates)
        if walk.sigma > 0:
            latent = model.sample(latent, walk.sigma, n=1, seed=walk.seed)[0]
        exact = anchor.pose is not None and at_anchor
        if exact:
            pose = anchor.pose
        else:  # on the anchor's body, kept near the data (app/generation.py)
            latent, pose = self.generation.shown(latent)
        walk.set_view(latent, pose)
        self.message(anchor.label if at_anchor else f"{anchor.label}, moved in the embedding")
        self._search_due = self._search_due or not (exact and anchor.keep_hits)
        self._settling = True
        self._settle_later()

    def _settle(self) -> None:
        """What follows the shown pose, kept off the drawing path (see SETTLE_MS)."""
        self._settling = False
        search, self._search_due = self._search_due, False
        self.settled.emit(search)
