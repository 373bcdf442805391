"""V-VIPE Studio and CLI latencies: `vvipe --help`, `python main.py` to the first drawn pose,
latent slider -> redrawn 3D frame, dropped photo -> 3D, and the Live view: a frame read from the
camera -> its people drawn in 3D.

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/bench_app.py [--checkpoint FILE]

Times are wall-clock, measured until vispy's canvas has drawn the new pose (its `draw` event),
so they include decoding, the scene update and software OpenGL (llvmpipe under Xvfb; a real
GPU draws faster). References measured in the same run: `python -c pass` for the process
starts, a redraw of the unchanged 3D view for the slider.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DROPPED = ROOT / "tests" / "data" / "yogait_letter_y.jpg"
CLI_HELP = "from vvipe_core.cli import app; app(['--help'])"


def wait(app, condition, timeout_s: float = 120.0) -> None:
    start = time.perf_counter()
    while not condition():
        app.processEvents()
        if time.perf_counter() - start > timeout_s:
            raise TimeoutError(f"gave up waiting: {condition.__doc__ or condition}")


class DrawCounter:
    def __init__(self, window) -> None:
        self.count = 0
        window.pose_panel.view.canvas.events.draw.connect(self._drawn)

    def _drawn(self, event) -> None:
        self.count += 1


def drop(window, path: Path) -> None:
    """What a drag from a file manager delivers: drag-enter (an integer point), then drop."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    centre = window.rect().center()
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(window, QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime,
                                                   buttons, modifiers))
    QApplication.sendEvent(window, QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime,
                                              buttons, modifiers))


def new_window(args: argparse.Namespace, settings_dir: str, open_files: list[Path] | None):
    """The app's window as main.py opens it, with throw-away settings (a run must not change
    the user's window layout or recent files)."""
    from PySide6.QtCore import QSettings

    from app.main_window import MainWindow

    settings = QSettings(f"{settings_dir}/settings.ini", QSettings.Format.IniFormat)
    return MainWindow(args.checkpoint, args.gallery, open_files, settings)


def first_pose(args: argparse.Namespace) -> None:
    """Child process: from interpreter start (`--started`, the parent's clock) to the sample
    photo's pose drawn in 3D; prints the imports' share (what main.py imports before it makes
    the window) and the total."""
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow  # noqa: F401 (timed; the rest is imported by jobs)

    imported = time.time() - args.started
    app = QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as settings_dir:
        window = new_window(args, settings_dir, None)
        window.show()
        draws = DrawCounter(window)
        wait(app, lambda: window.state.walk.pose is not None and draws.count > 0)
        print(f"{imported:.3f} {time.time() - args.started:.3f}")
        window.close()


def process_times(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def startup_times(args: argparse.Namespace) -> list[tuple[float, float]]:
    """(imports, first pose) in seconds from interpreter start, for each run."""
    found = []
    for _ in range(args.starts):
        argv = [sys.executable, __file__, "--first-pose", "--started", repr(time.time())]
        for flag in ("checkpoint", "gallery"):
            if getattr(args, flag) is not None:
                argv += [f"--{flag}", str(getattr(args, flag))]
        # torch's threads set by the environment: importing torch here to set them would put it
        # back on the start's path, which now imports it in the model's job.
        done = subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, text=True,
                              env=os.environ | {"OMP_NUM_THREADS": str(args.threads)})
        imports, total = map(float, done.stdout.split()[-2:])
        found.append((imports, total))
    return found


def slider_and_drops(args: argparse.Namespace) -> tuple[list[float], list[float], list[float]]:
    """Milliseconds per slider move and per redraw of the unchanged view; seconds per drop."""
    import torch
    from PySide6.QtWidgets import QApplication

    from app.main_window import SAMPLE_PHOTO

    torch.set_num_threads(args.threads)
    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as settings_dir:
        window = new_window(args, settings_dir, [SAMPLE_PHOTO])
        window.show()
        draws = DrawCounter(window)
        wait(app, lambda: window.controller.idle() and window.state.walk.pose is not None
             and draws.count > 0)

        def timed(action) -> float:
            before = draws.count
            t0 = time.perf_counter()
            action()
            wait(app, lambda: draws.count > before)
            return 1000 * (time.perf_counter() - t0)

        slider = window.latent_panel.sliders[0]
        low, high = slider.minimum(), slider.maximum()
        # Ten distinct positions across the slider's range, so every move changes the pose.
        moves = [timed(lambda i=i: slider.setValue(low + (high - low) * (i % 10) / 9))
                 for i in range(args.moves)]
        redraws = [timed(window.pose_panel.view.canvas.update) for _ in range(args.moves)]
        wait(app, window.controller.idle)

        drops = []
        for path in (DROPPED, SAMPLE_PHOTO, DROPPED)[: args.drops]:
            before = draws.count
            t0 = time.perf_counter()
            drop(window, path)
            wait(app, lambda p=path, b=before: window.state.source.picture is not None
                 and window.state.source.picture.path == p and window.controller.idle()
                 and draws.count > b)
            drops.append(time.perf_counter() - t0)
        window.close()
        return moves, redraws, drops


def live_view(args: argparse.Namespace) -> tuple[list[float], float]:
    """A two-person 640×480 clip played as a 30 fps camera in the Live view: for each frame the
    3D view draws, milliseconds since the capture thread read it; and the frames drawn a second
    once the first is."""
    import torch
    from PySide6.QtWidgets import QApplication

    from tests.media import write_people_video

    torch.set_num_threads(args.threads)
    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as settings_dir:
        clip = Path(settings_dir) / "camera.avi"
        write_people_video(clip, int(30 * (args.live_s + 5)), size=(640, 480), fps=30)
        window = new_window(args, settings_dir, None)
        window.show()
        wait(app, lambda: window.controller.idle() and window.state.walk.pose is not None)
        live = window.live_panel
        window.tabs.setCurrentWidget(live)
        latencies: list[float] = []
        seen: set[int] = set()

        def drawn(event) -> None:
            if live.frame is not None and live.frame.index not in seen:
                seen.add(live.frame.index)
                latencies.append(1000 * (time.perf_counter() - live.frame.read_at))

        live.view.canvas.events.draw.connect(drawn)
        live.open_source(str(clip))
        # Timed from the first frame drawn: before it, MediaPipe and the live pipeline load.
        wait(app, lambda: bool(latencies))
        start, first = time.perf_counter(), len(latencies)
        wait(app, lambda: time.perf_counter() - start > args.live_s, timeout_s=args.live_s + 60)
        live.stop(wait=True)
        window.close()
    return latencies, (len(latencies) - first) / args.live_s


def row(name: str, values: list[float], unit: str, digits: int) -> str:
    ordered = sorted(values)
    cells = [statistics.median(values), ordered[int(0.9 * len(values))], max(values)]
    return f"| {name} ({len(values)}) | " + " | ".join(f"{v:.{digits}f} {unit}" for v in cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--gallery", type=Path, default=None)
    parser.add_argument("--moves", type=int, default=50)
    parser.add_argument("--drops", type=int, default=3)
    parser.add_argument("--starts", type=int, default=3, help="process starts per row")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--live-s", type=float, default=20.0, help="seconds of the Live view")
    parser.add_argument("--first-pose", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--started", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_pose:
        first_pose(args)
        return

    python = process_times([sys.executable, "-c", "pass"], args.starts)
    cli = process_times([sys.executable, "-c", CLI_HELP], args.starts)
    starts = startup_times(args)
    moves, redraws, drops = slider_and_drops(args)
    live_ms, live_fps = live_view(args)

    print(f"torch threads: {args.threads}; checkpoint: {args.checkpoint or 'bundled'}")
    print("| measure (runs) | median | p90 | max |\n| --- | --- | --- | --- |")
    print(row("`python -c pass` (reference)", python, "s", 2))
    print(row("`vvipe --help`", cli, "s", 2))
    print(row("`python main.py`: imports", [i for i, _ in starts], "s", 2))
    print(row("`python main.py` to the sample photo's pose drawn", [t for _, t in starts],
              "s", 2))
    print(row("redraw of the unchanged 3D view (reference)", redraws, "ms", 1))
    print(row("latent slider -> redrawn 3D frame", moves, "ms", 1))
    print(row("dropped photo -> 3D pose drawn", drops, "s", 2))
    print(row(f"Live view: frame read -> its 3D drawn ({live_fps:.1f} fps drawn)", live_ms, "ms",
              0))


if __name__ == "__main__":
    main()
