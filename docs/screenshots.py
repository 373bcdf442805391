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
from PySide6.QtWidgets import QApplication, QDockWidget

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.main_window import SAMPLE_PHOTO, MainWindow
from tests.helpers import tiny_config
from tests.media import PHOTOS, STANDING, write_video

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
    while window.training.running:
        app.processEvents()
        time.sleep(0.01)
    window.grab().save(str(path))
    print(f"wrote {path}")


def start(checkpoint: Path | None, gallery: Path | None, files: list[Path]) -> tuple[
        QApplication, MainWindow, tempfile.TemporaryDirectory]:
    """The app and its window, shown at the screenshots' size, with throw-away settings (a run
    must not change the user's window layout or recent files) in a folder to work in."""
    app = QApplication.instance() or QApplication(sys.argv)
    work = tempfile.TemporaryDirectory()
    settings = QSettings(f"{work.name}/settings.ini", QSettings.Format.IniFormat)
    window = MainWindow(checkpoint, gallery, files, settings)
    window.resize(1500, 900)
    window.show()
    return app, window, work


def arguments(description: str) -> argparse.Namespace:
    """The options of a screenshot script: the model, the gallery, where the PNGs go."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--gallery", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    app, window, settings_dir = start(args.checkpoint, args.gallery, [SAMPLE_PHOTO])
    shoot(app, window, args.out / "screenshot_main.png")

    # Similar poses checked against the photo, the best one laid on it; the other docks are
    # hidden so that the list has the right-hand column to itself.
    docks = [d for d in window.findChildren(QDockWidget) if d.isVisible()]
    for dock in docks:
        dock.setVisible(dock.widget() is window.gallery_panel)
    window.gallery_panel.overlay.setChecked(True)
    shoot(app, window, args.out / "screenshot_verified.png")
    window.gallery_panel.overlay.setChecked(False)
    for dock in docks:
        dock.setVisible(True)

    for slider, step in zip(window.latent_panel.sliders, (60.0, 40.0)):  # bend both knees (°)
        slider.setValue(slider.value() + step)
    shoot(app, window, args.out / "screenshot_latent.png")
    window.controller.walk.reset()

    window.tabs.setCurrentWidget(window.compare_panel)
    window.controller.compare.add(COMPARED)
    shoot(app, window, args.out / "screenshot_compare.png")

    window.tabs.setCurrentWidget(window.virtual_panel)
    window.virtual_panel.count.setValue(6)
    window.virtual_panel.elevation.setValue(30)
    shoot(app, window, args.out / "screenshot_virtual.png")

    # The library: the test photos and a short video, searched with the sample photo's pose.
    work = Path(settings_dir.name)
    media = work / "media"
    media.mkdir()
    for photo in COMPARED:
        (media / photo.name).write_bytes(photo.read_bytes())
    write_video(media / "clip.avi", [COMPARED[1]] * 3 + [STANDING] * 3, size=(320, 240))
    window.tabs.setCurrentWidget(window.library_panel)
    window.library_panel.directory.setText(str(work / "library"))
    window.controller.library.build(work / "library", [media])
    shoot(app, window, args.out / "screenshot_library.png")

    # A video of the test photos in turn: the activity label track under the timeline.
    window.tabs.setCurrentWidget(window.pose_panel.parentWidget())
    clip = [*PHOTOS[:2] * 12, *PHOTOS[2:] * 10]  # arms out and up, then lunges and standing
    window.controller.files.open_path(write_video(work / "poses.avi", clip, size=(320, 240), fps=4))
    settle(app, window)
    window.controller.pose.set_frame(len(window.state.source.sequence.poses) // 2)
    shoot(app, window, args.out / "screenshot_activity.png")

    # A small training run on the test poses, to show the curves.
    panel = window.train_panel
    panel.set_config(tiny_config(vae_epochs=8, mapper_epochs=8, steps_per_epoch=30))
    panel.out.edit.setText(str(work / "run.pt"))
    window.tabs.setCurrentWidget(panel)
    panel.start.click()
    shoot(app, window, args.out / "screenshot_training.png")

    # A small laptop screen: everything still fits at 1280×720.
    window.tabs.setCurrentIndex(0)
    window.open_paths([SAMPLE_PHOTO])
    window.resize(1280, 720)
    shoot(app, window, args.out / "screenshot_small.png")
    window.close()


if __name__ == "__main__":
    main()
