"""The window's panels. Each one mirrors part of the state and forwards gestures to the
controller; none computes anything."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import signals_blocked

from app.activity_view import ActivityLabels, ActivityTrack, activity_name
from app.controller import Controller
from app.drawing import PictureView, SketchView, sketch_pixmap
from app.people import picture_people, shown_poses, tracked_people
from app.skeleton_view import SkeletonView
from app.state import AppState
from vvipe_core.gallery import VERIFY_K

FIT_HINT = ("fit error {:.1f} %: seen through the camera that fits it best, this pose lands "
            "that far from the photo's keypoints, per joint on average, in parts of the "
            "person's size (0 % explains the photo exactly); ")
DISTANCE_HELP = ("Embedding distance: about 0 for the same pose from any camera; larger means "
                 "a more different pose (compare values within one list)")
THUMBNAIL = QSize(72, 96)
LOADING = "Loading the model…"  # the 3D view's title until it is loaded: the window paints first


def dropped_files(event: QDropEvent | QDragEnterEvent) -> list[Path]:
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    return [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]


class PicturePanel(QWidget):
    """The photo with the selected person's keypoints (joint size/opacity = confidence)."""

    def __init__(self, state: AppState, controller: Controller) -> None:
        super().__init__()
        self.state = state
        self.view = PictureView(placeholder="Drop a photo, a video, a pose .npz file or a "
                                "checkpoint (.pt) anywhere in the window")
        self.people = QComboBox()
        self.people.setToolTip("Person to lift (largest first)")
        self.people.currentIndexChanged.connect(
            lambda i: i >= 0 and controller.pose.select_person(i))
        self.info = QLabel()
        header = QHBoxLayout()
        header.addWidget(QLabel("Person:"))
        header.addWidget(self.people)
        header.addWidget(self.info, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        state.source.events.picture.connect(self._picture_changed)
        state.source.events.person.connect(self._person_changed)
        state.source.events.sequence.connect(self._sequence_changed)
        state.source.events.frame.connect(self._frame_changed)
        state.source.events.video_frame.connect(self._video_frame_changed)
        state.search.events.overlay.connect(lambda: self.view.set_overlay(state.search.overlay))

    def _picture_changed(self) -> None:
        picture, people = self.state.source.picture, self.state.source.people
        if picture is None:
            self.view.set_picture(None, (1, 1))
        else:
            self.view.set_picture(picture.rgb, picture.size)
        with signals_blocked(self.people):  # the list is rebuilt, not chosen by the user
            self.people.clear()
            self.people.addItems([f"{i + 1}" + (" (largest)" if i == 0 and len(people) > 1
                                                else "") for i in range(len(people))])
        self._person_changed()

    def _person_changed(self) -> None:
        people, index = self.state.source.people, self.state.source.person
        if not 0 <= index < len(people):
            self.view.set_keypoints(None)
            self.view.set_people([], [])
            self.info.setText("nobody found" if self.state.source.picture is not None else "")
            return
        person = people[index]
        self.people.setCurrentIndex(index)
        self.view.set_keypoints(person.keypoints_raw, person.confidence, person.missing)
        self.view.set_people(*picture_people(people, index))
        self.info.setText(f"{len(people)} found · lowest confidence "
                          f"{person.confidence.min():.2f} · {int(person.missing.sum())} missing")

    def _sequence_changed(self) -> None:
        sequence = self.state.source.sequence
        if sequence is not None and sequence.image_size is not None:
            self.view.set_picture(self.state.source.video_frame, sequence.image_size)
        if sequence is not None and sequence.people:  # the chooser lists the tracked people
            with signals_blocked(self.people):
                self.people.clear()
                self.people.addItems([f"{person}" for person in sequence.people])
                self.people.setCurrentIndex(list(sequence.people).index(sequence.person))
        self._frame_changed()

    def _video_frame_changed(self) -> None:
        sequence = self.state.source.sequence
        if sequence is not None and sequence.image_size is not None:
            self.view.set_picture(self.state.source.video_frame, sequence.image_size)

    def _frame_changed(self) -> None:
        sequence = self.state.source.sequence
        if sequence is None or sequence.keypoints is None:
            return
        frame = self.state.source.frame
        self.view.set_keypoints(sequence.keypoints[frame], sequence.confidence[frame])
        self.view.set_people(*tracked_people(sequence, frame))


class PosePanel(QWidget):
    """The 3D view of the current pose, with view controls and a timeline for sequences."""

    def __init__(self, state: AppState, controller: Controller) -> None:
        super().__init__()
        self.state, self.controller = state, controller
        self.view = SkeletonView()
        self.view.setToolTip("Drag to orbit, scroll to zoom")
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        reset = QPushButton("Reset view", toolTip="Look at the pose from the front again")
        reset.clicked.connect(self.view.reset_camera)
        self.save = QPushButton("Save PNG…", toolTip="Save the 3D view as a picture")
        self.save.clicked.connect(self.save_dialog)
        tools = QHBoxLayout()
        tools.addWidget(self.title, 1)
        tools.addWidget(reset)
        tools.addWidget(self.save)
        self.activity = ActivityLabels(state)
        self.timeline = Timeline(state, controller)
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(self.activity)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.timeline)
        state.walk.events.pose.connect(self._pose_changed)
        state.source.events.model.connect(self._show_title)
        self._show_title()

    def _pose_changed(self) -> None:
        self.view.set_poses(*shown_poses(self.state))
        self._show_title()

    def _show_title(self) -> None:
        anchor = self.state.walk.anchor
        title = (anchor.label if anchor is not None else
                 "" if self.state.source.model is not None else LOADING)
        if self.title.text() != title:  # a slider drag keeps it: no relayout per frame
            self.title.setText(title)

    def save_dialog(self) -> None:
        path = self.controller.places.save_file(self, "Save the 3D view", "pose.png",
                                                "PNG (*.png)")
        if path:
            self.view.screenshot(path)


class Timeline(QWidget):
    """Frame slider with the activity label track under it, play/pause and frame steps for
    videos and pose files; hidden otherwise. Playing follows the clock at the clip's frame
    rate: when showing a frame takes longer than a frame lasts, frames are skipped."""

    def __init__(self, state: AppState, controller: Controller) -> None:
        super().__init__()
        self.state, self.controller = state, controller
        self.clock = time.monotonic  # tests replace it
        self._played_from = (0.0, 0)  # (clock, frame) when play was pressed
        self.previous = QPushButton("◀", toolTip="Previous frame (←)", maximumWidth=32)
        self.previous.clicked.connect(lambda: controller.pose.step_frame(-1))
        self.next = QPushButton("▶", toolTip="Next frame (→)", maximumWidth=32)
        self.next.clicked.connect(lambda: controller.pose.step_frame(1))
        self.play = QPushButton("Play", toolTip="Play / pause at the file's frame rate (Space)")
        self.play.setCheckable(True)
        self.play.toggled.connect(self._toggle)
        self.slider = QSlider(Qt.Orientation.Horizontal, toolTip="Frame")
        self.slider.valueChanged.connect(controller.pose.set_frame)
        self.track = ActivityTrack(state, controller)
        self.label = QLabel()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._step)
        frames = QVBoxLayout()
        frames.setSpacing(0)
        frames.addWidget(self.slider)
        frames.addWidget(self.track)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.previous)
        layout.addWidget(self.play)
        layout.addWidget(self.next)
        layout.addLayout(frames, 1)
        layout.addWidget(self.label)
        state.source.events.sequence.connect(self._sequence_changed)
        state.source.events.frame.connect(self._frame_changed)
        self.setVisible(False)

    def _sequence_changed(self) -> None:
        sequence = self.state.source.sequence
        self.play.setChecked(False)
        self.setVisible(sequence is not None)
        if sequence is not None:
            self.slider.setRange(0, len(sequence.poses) - 1)
            self._timer.setInterval(max(1, round(1000 / sequence.fps)))
        self._frame_changed()

    def _frame_changed(self) -> None:
        sequence = self.state.source.sequence
        if sequence is None:
            return
        self.slider.setValue(self.state.source.frame)
        frame = self.state.source.frame
        self.label.setText(f"{frame + 1}/{len(sequence.poses)} · {sequence.fps:g} fps")

    def _toggle(self, playing: bool) -> None:
        self.play.setText("Pause" if playing else "Play")
        if playing:
            self._played_from = (self.clock(), self.state.source.frame)
            self._timer.start()
        else:
            self._timer.stop()

    def _step(self) -> None:
        sequence = self.state.source.sequence
        if sequence is None:
            return
        started, first = self._played_from
        frame = first + int((self.clock() - started) * sequence.fps)
        self.controller.pose.set_frame(frame % len(sequence.poses))


class GalleryPanel(QWidget):
    """The k gallery poses nearest to the current embedding; clicking one shows it in 3D.

    For a photo (or video frame) the nearest ones are checked against its keypoints and shown
    best fit first, with their fit error; the overlay lays the selected one on the picture."""

    def __init__(self, state: AppState, controller: Controller) -> None:
        super().__init__()
        self.state, self.controller = state, controller
        self.k = QSpinBox()
        self.k.setRange(1, 50)
        self.k.setValue(state.search.k)
        self.k.setToolTip("How many similar poses to list")
        self.k.valueChanged.connect(controller.search.set_k)
        self.list = QListWidget()
        self.list.setIconSize(THUMBNAIL)
        self.list.setSpacing(2)
        self.list.itemClicked.connect(self._clicked)
        self.overlay = QCheckBox("Lay on the photo")
        self.overlay.setToolTip("Draw the selected pose (the best one until you click another) "
                                "over the photo, through the camera that fits it best")
        self.overlay.toggled.connect(controller.search.set_overlay)
        self.ranking = QLabel()  # one line: the dock shares the window's height
        self.list.setToolTip("Click a pose to show it; Go ▸ Back (Alt+←) returns")
        header = QHBoxLayout()
        header.addWidget(QLabel("Similar poses, k =", toolTip=DISTANCE_HELP))
        header.addWidget(self.k)
        header.addStretch(1)
        header.addWidget(self.overlay)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.ranking)
        layout.addWidget(self.list, 1)
        # Thumbnails of the hits shown, by gallery index: a walk's searches mostly find the
        # same poses again, and drawing them is most of the list's cost.
        self._icons: dict[int, QIcon] = {}
        state.source.events.gallery.connect(lambda: self._icons.clear())
        state.search.events.hits.connect(self._hits_changed)

    def _hits_changed(self) -> None:
        self.list.clear()
        hits = self.state.search.hits
        verified = bool(hits) and hits[0].verified
        checked = min(VERIFY_K, len(self.state.source.gallery)) if hits else 0
        self.ranking.setText("" if not hits else "Best fit to the photo first" if verified
                             else "Nearest in the embedding first")
        self.ranking.setToolTip(
            f"The nearest {checked} in the embedding, each seen through the camera that fits it "
            "best, ranked by how far they land from the photo's keypoints" if verified else
            "Nothing seen to check them against (the walk has left the photo's pose)")
        self._icons = icons = {
            hit.index: self._icons[hit.index] if hit.index in self._icons
            else QIcon(sketch_pixmap(sketch, THUMBNAIL))
            for hit, sketch in zip(hits, self.state.search.sketches if hits else [])}
        for hit in hits:
            fit = f"fit error {100 * hit.fit:.1f} %\n" if hit.verified else ""
            item = QListWidgetItem(icons[hit.index],
                                   f"{fit}distance {hit.distance:.3f}\n"
                                   f"{hit.sequence} #{hit.frame}\n{activity_name(hit.activity)}")
            item.setData(Qt.ItemDataRole.UserRole, hit.index)
            item.setToolTip((FIT_HINT.format(100 * hit.fit) if hit.verified else "")
                            + f"distance {hit.distance:.4f} in the embedding; "
                            f"CMU take {hit.sequence}, frame {hit.frame}\n{DISTANCE_HELP}")
            self.list.addItem(item)

    def _clicked(self, item: QListWidgetItem) -> None:
        self.controller.search.show_hit(self.state.search.hits[self.list.row(item)])

    def distances(self) -> list[float]:
        return self._numbers("distance ")

    def fit_errors(self) -> list[float]:
        """As shown, in percent."""
        return self._numbers("fit error ")

    def _numbers(self, prefix: str) -> list[float]:
        lines = (self.list.item(i).text().split("\n") for i in range(self.list.count()))
        return [float(line[len(prefix):].rstrip(" %")) for item in lines for line in item
                if line.startswith(prefix)]


class ComparePanel(QWidget):
    """2–4 photos side by side, their lifted poses and the pairwise embedding distances."""

    def __init__(self, state: AppState, controller: Controller) -> None:
        super().__init__()
        self.state, self.controller = state, controller
        self.setAcceptDrops(True)
        add = QPushButton("Add photos…", toolTip="Choose photos to compare (up to 4)")
        add.clicked.connect(self.add_dialog)
        clear = QPushButton("Clear", toolTip="Remove every compared photo")
        clear.clicked.connect(controller.compare.clear)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Drop 2–4 photos here to compare their poses."))
        tools.addStretch(1)
        tools.addWidget(add)
        tools.addWidget(clear)
        self.pictures = QHBoxLayout()
        self.view = SkeletonView(size=(600, 300))
        self.matrix = QTableWidget()
        self.matrix.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.matrix.setMaximumHeight(160)
        self.matrix.setToolTip(DISTANCE_HELP)
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addLayout(self.pictures, 2)
        layout.addWidget(self.view, 3)
        layout.addWidget(QLabel("Embedding distances (small = same pose, whatever the camera):"))
        layout.addWidget(self.matrix)
        state.compare.events.comparisons.connect(self._changed)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.controller.compare.add(dropped_files(event))
        event.acceptProposedAction()

    def add_dialog(self) -> None:
        paths = self.controller.places.open_files(self, "Photos to compare",
                                                  "Pictures (*.jpg *.jpeg *.png *.bmp *.webp)")
        self.controller.compare.add(paths)

    def _changed(self) -> None:
        while self.pictures.count():
            self.pictures.takeAt(0).widget().deleteLater()
        comparisons = self.state.compare.comparisons
        for c in comparisons:
            view = PictureView()
            view.set_picture(c.picture.rgb, c.picture.size)
            view.set_keypoints(c.person.keypoints_raw, c.person.confidence, c.person.missing)
            view.setToolTip(str(c.picture.path))
            self.pictures.addWidget(view)
        self.view.set_poses(np.stack([c.pose for c in comparisons]) if comparisons else None)
        names = [c.picture.path.name if c.picture.path else "?" for c in comparisons]
        distances = self.state.compare.distances
        self.matrix.setRowCount(len(names))
        self.matrix.setColumnCount(len(names))
        self.matrix.setHorizontalHeaderLabels(names)
        self.matrix.setVerticalHeaderLabels(names)
        top = float(distances.max()) if distances is not None and distances.size else 1.0
        for i in range(len(names)):
            for j in range(len(names)):
                item = QTableWidgetItem(f"{distances[i, j]:.3f}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                shade = int(255 - 120 * distances[i, j] / max(top, 1e-6))
                item.setBackground(QColor(shade, shade, 255))
                self.matrix.setItem(i, j, item)


class VirtualPanel(QWidget):
    """The current pose seen by N cameras around it, and each view lifted back to 3D."""

    def __init__(self, state: AppState, controller: Controller) -> None:
        super().__init__()
        self.state, self.controller = state, controller
        self.count = QSpinBox()
        self.count.setRange(2, 8)
        self.count.setValue(state.virtual.count)
        self.count.setToolTip("How many cameras, evenly spaced around the pose")
        self.elevation = QSpinBox()
        self.elevation.setRange(-30, 80)
        self.elevation.setSuffix("°")
        self.elevation.setValue(int(state.virtual.elevation))
        self.elevation.setToolTip("Camera height: degrees above (or below) the pelvis")
        for spin in (self.count, self.elevation):
            spin.valueChanged.connect(self._settings_changed)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Cameras around the pose:"))
        tools.addWidget(self.count)
        tools.addWidget(QLabel("elevation"))
        tools.addWidget(self.elevation)
        tools.addStretch(1)
        self.sketches_row = QHBoxLayout()
        self.sketches: list[SketchView] = []
        self.view = SkeletonView(size=(600, 300))
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addLayout(self.sketches_row, 2)
        layout.addWidget(QLabel("Each view lifted back to 3D (the same pose means the "
                                "embedding ignores the camera):"))
        layout.addWidget(self.view, 3)
        state.virtual.events.views.connect(self._changed)

    def _settings_changed(self) -> None:
        self.controller.virtual.set_cameras(self.count.value(), float(self.elevation.value()))

    def _changed(self) -> None:
        views = self.state.virtual.views
        n = 0 if views is None else len(views.azimuths)
        while len(self.sketches) > n:
            self.sketches.pop().deleteLater()
        while len(self.sketches) < n:
            self.sketches.append(SketchView())
            self.sketches_row.addWidget(self.sketches[-1])
        if views is None:
            self.view.set_poses(None)
            return
        for sketch, points, azimuth in zip(self.sketches, views.keypoints, views.azimuths):
            sketch.set_points(points, title=f"azimuth {azimuth % 360:.0f}°")
        self.view.set_poses(views.lifted)
