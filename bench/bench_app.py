"""V-VIPE Studio latencies: start-up, latent slider -> redrawn 3D frame, dropped photo -> 3D,
and the Live view: a frame read from the camera -> its people drawn in 3D.

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/bench_app.py [--checkpoint FILE]

Times are wall-clock on the GUI thread, measured until vispy's canvas has drawn the new pose
(its `draw` event), so they include decoding, the scene update and software OpenGL (llvmpipe
under Xvfb; a real GPU draws faster).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

IMPORTS_START = time.perf_counter()  # before torch, Qt and the app are imported

import torch
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.main_window import SAMPLE_PHOTO, MainWindow

DROPPED = ROOT / "tests" / "data" / "yogait_letter_y.jpg"


def wait(app: QApplication, condition, timeout_s: float = 120.0) -> None:
    start = time.perf_counter()
    while not condition():
        app.processEvents()
        if time.perf_counter() - start > timeout_s:
            raise TimeoutError(f"gave up waiting: {condition.__doc__ or condition}")


def idle(window: MainWindow) -> bool:
    return window.controller.idle()


class DrawCounter:
    def __init__(self, window: MainWindow) -> None:
        self.count = 0
        window.pose_panel.view.canvas.events.draw.connect(self._drawn)

    def _drawn(self, event) -> None:
        self.count += 1


def drop(window: MainWindow, path: Path) -> None:
    """What a drag from a file manager delivers: drag-enter, then drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    centre = window.rect().center()
    # Qt's drag-enter event takes an integer point, the drop event a float one.
    for event_type, where in ((QDragEnterEvent, centre), (QDropEvent, QPointF(centre))):
        QApplication.sendEvent(window, event_type(
            where, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--gallery", type=Path, default=None)
    parser.add_argument("--moves", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--live-s", type=float, default=20.0, help="seconds of the Live view")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    imports = time.perf_counter() - IMPORTS_START
    app = QApplication.instance() or QApplication(sys.argv)
    # Throw-away settings: a run must not change the user's window layout or recent files.
    settings_dir = tempfile.TemporaryDirectory()
    settings = QSettings(f"{settings_dir.name}/settings.ini", QSettings.Format.IniFormat)

    start = time.perf_counter()
    window = MainWindow(args.checkpoint, args.gallery, [SAMPLE_PHOTO], settings)
    window.show()
    draws = DrawCounter(window)
    wait(app, lambda: idle(window) and window.state.pose is not None and draws.count > 0)
    startup = time.perf_counter() - start

    slider = window.latent_panel.sliders[0]
    moves = []
    for i in range(args.moves):
        before = draws.count
        t0 = time.perf_counter()
        # Ten distinct positions across the slider's range, so every move changes the pose.
        slider.setValue(slider.minimum() + (slider.maximum() - slider.minimum()) * (i % 10) / 9)
        wait(app, lambda b=before: draws.count > b)
        moves.append(time.perf_counter() - t0)
    wait(app, lambda: idle(window))

    drops = []
    for path in (DROPPED, SAMPLE_PHOTO, DROPPED):
        before = draws.count
        t0 = time.perf_counter()
        drop(window, path)
        wait(app, lambda p=path, b=before: window.state.picture.path == p and idle(window)
             and draws.count > b)
        drops.append(time.perf_counter() - t0)
    live_ms, live_fps = _live(app, window, Path(settings_dir.name), args.live_s)
    window.close()

    ms = [1000 * m for m in moves]
    print(f"model: {window.state.model.source} (D = {window.state.model.embedding_dim}), "
          f"gallery: {len(window.state.gallery)} poses, torch threads: {args.threads}")
    print("| measure | median | p90 | max |\n| --- | --- | --- | --- |")
    print(f"| imports (torch, Qt, vispy, faiss, the app; 1 run) | {imports:.2f} s | | |")
    print(f"| window start-up to the sample photo drawn in 3D (1 run) | {startup:.2f} s | | |")
    print(f"| latent slider -> redrawn 3D frame ({len(ms)} moves) | {statistics.median(ms):.1f} ms"
          f" | {sorted(ms)[int(0.9 * len(ms))]:.1f} ms | {max(ms):.1f} ms |")
    print(f"| dropped photo -> 3D pose drawn ({len(drops)} drops) | "
          f"{statistics.median(drops):.2f} s | | {max(drops):.2f} s |")
    print(f"| Live view: frame read -> its 3D drawn ({len(live_ms)} frames, {live_fps:.1f} fps "
          f"drawn) | {statistics.median(live_ms):.0f} ms | "
          f"{sorted(live_ms)[int(0.9 * len(live_ms))]:.0f} ms | {max(live_ms):.0f} ms |")


def _live(app: QApplication, window: MainWindow, folder: Path,
          seconds: float) -> tuple[list[float], float]:
    """A two-person 640×480 clip played as a 30 fps camera in the Live view: for each frame the
    3D view draws, the time since the capture thread read it."""
    from tests.media import write_people_video

    clip = folder / "camera.avi"
    write_people_video(clip, int(30 * (seconds + 5)), size=(640, 480), fps=30)
    live = window.live_panel
    window.tabs.setCurrentWidget(live)
    latencies = []

    def drawn(event) -> None:
        if live.frame is not None and live.frame.index not in seen:
            seen.add(live.frame.index)
            latencies.append(1000 * (time.perf_counter() - live.frame.read_at))

    seen: set[int] = set()
    live.view.canvas.events.draw.connect(drawn)
    live.open_source(str(clip))
    start = time.perf_counter()
    wait(app, lambda: time.perf_counter() - start > seconds, timeout_s=seconds + 60)
    live.stop(wait=True)
    return latencies, len(latencies) / seconds


if __name__ == "__main__":
    main()
