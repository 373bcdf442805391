"""Screenshots of V-VIPE Studio's main views, saved into docs/.

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/screenshots.py [--checkpoint FILE]

vispy needs a real OpenGL context: under Xvfb, Mesa's llvmpipe renders it.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.main_window import SAMPLE_PHOTO, MainWindow

COMPARED = [ROOT / "tests" / "data" / name for name in (
    "yogait_t_pose_t6.jpg", "yogait_letter_y.jpg", "yogait_side_lunge_left.jpg")]


def settle(app: QApplication, window: MainWindow, timeout_s: float = 120.0) -> None:
    """Process events until every job is done, then a little longer for repaints."""
    start = time.monotonic()
    while not window.controller.idle():
        app.processEvents()
        if time.monotonic() - start > timeout_s:
            raise TimeoutError("the window did not finish its work")
        time.sleep(0.01)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)


def shoot(app: QApplication, window: MainWindow, path: Path) -> None:
    settle(app, window)
    window.grab().save(str(path))
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--gallery", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    # Throw-away settings: a run must not change the user's window layout or recent files.
    settings_dir = tempfile.TemporaryDirectory()
    settings = QSettings(f"{settings_dir.name}/settings.ini", QSettings.Format.IniFormat)
    window = MainWindow(args.checkpoint, args.gallery, [SAMPLE_PHOTO], settings)
    window.resize(1500, 900)
    window.show()
    shoot(app, window, args.out / "screenshot_main.png")

    for slider, step in zip(window.latent_panel.sliders, (-1.5, 1.0)):
        slider.setValue(slider.value() + step)
    shoot(app, window, args.out / "screenshot_latent.png")
    window.controller.reset_walk()

    window.tabs.setCurrentWidget(window.compare_panel)
    window.controller.add_comparisons(COMPARED)
    shoot(app, window, args.out / "screenshot_compare.png")

    window.tabs.setCurrentWidget(window.virtual_panel)
    window.virtual_panel.count.setValue(6)
    window.virtual_panel.elevation.setValue(30)
    shoot(app, window, args.out / "screenshot_virtual.png")
    window.close()


if __name__ == "__main__":
    main()
