"""Posing by hand in the 3D view: press on a joint and drag it, click a joint to pin it.

An event filter on the view's canvas: a press near a joint (on screen) takes the mouse from the
orbiting camera; moving drags the joint on the plane through it that faces the camera; the
release ends the drag (one undo step), or pins/unpins the joint when the mouse barely moved.
Anywhere else the camera turns as before. Pinned joints get a red ring.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from vispy import scene

from app.generation import Generation
from app.skeleton_view import SkeletonView
from app.state import AppState
from vvipe_core.skeleton import H36M17

PICK_RADIUS_PX = 14.0
CLICK_SLOP_PX = 4.0  # a press and release closer than this is a click (pin), not a drag
PIN_COLOUR = (0.85, 0.1, 0.1, 1.0)


class JointDrag(QObject):
    def __init__(self, view: SkeletonView, state: AppState, generation: Generation) -> None:
        super().__init__(view)
        self.view, self.state, self.generation = view, state, generation
        self._pins = scene.visuals.Markers(parent=view.view.scene)
        self._pins.set_gl_state(depth_test=False)  # rings stay visible in front of bones
        self._joint: int | None = None  # the pressed joint
        self._pressed_at: QPointF | None = None
        self._dragging = False
        view.canvas.native.installEventFilter(self)
        state.generation.events.pins.connect(self._draw_pins)
        state.walk.events.pose.connect(self._draw_pins)
        self._draw_pins()

    # -- screen <-> canonical space ----------------------------------------------------------
    def _to_canvas(self) -> scene.transforms.BaseTransform:
        return self._pins.get_transform("visual", "canvas")

    def _placement(self) -> np.ndarray | None:
        """Where the shown pose is drawn (several people in a video stand side by side), or
        None when it is not drawn."""
        pose = self.state.walk.pose
        if pose is None:
            return None
        drawn = self.view.joints().reshape(-1, H36M17.n, 3)
        found = [i for i, p in enumerate(drawn) if np.array_equal(p, pose.astype(np.float32))]
        return self.view.offset(found[0]) if found else None

    def screen_positions(self) -> np.ndarray:
        """(17, 2) where the shown pose's joints are on the canvas (pixels), (0, 2) if none."""
        placement = self._placement()
        if placement is None:
            return np.zeros((0, 2))
        mapped = self._to_canvas().map(np.asarray(self.state.walk.pose + placement,
                                                  dtype=np.float64))
        return mapped[:, :2] / mapped[:, 3:4]

    def unproject(self, point: QPointF, joint: int) -> np.ndarray:
        """The canonical point under `point` on the plane through `joint` facing the camera:
        the canvas point at the joint's own depth."""
        placement = self._placement()
        transform = self._to_canvas()
        mapped = transform.map(np.asarray(self.state.walk.pose[joint] + placement,
                                          dtype=np.float64))
        depth = mapped[2] / mapped[3]
        world = transform.imap([point.x(), point.y(), depth, 1.0])
        return (world[:3] / world[3] - placement).astype(np.float32)

    def pick(self, point: QPointF) -> int | None:
        """The joint nearest `point` within the pick radius."""
        joints = self.screen_positions()
        if not len(joints) or self.state.source.model is None:
            return None
        distance = np.linalg.norm(joints - [point.x(), point.y()], axis=1)
        nearest = int(np.argmin(distance))
        return nearest if distance[nearest] <= PICK_RADIUS_PX else None

    # -- mouse ---------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent):
            if event.button() != Qt.MouseButton.LeftButton:
                return False
            self._joint = self.pick(event.position())
            self._pressed_at, self._dragging = event.position(), False
            return self._joint is not None  # a joint: the camera does not turn
        if self._joint is None:
            return False
        if kind == QEvent.Type.MouseMove and isinstance(event, QMouseEvent):
            moved = (event.position() - self._pressed_at).manhattanLength()
            if self._dragging or moved > CLICK_SLOP_PX:
                self._dragging = True
                target = self.unproject(event.position(), self._joint)
                self.generation.drag(H36M17.joints[self._joint], target)
            return True
        if kind == QEvent.Type.MouseButtonRelease and isinstance(event, QMouseEvent):
            joint, self._joint = H36M17.joints[self._joint], None
            if self._dragging:
                self.generation.end_drag()
            else:
                self.generation.toggle_pin(joint)
            return True
        return False

    def _draw_pins(self) -> None:
        placement, pins = self._placement(), H36M17.indices(sorted(self.state.generation.pins))
        self._pins.visible = placement is not None and bool(pins)
        if self._pins.visible:
            self._pins.set_data(self.state.walk.pose[pins] + placement, face_color=(0, 0, 0, 0),
                                edge_color=PIN_COLOUR, edge_width=3, size=20)
        self.view.canvas.update()
