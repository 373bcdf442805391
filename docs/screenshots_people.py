"""Screenshots of several people: a two-person picture, and the Live view playing a generated
two-person clip as its camera. Saved into docs/ beside the others (docs/screenshots.py).

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/screenshots_people.py
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from docs.screenshots import settle, shoot, start
from tests.media import T_POSE, Y_POSE, side_by_side, write_people_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    picture = Path(folder.name) / "two_people.png"
    cv2.imwrite(str(picture), cv2.cvtColor(side_by_side([T_POSE, Y_POSE], 480),
                                           cv2.COLOR_RGB2BGR))
    app, window, _settings = start(args.checkpoint, None, [picture])
    settle(app, window)
    window.picture_panel.people.setCurrentIndex(1)
    shoot(app, window, args.out / "screenshot_people.png")

    clip = Path(folder.name) / "camera.avi"
    write_people_video(clip, 500, size=(640, 480), fps=25)
    live = window.live_panel
    window.tabs.setCurrentWidget(live)
    live.everyone.setChecked(True)
    live.open_source(str(clip))
    began = time.monotonic()
    while (live.drawn < 30 or not live.hit_list.count()) and time.monotonic() - began < 120:
        app.processEvents()
        time.sleep(0.01)
    live._show_status()
    window.grab().save(str(args.out / "screenshot_live.png"))
    print(f"wrote {args.out / 'screenshot_live.png'}")
    live.stop(wait=True)
    window.close()


if __name__ == "__main__":
    main()
