"""Shared test helpers (fixtures live in conftest.py)."""
import contextlib
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vvipe_core.config import ModelConfig, TrainConfig

DATA = Path(__file__).parent / "data"
SMALL_POSES = DATA / "cmu_val_small.npz"


def random_rotations(n: int, seed: int = 0) -> np.ndarray:
    """n uniformly random proper rotations (n, 3, 3)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(n, 3, 3)))
    q *= np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[np.linalg.det(q) < 0, :, 0] *= -1
    return q


def tiny_config(**changes) -> TrainConfig:
    """A model and schedule small enough to train in a second or two."""
    cfg = TrainConfig(
        train_data=str(SMALL_POSES), val_data=str(SMALL_POSES), device="cpu",
        model=ModelConfig(embedding_dim=8, width=64, blocks=1, dropout=0.0),
        batch_size=64, vae_epochs=2, mapper_epochs=2, steps_per_epoch=6, val_poses=100,
        beta_warmup_steps=5,
    )
    return cfg.replace(**changes) if changes else cfg


@contextlib.contextmanager
def file_size_limit(limit_bytes: int) -> Iterator[None]:
    """`ulimit -f`: no file may grow past `limit_bytes` (writes fail with EFBIG, Python ignores
    SIGXFSZ). Only the soft limit is lowered, so it can be raised back."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def run_under_file_limit(code: str, limit_bytes: int) -> subprocess.CompletedProcess[str]:
    """Run Python `code` in a fresh process; its writes inside `with limited():` are limited."""
    preamble = ("from tests.helpers import file_size_limit\n"
                f"def limited():\n    return file_size_limit({limit_bytes})\n")
    return subprocess.run([sys.executable, "-c", preamble + code], check=False,
                          capture_output=True, text=True, cwd=Path(__file__).parent.parent)
