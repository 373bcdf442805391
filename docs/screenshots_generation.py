"""Screenshots of generation in V-VIPE Studio: the walk at its extremes, a joint drag with pins,
an in-between motion. Saved into docs/ (the other views: docs/screenshots.py).

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/screenshots_generation.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QDockWidget

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.main_window import SAMPLE_PHOTO
from docs.screenshots import arguments, settle, shoot, start
from vvipe_core.skeleton import H36M17


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    app, window, _work = start(args.checkpoint, args.gallery, [SAMPLE_PHOTO])
    window.resize(1500, 1000)  # room for the three docks
    settle(app, window)
    controller, generation, walk = window.controller, window.controller.generation, \
        window.latent_panel

    # The walk at its extremes: every slider at its low end, at its high end, and the high end
    # again without the pull back towards the data.
    for name, end in (("low", "minimum"), ("high", "maximum")):
        for slider in walk.sliders:
            slider.setValue(getattr(slider, end)())
        shoot(app, window, args.out / f"screenshot_walk_{name}.png")
    walk.keep_near.setChecked(False)
    shoot(app, window, args.out / "screenshot_walk_high_unbounded.png")
    walk.keep_near.setChecked(True)
    controller.walk.reset()

    # A drag: both ankles pinned, the right wrist pulled up and forward.
    window.findChild(QDockWidget, "Pose editing").raise_()
    for joint in ("l_ankle", "r_ankle"):
        generation.toggle_pin(joint)
    settle(app, window)
    wrist = window.state.walk.pose[H36M17.index("r_wrist")]
    generation.drag("r_wrist", wrist + np.array([0.0, 0.25, 0.45], dtype=np.float32))
    generation.end_drag()
    shoot(app, window, args.out / "screenshot_drag_edit.png")

    # An in-between motion of two gallery poses, shown half-way.
    hits = window.state.search.hits
    controller.search.show_hit(hits[1])
    generation.set_endpoint("start")
    controller.search.show_hit(hits[-1])
    generation.set_endpoint("end")
    settle(app, window)  # the motion is computed in a job
    panel = window.edit_panel
    panel.frame.setValue(panel.frame.maximum() // 2)
    shoot(app, window, args.out / "screenshot_interpolation.png")
    window.close()


if __name__ == "__main__":
    main()
