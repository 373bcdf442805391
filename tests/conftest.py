from pathlib import Path

import pytest
import torch

from tests.helpers import SMALL_POSES, tiny_config
from vvipe_core.data import load_poses

# Two cores are shared by the whole suite: no oversubscription.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def small_poses():
    return load_poses(SMALL_POSES)


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint: Path):
    """The tiny trained model, shared: tests must not move it to another device."""
    from vvipe_core import VVIPE

    return VVIPE.load(tiny_checkpoint, device="cpu")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from vvipe_core.train import Trainer

    out = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    return Trainer(tiny_config(), out).run()


@pytest.fixture(scope="module")
def detector():
    """One MediaPipe detector per test module (they take a second to start)."""
    from vvipe_core.detect import PoseDetector

    with PoseDetector() as d:
        yield d
