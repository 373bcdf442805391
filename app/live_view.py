"""The Live view: a camera, a stream or a video file lifted to 3D while it plays.

A LiveRunner thread runs vvipe_core.live.run_live and keeps only the newest processed frame;
the view draws it when the event loop gets there, so frames the window had no time for are
skipped, never queued. Similar poses are searched in a job at most every SEARCH_EVERY_MS and
never two at a time, so searching never holds back drawing. "Snapshot" freezes the frame on
screen into the Pose view, where everything else (the latent walk, exports...) works on it.
"""
from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import qthrottled

from app import tasks
from app.controller import USER_ERRORS, Controller
from app.drawing import PictureView, sketch_pixmap
from app.panels import THUMBNAIL
from app.people import PersonLabel, person_joint_colours
from app.skeleton_view import SkeletonView
from app.state import AppState, Picture
from app.workers import Jobs

if TYPE_CHECKING:  # torch and scipy (the tracker): imported when a live run starts
    from vvipe_core.api import VVIPE
    from vvipe_core.live import LiveFrame

SEARCH_EVERY_MS = 250
LIVE_HITS = 5
STATUS_EVERY_MS = 500
LATENCY_WINDOW = 100  # the status line's median is over this many recent frames


class LiveRunner(QObject):
    """run_live in a thread; `take()` hands over the newest processed frame (or None)."""

    frameReady = Signal()
    stopped = Signal(str)  # the run's summary
    failed = Signal(str)  # one line: what went wrong

    def __init__(self, source: str, model: VVIPE, all_people: bool,
                 record: Path | None) -> None:
        super().__init__()
        self.source, self.model, self.all_people, self.record = source, model, all_people, record
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._latest: LiveFrame | None = None
        self._thread = threading.Thread(target=self._run, name="live", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: bool = False) -> None:
        self._stop.set()
        if wait and self._thread.is_alive():
            self._thread.join()

    def take(self) -> LiveFrame | None:
        with self._lock:
            frame, self._latest = self._latest, None
        return frame

    def _hand_over(self, frame: LiveFrame) -> None:
        with self._lock:
            self._latest = frame
        self.frameReady.emit()

    def _run(self) -> None:
        from vvipe_core.detect import PoseDetector  # MediaPipe: loaded when first needed
        from vvipe_core.live import FrameSource, LivePipeline, Recorder, run_live

        try:
            with PoseDetector() as detector, FrameSource(self.source) as frames:
                recorder = None if self.record is None else Recorder(
                    self.record, frames.fps, self.all_people,
                    {"checkpoint": self.model.source, "source": self.source})
                pipeline = LivePipeline(detector, self.model, self.all_people)
                try:
                    report = run_live(frames, pipeline, recorder=recorder,
                                      show=self._hand_over, stop=self._stop)
                finally:
                    pipeline.close()
        except USER_ERRORS as error:
            self.failed.emit(str(error))
            return
        except Exception as error:  # noqa: BLE001 (a bug: said in the window, which lives on)
            self.failed.emit(f"live failed: {type(error).__name__}: {error}")
            return
        if report.failure:
            self.failed.emit(f"{self.source}: {report.failure}"
                             + (f"; recorded so far: {self.record}" if self.record else ""))
        else:
            saved = f"; recorded to {self.record}" if self.record else ""
            self.stopped.emit(f"live {self.source}: {report.summary()}{saved}")


class LivePanel(QWidget):
    """Source, start/stop, record and snapshot; the live picture, 3D view and similar poses."""

    def __init__(self, state: AppState, controller: Controller,
                 on_snapshot: Callable[[], None] = lambda: None) -> None:
        super().__init__()
        self.state, self.controller, self.on_snapshot = state, controller, on_snapshot
        self.runner: LiveRunner | None = None
        self.frame: LiveFrame | None = None  # the frame on screen
        self.drawn = 0
        self.latencies: list[float] = []  # read -> drawn, seconds
        self._query: np.ndarray | None = None  # the newest pose not searched yet
        self.hits: list = []
        self.jobs = Jobs(self)
        self.jobs.failed.connect(lambda label, error: controller.error(f"{label}: {error}"))
        self.source = QLineEdit("0", placeholderText="camera index (0), stream URL or video file",
                                toolTip="Camera index (0, 1, …), stream URL or video file")
        browse = QPushButton("File…", toolTip="Play a video file as if it were a camera")
        browse.clicked.connect(self._browse)
        self.everyone = QCheckBox("Everyone", toolTip="Track and lift every person, not only "
                                  "the main one")
        self.record = QCheckBox("Record", toolTip="Save the poses to a .json file while live")
        self.record_path: Path | None = None
        self.record.toggled.connect(self._record_toggled)
        self.start_stop = QPushButton("Start", toolTip="Start or stop the live view")
        self.start_stop.setCheckable(True)
        self.start_stop.toggled.connect(self._start_stop)
        self.snapshot = QPushButton("Snapshot", toolTip="Freeze this frame into the Pose view")
        self.snapshot.clicked.connect(self.take_snapshot)
        self.snapshot.setEnabled(False)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Source:"))
        tools.addWidget(self.source, 1)
        for widget in (browse, self.everyone, self.record, self.start_stop, self.snapshot):
            tools.addWidget(widget)
        self.picture = PictureView(placeholder="Start a camera, a stream or a video file")
        self.view = SkeletonView()
        self.hit_list = QListWidget()
        self.hit_list.setIconSize(THUMBNAIL)
        self.hit_list.setMaximumWidth(230)
        views = QSplitter()
        views.addWidget(self.picture)
        views.addWidget(self.view)
        views.addWidget(self.hit_list)
        views.setSizes([500, 500, 200])
        self.status = QLabel("stopped")
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(views, 1)
        layout.addWidget(self.status)
        self._search_soon = qthrottled(self._search, timeout=SEARCH_EVERY_MS)
        self._status_timer = QTimer(self, interval=STATUS_EVERY_MS)
        self._status_timer.timeout.connect(self._show_status)
        self._started_at = self._ended_at = 0.0

    # -- start / stop ------------------------------------------------------------------------
    def open_source(self, source: str) -> None:
        """Start live from `source` (a camera index, a stream URL or a video file)."""
        self.stop()
        self.source.setText(source)
        self.start_stop.setChecked(True)

    def _start_stop(self, start: bool) -> None:
        self.start_stop.setText("Stop" if start else "Start")
        if not start:
            self.stop()
            return
        if self.state.source.model is None:
            self.controller.error("the model is not loaded yet: start live in a moment")
            self.start_stop.setChecked(False)
            return
        record = self.record_path if self.record.isChecked() else None
        runner = LiveRunner(self.source.text().strip(), self.state.source.model,
                            self.everyone.isChecked(), record)
        runner.frameReady.connect(self._draw)
        # A stopped run reports after a new one may have started: only the current one counts.
        runner.stopped.connect(lambda summary: runner is self.runner and self._ended(summary))
        runner.failed.connect(lambda message: runner is self.runner and self._failed(message))
        self.runner = runner
        self.drawn, self.latencies, self._started_at = 0, [], time.perf_counter()
        self._ended_at = 0.0
        self.status.setText(f"starting {self.source.text()}…")
        self.runner.start()
        self._status_timer.start()

    def stop(self, wait: bool = False) -> None:
        """Stop the run (it saves its recording and reports), waiting for it if `wait`."""
        if self.runner is not None:
            self.runner.stop(wait)
        self._search_soon.cancel()
        self._status_timer.stop()
        self.start_stop.setChecked(False)

    def running(self) -> bool:
        return self.runner is not None and self.runner._thread.is_alive()

    def _ended(self, summary: str) -> None:
        self._finish()
        self.controller.message(summary)

    def _failed(self, message: str) -> None:
        self._finish()
        self.controller.error(message)

    def _finish(self) -> None:
        self._ended_at = time.perf_counter()
        self._show_status()
        self.start_stop.setChecked(False)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Play a video as a camera", "",
                                              "Videos (*.mp4 *.mov *.avi *.mkv *.webm);;All (*)")
        if path:
            self.source.setText(path)

    def _record_toggled(self, on: bool) -> None:
        if on and self.record_path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Record live poses to", "live.json",
                                                  "JSON (*.json)")
            self.record_path = Path(path) if path else None
            if self.record_path is None:
                self.record.setChecked(False)

    # -- drawing -----------------------------------------------------------------------------
    def _draw(self) -> None:
        frame = self.runner.take() if self.runner is not None else None
        if frame is None:  # already drawn a newer one
            return
        self.frame = frame
        people = frame.people
        self.picture.set_picture(frame.image.rgb, frame.image.size)
        main = people[0] if people else None
        self.picture.set_keypoints(None if main is None else main.keypoints,
                                   None if main is None else main.confidence)
        self.picture.set_people([p.keypoints for p in people[1:]],
                                [PersonLabel(p.id, p.detection.box, p is main) for p in people]
                                if len(people) > 1 else [])
        poses = np.stack([p.pose for p in people]) if people else None
        colours = (np.stack([person_joint_colours(p.id) for p in people])
                   if len(people) > 1 else None)
        self.view.set_poses(poses, colours)
        self.snapshot.setEnabled(bool(people))
        self.drawn += 1
        self.latencies = [*self.latencies[-LATENCY_WINDOW + 1:],
                          time.perf_counter() - frame.read_at]
        if main is not None and np.isfinite(main.pose).all():
            self._query = main.pose
            self._search_soon()

    def _show_status(self) -> None:
        seconds = max((self._ended_at or time.perf_counter()) - self._started_at, 1e-9)
        latency = (f" · read → drawn {1000 * statistics.median(self.latencies):.0f} ms (median)"
                   if self.latencies else "")
        self.status.setText(f"{self.drawn} frames drawn · {self.drawn / seconds:.1f} fps"
                            f"{latency}")

    # -- similar poses and snapshot ------------------------------------------------------------
    def _search(self) -> None:
        """Throttled (_search_soon): the newest pose, when no search is running (the one
        running asks again when it ends)."""
        gallery, model = self.state.source.gallery, self.state.source.model
        if self._query is None or gallery is None or model is None or not self.jobs.idle:
            return
        pose, self._query = self._query, None
        self.jobs.start("live search", "searching similar poses", _search_pose, model, gallery,
                        pose, on_result=self._show_hits)

    def _show_hits(self, found) -> None:
        self.hits, sketches = found
        self.hit_list.clear()
        for hit, sketch in zip(self.hits, sketches):
            self.hit_list.addItem(QListWidgetItem(QIcon(sketch_pixmap(sketch, THUMBNAIL)),
                                                  f"{hit.distance:.3f}\n{hit.activity}"))
        if self._query is not None:  # a newer pose came while this one was searched
            self._search_soon()

    def take_snapshot(self) -> None:
        """The frame on screen and its people, into the Pose view as if it were a photo."""
        frame = self.frame
        if frame is None or not frame.people:
            return
        picture = Picture(None, frame.image.rgb, frame.image.size)
        self.controller.files.show_picture(picture, [p.detection for p in frame.people])
        self.on_snapshot()


def _search_pose(model: VVIPE, gallery, pose: np.ndarray, k: int = LIVE_HITS):
    return tasks.search(gallery, model.embed_3d(pose[None])[0], k)

