"""The generation docks: the walk along named directions, and editing (pins, undo/redo) with
in-between motions. They mirror the walk's and the generation's state (app.state) and call app.generation.Generation; no maths."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider
from superqt.utils import signals_blocked

from app.controller import USER_ERRORS, Controller
from app.skeleton_view import SkeletonView
from app.state import AppState
from app.widgets import ProgressBar

SIGMA_MAX = 1.5
STRIP_FRAMES = 5  # in-between frames drawn side by side
STRIP_CAMERA = {"distance": 10.5, "azimuth": 180.0, "elevation": 5.0}  # from the front, all five
EXPORT_FILTER = "JSON (*.json);;NumPy (*.npz);;BVH for Blender (*.bvh)"


def _slider(low: float, high: float, decimals: int = 2) -> QLabeledDoubleSlider:
    slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    slider.setDecimals(decimals)
    slider.setValue(low)
    return slider


class WalkPanel(QWidget):
    """Sliders along named directions (knee bend, arm raise...) that read what the shown pose
    has, variation with resample, and how plausible the shown pose is."""

    def __init__(self, state: AppState, controller: Controller) -> None:
        super().__init__()
        self.state, self.controller = state, controller
        self.generation = controller.generation
        self.sliders: list[QLabeledDoubleSlider] = []
        self.labels: list[QLabel] = []
        self._grid = QGridLayout()
        self.sigma = _slider(0.0, SIGMA_MAX)
        self.sigma.setToolTip("Random variation around the pose (standard deviation in the "
                              "embedding, whose prior is N(0, I))")
        self.sigma.valueChanged.connect(controller.walk.set_sigma)
        self.resample = QPushButton("Resample")
        self.resample.setToolTip("Draw another variation around the pose")
        self.resample.clicked.connect(controller.walk.resample)
        reset = QPushButton("Reset")
        reset.setToolTip("Back to the pose the walk started from")
        reset.clicked.connect(controller.walk.reset)
        variation = QHBoxLayout()
        variation.addWidget(QLabel("Variation σ"))
        variation.addWidget(self.sigma, 1)
        variation.addWidget(self.resample)
        self.plausibility = ProgressBar(minimum=0, maximum=100, textVisible=True)
        self.plausibility.setToolTip(
            "How typical the shown pose is: the share of the gallery's poses that lie at least "
            "as far from their nearest neighbours in the embedding (100 %: in the thick of the "
            "data; 0 %: farther out than any real pose)")
        self.keep_near = QCheckBox("Keep near the data")
        self.keep_near.setChecked(state.walk.keep_near)
        self.keep_near.setToolTip("Stop the walk where the gallery's poses end (98 % of them lie "
                                  "nearer their neighbours), so moving on bends the pose no "
                                  "further instead of breaking it")
        self.keep_near.toggled.connect(controller.walk.set_keep_near)
        plausible = QHBoxLayout()
        plausible.addWidget(QLabel("Plausibility"))
        plausible.addWidget(self.plausibility, 1)
        plausible.addWidget(self.keep_near)
        layout = QVBoxLayout(self)
        hint = QLabel("Each slider moves the pose along a direction found in the data and "
                      "shows what the pose has now; it spans where 98 % of the gallery's poses "
                      "lie. Generated poses keep the shown person's bone lengths.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addLayout(self._grid)
        layout.addLayout(variation)
        layout.addLayout(plausible)
        layout.addWidget(reset, 0, Qt.AlignmentFlag.AlignRight)
        layout.addStretch(1)
        state.source.events.gallery.connect(self._rebuild)
        state.walk.events.walk.connect(self._walk_changed)
        state.generation.events.score.connect(self._score_changed)
        self._rebuild()
        self._score_changed()

    def _rebuild(self) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        directions = self.state.source.axes
        self.sliders, self.labels = [], []
        for i, feature in enumerate(() if directions is None else directions.features):
            low, high = float(directions.low[i]), float(directions.high[i])
            slider = _slider(low, high, decimals=1 if feature.unit == "°" else 2)
            slider.valueChanged.connect(lambda v, i=i: self.controller.walk.set_coordinate(i, v))
            tip = (f"{feature.label}: {feature.meaning}. In the gallery from {low:.1f} to "
                   f"{high:.1f}{feature.unit} (1st to 99th percentile).")
            label = QLabel(f"{feature.label} ({feature.unit.strip()})")
            for widget in (label, slider):
                widget.setToolTip(tip)
            self._grid.addWidget(label, i, 0)
            self._grid.addWidget(slider, i, 1)
            self.sliders.append(slider)
            self.labels.append(label)
        self._walk_changed()

    def _walk_changed(self) -> None:
        """Mirror the state; signals blocked, as a slider would round the value it sends.
        Only sliders whose value changed are touched (a drag moves one)."""
        state, directions = self.state, self.state.source.axes
        for i, (slider, value) in enumerate(zip(self.sliders, state.walk.coordinates.tolist())):
            if slider.value() == value:
                continue
            with signals_blocked(slider):
                # A pose outside the gallery's range still shows where it is.
                slider.setRange(min(float(directions.low[i]), value),
                                max(float(directions.high[i]), value))
                slider.setValue(float(value))
        if self.sigma.value() != state.walk.sigma:
            with signals_blocked(self.sigma):
                self.sigma.setValue(state.walk.sigma)

    def _score_changed(self) -> None:
        score = self.state.generation.score
        self.plausibility.setEnabled(score is not None)
        self.plausibility.setValue(0 if score is None else round(100 * score))
        self.plausibility.setFormat("–" if score is None else "%p %")


class EditPanel(QWidget):
    """Pins and undo/redo for joint drags in the 3D view, and the in-between motion of two
    chosen poses: a strip of its frames, a preview in the 3D view, export."""

    def __init__(self, state: AppState, controller: Controller) -> None:
        super().__init__()
        self.state, self.controller = state, controller
        self.generation = generation = controller.generation
        self.pins = QLabel()
        self.pins.setWordWrap(True)
        unpin = QPushButton("Unpin all")
        unpin.setToolTip("Let every pinned joint move again")
        unpin.clicked.connect(generation.clear_pins)
        self.undo = QPushButton("Undo")
        self.undo.setToolTip("Undo the last joint drag (Ctrl+Z)")
        self.undo.clicked.connect(generation.undo)
        self.redo = QPushButton("Redo")
        self.redo.setToolTip("Redo the drag undone last (Ctrl+Shift+Z)")
        self.redo.clicked.connect(generation.redo)
        edit = QGroupBox("Pose by hand")
        edit_layout = QVBoxLayout(edit)
        how = QLabel("Drag a joint in the 3D view to move it: the rest of the body follows as "
                     "people move, with the same bone lengths. Click a joint to pin it (red) so "
                     "drags leave it in place; click it again to unpin it. Drag elsewhere to "
                     "turn the view.")
        how.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (unpin, self.undo, self.redo):
            buttons.addWidget(button)
        edit_layout.addWidget(how)
        edit_layout.addWidget(self.pins)
        edit_layout.addLayout(buttons)

        self.start_label, self.end_label = QLabel(), QLabel()
        set_start = QPushButton("Use shown pose as start")
        set_start.setToolTip("The motion starts at the pose in the 3D view (a photo, a gallery "
                             "or library hit, a frame, an edit), on its body")
        set_start.clicked.connect(lambda: generation.set_endpoint("start"))
        set_end = QPushButton("Use shown pose as end")
        set_end.setToolTip("The motion ends at the pose in the 3D view")
        set_end.clicked.connect(lambda: generation.set_endpoint("end"))
        self.duration = QDoubleSpinBox(minimum=0.1, maximum=10.0, value=1.0, singleStep=0.5,
                                       suffix=" s", toolTip="Length of the motion")
        self.fps = QSpinBox(minimum=1, maximum=120, value=30, suffix=" fps",
                            toolTip="Frames per second of the preview and the export")
        self.frame = QSlider(Qt.Orientation.Horizontal, toolTip="Scrub through the motion")
        self.frame.valueChanged.connect(generation.show_between)
        self.preview = QPushButton("Preview")
        self.preview.setToolTip("Play the motion in the 3D view")
        self.preview.clicked.connect(self.play)
        self.export = QPushButton("Export…")
        self.export.setToolTip("Save the motion as JSON, NumPy or BVH at the chosen frame rate")
        self.export.clicked.connect(self.export_dialog)
        self.strip = SkeletonView(size=(360, 170))
        self.strip.setMinimumHeight(170)
        between = QGroupBox("In-between motion")
        grid = QGridLayout(between)
        grid.addWidget(set_start, 0, 0)
        grid.addWidget(self.start_label, 0, 1)
        grid.addWidget(set_end, 1, 0)
        grid.addWidget(self.end_label, 1, 1)
        timing = QHBoxLayout()
        timing.addWidget(self.duration)
        timing.addWidget(self.fps)
        timing.addWidget(self.preview)
        timing.addWidget(self.export)
        grid.addLayout(timing, 2, 0, 1, 2)
        grid.addWidget(self.frame, 3, 0, 1, 2)
        grid.addWidget(self.strip, 4, 0, 1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(edit)
        layout.addWidget(between)
        layout.addStretch(1)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._step)
        for spin in (self.duration, self.fps):
            spin.valueChanged.connect(self._refresh_between)
        state.generation.events.pins.connect(self._pins_changed)
        state.generation.events.undo.connect(self._history_changed)
        state.generation.events.between.connect(self._between_changed)
        self._pins_changed()
        self._history_changed()
        self._between_changed()

    def _pins_changed(self) -> None:
        pins = sorted(self.state.generation.pins)
        self.pins.setText("Pinned: " + (", ".join(pins) if pins else "none"))

    def _history_changed(self) -> None:
        self.undo.setEnabled(self.state.generation.can_undo)
        self.redo.setEnabled(self.state.generation.can_redo)

    def _refresh_between(self) -> None:
        self.generation.make_between(self.duration.value(), self.fps.value())

    def _between_changed(self) -> None:
        generation = self.state.generation
        for label, point in ((self.start_label, generation.start),
                             (self.end_label, generation.end)):
            label.setText("–" if point is None else point.label)
        motion = generation.between
        for widget in (self.preview, self.export, self.frame):
            widget.setEnabled(motion is not None)
        if motion is None and generation.start is not None and generation.end is not None:
            self._refresh_between()  # the between event comes again with the motion
        with signals_blocked(self.frame):
            self.frame.setRange(0, 0 if motion is None else len(motion.poses) - 1)
        if motion is None:
            self.strip.set_poses(None)
            return
        picks = [round(i * (len(motion.poses) - 1) / (STRIP_FRAMES - 1))
                 for i in range(STRIP_FRAMES)]
        self.strip.set_poses(motion.poses[picks])
        for name, value in STRIP_CAMERA.items():
            setattr(self.strip.view.camera, name, value)

    def play(self) -> None:
        """Show the motion in the 3D view, frame by frame at its frame rate."""
        self.frame.setValue(0)
        self.generation.show_between(0)
        self._timer.start(round(1000 / self.state.generation.between.fps))

    def _step(self) -> None:
        if self.frame.value() >= self.frame.maximum():
            self._timer.stop()
        else:
            self.frame.setValue(self.frame.value() + 1)

    def playing(self) -> bool:
        return self._timer.isActive()

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the in-between motion",
                                              "motion.bvh", EXPORT_FILTER)
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        try:
            written = self.generation.export_between(path)
        except (ValueError, *USER_ERRORS) as error:
            self.controller.error(str(error))
            return
        self.controller.message(f"exported the motion to {written}")
