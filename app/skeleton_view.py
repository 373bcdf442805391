"""A reusable vispy panel showing canonical 17-joint skeletons in 3D.

Left side blue, right side orange, centre grey; a floor grid under the feet and x/y/z axes at
the pelvis. Orbit with the left mouse button, zoom with the wheel, "reset" restores the view.
+z is up (vispy's TurntableCamera default), as in our canonical space.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget
from vispy import app as vispy_app
from vispy import scene
from vispy.io import write_png

from vvipe_core.canonical import NOMINAL_TORSO_MM
from vvipe_core.skeleton import H36M17

vispy_app.use_app("pyside6")  # the canvases live inside PySide6 widgets

LEFT, RIGHT, CENTRE = (0.16, 0.45, 0.85, 1.0), (0.95, 0.45, 0.1, 1.0), (0.35, 0.35, 0.35, 1.0)
BACKGROUND = "#f4f4f2"
SPACING = 2.5  # canonical units between skeletons shown side by side
GRID_HALF = 3.0
GRID_STEP = 0.5
DEFAULT_CENTRE_Z = -0.4  # about mid-body in canonical units (pelvis 0, feet about -2)
LEGEND = (
    '<span style="color:#f27319">●</span> right &nbsp;'
    '<span style="color:#2973d9">●</span> left &nbsp;·&nbsp; '
    '<span style="color:#d22">x</span> left hip → right hip, '
    '<span style="color:#2a2">y</span> facing, <span style="color:#22d">z</span> up '
    f'&nbsp;·&nbsp; grid {GRID_STEP:g} torso ≈ {GRID_STEP * NOMINAL_TORSO_MM / 10:.0f} cm'
)


def side_colours(skeleton=H36M17) -> np.ndarray:
    """(J, 4) RGBA per joint: by the l_/r_ prefix of its name."""
    return np.array([LEFT if n.startswith("l_") else RIGHT if n.startswith("r_") else CENTRE
                     for n in skeleton.joints])


JOINT_COLOURS = side_colours()
BONES = np.array(H36M17.bones)


def _grid() -> np.ndarray:
    ticks = np.arange(-GRID_HALF, GRID_HALF + 1e-9, GRID_STEP)
    lines = [[(t, -GRID_HALF, 0), (t, GRID_HALF, 0)] for t in ticks]
    lines += [[(-GRID_HALF, t, 0), (GRID_HALF, t, 0)] for t in ticks]
    return np.array(lines, dtype=np.float32).reshape(-1, 3)


GRID = _grid()


class SkeletonView(QWidget):
    """Shows one skeleton, or several side by side along x; `joints()` returns what is shown.

    The vispy canvas is made when first needed (shown, or asked for): the views of tabs and
    docks nobody opened cost nothing at start-up. Poses set before are drawn then."""

    def __init__(self, parent: QWidget | None = None, size: tuple[int, int] = (480, 480)) -> None:
        super().__init__(parent)
        self._size = size
        self._canvas: scene.SceneCanvas | None = None
        self._poses = np.zeros((0, H36M17.n, 3), dtype=np.float32)
        self._colours: np.ndarray | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # What the colours, axes and grid mean, over the view's top-left corner.
        self.legend = QLabel(LEGEND, self)
        self.legend.setStyleSheet("background: rgba(244, 244, 242, 200); color: #333; "
                                  "padding: 2px 4px; font-size: 11px;")
        self.legend.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.legend.move(4, 4)
        self.legend.adjustSize()

    @property
    def canvas(self) -> scene.SceneCanvas:
        if self._canvas is None:
            self._build()
        return self._canvas

    @property
    def view(self) -> scene.ViewBox:
        self.canvas  # noqa: B018 (made if it was not)
        return self._view

    def sizeHint(self) -> QSize:
        # The canvas's, made or not: a dock laid out before its view is made gets its width.
        return QSize(*self._size)

    def showEvent(self, event) -> None:
        self.canvas  # noqa: B018 (made now: it is about to be seen)
        super().showEvent(event)

    def _build(self) -> None:
        self._canvas = scene.SceneCanvas(keys=None, size=self._size, bgcolor=BACKGROUND,
                                         show=False)
        self._view = view = self._canvas.central_widget.add_view()
        view.camera = scene.TurntableCamera(up="+z", fov=35)
        self._floor = scene.visuals.Line(pos=GRID, connect="segments",
                                         color=(0.7, 0.7, 0.7, 1.0), parent=view.scene)
        self._floor_at = (0.0, 1.0)  # (height, stretch along x) of the floor drawn
        self._axes = scene.visuals.XYZAxis(parent=view.scene, width=2)
        self._bones = scene.visuals.Line(connect="segments", width=5, parent=view.scene,
                                         antialias=True)
        self._joints = scene.visuals.Markers(parent=view.scene)
        self.layout().addWidget(self._canvas.native)
        self.legend.raise_()
        self._draw()
        self.reset_camera()

    def set_pose(self, pose: np.ndarray | None) -> None:
        self.set_poses(None if pose is None else np.asarray(pose)[None])

    def set_poses(self, poses: np.ndarray | None, colours: np.ndarray | None = None) -> None:
        """(M, 17, 3) canonical poses, drawn side by side; None or NaN poses draw nothing.
        colours: (M, 17, 4) RGBA per joint (default: by side, JOINT_COLOURS)."""
        poses = np.zeros((0, H36M17.n, 3)) if poses is None else np.asarray(poses)
        count_changed = len(poses) != len(self._poses)
        self._poses = poses.astype(np.float32).copy()
        self._colours = None if colours is None else np.asarray(colours)
        if self._canvas is None:
            return
        if count_changed:
            self.reset_camera()
        self._draw()

    def _draw(self) -> None:
        """The visuals' data from the poses set (the visuals stay: only their vertices move)."""
        poses, colours = self._poses, self._colours
        # Seen from the front, +x points left: the first pose goes to +x to appear leftmost.
        shown = [p + self.offset(i) for i, p in enumerate(poses) if np.isfinite(p).all()]
        finite = [i for i, p in enumerate(poses) if np.isfinite(p).all()]
        visible = bool(shown)
        self._bones.visible = self._joints.visible = visible
        if visible:
            joints = np.concatenate(shown)
            offsets = np.arange(len(shown))[:, None] * H36M17.n
            segments = (BONES[None] + offsets[:, :, None]).reshape(-1)
            colours = (np.tile(JOINT_COLOURS, (len(shown), 1)) if colours is None
                       else colours[finite].reshape(-1, 4))
            # A bone takes its child's colour: the limb's side.
            bone_colours = np.repeat(colours[segments[1::2]], 2, axis=0)
            self._bones.set_data(pos=joints[segments], color=bone_colours)
            self._joints.set_data(joints, face_color=colours, edge_color="white", size=11)
            # The floor lies under the lowest foot and stretches under every skeleton; moved
            # through its 52 vertices (a transform change rebuilds shader code: slower).
            floor_at = (float(joints[:, 2].min()),
                        1 + SPACING * (len(shown) - 1) / (2 * GRID_HALF))
            if floor_at != self._floor_at:
                self._floor_at = floor_at
                self._floor.set_data(pos=GRID * (floor_at[1], 1, 1) + (0, 0, floor_at[0]))
        self._canvas.update()

    def offset(self, index: int) -> np.ndarray:
        """(3,) where pose `index` of those shown is drawn, from its own origin."""
        return np.array([SPACING * ((len(self._poses) - 1) / 2 - index), 0.0, 0.0], np.float32)

    def joints(self) -> np.ndarray:
        """The poses shown: (17, 3) for one, (M, 17, 3) for several."""
        return self._poses[0].copy() if len(self._poses) == 1 else self._poses.copy()

    def reset_camera(self) -> None:
        """From the front, a little to the side; centred on the body, so zooming in keeps it
        in view."""
        if self._canvas is None:
            return  # made so when the canvas is
        camera = self.view.camera
        finite = self._poses[np.isfinite(self._poses).all(axis=(1, 2))]
        z = finite[..., 2]
        camera.center = (0.0, 0.0, float(z.min() + z.max()) / 2 if z.size else DEFAULT_CENTRE_Z)
        camera.distance = 7.0 + SPACING * max(0, len(self._poses) - 1)
        camera.elevation = 12.0
        camera.azimuth = 160.0  # from the front (canonical poses face +y), a little to the side

    def screenshot(self, path: str | Path) -> Path:
        """Render the current view to a PNG file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_png(str(path), self.canvas.render(alpha=False))
        return path
