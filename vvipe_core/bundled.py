"""Where the files that ship with the program are: the model, the pose-landmarker model, the
gallery, the activity classifier and the sample photo.

The repository keeps them in assets/ and checkpoints/; an installed package (pip install ., a
wheel) carries the same folders as the package data vvipe_core._assets and
vvipe_core._checkpoints (pyproject.toml maps them: nothing is copied in the repository). This
is the one place that knows both, so every caller works from any directory either way.

    bundled("checkpoints/vvipe.pt"); bundled("assets/models/pose_landmarker_full.task")
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
PACKAGES = {"assets": "vvipe_core._assets", "checkpoints": "vvipe_core._checkpoints"}


def bundled(name: str) -> Path:
    """The path of a shipped file, named as in the repository ("assets/gallery.npz")."""
    folder, _, rest = name.partition("/")
    try:
        installed = Path(str(resources.files(PACKAGES[folder]).joinpath(rest)))
    except ModuleNotFoundError:  # running from a checkout: the repository's folders
        return REPOSITORY / name
    return installed
