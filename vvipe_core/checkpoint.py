"""Checkpoints: one file holds the config, the weights, the skeleton, the normalisation facts and
a format version. Loaded strictly (every weight must match) and safely (``weights_only``)."""
from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

from vvipe_core.atomic import write_bytes
from vvipe_core.canonical import NOMINAL_TORSO_MM
from vvipe_core.config import ConfigError, TrainConfig
from vvipe_core.errors import VVIPEError
from vvipe_core.skeleton import H36M17, KP13

FORMAT = "vvipe-checkpoint"
FORMAT_VERSION = 1
WEIGHTS = ("vae", "mapper")  # the parts that `save(float16=True)` stores as float16


class CheckpointError(VVIPEError, ValueError):
    """A checkpoint that cannot be used; the message names the file and the reason."""


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def build(
    config: dict[str, Any],
    vae: dict[str, torch.Tensor],
    mapper: dict[str, torch.Tensor] | None,
    train_state: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config,
        "skeleton": {"name": H36M17.name, "joints": list(H36M17.joints),
                     "parents": list(H36M17.parents)},
        "keypoints_2d": {"name": KP13.name, "joints": list(KP13.joints)},
        "normalisation": {
            "realign": config["realign"],
            "canonical_units": "torso length (|pelvis-spine| + |spine-thorax| = 1)",
            "nominal_torso_mm": NOMINAL_TORSO_MM,
            "keypoints_2d": "origin mid-hips, largest shoulder/hip distance = 0.5",
        },
        "vae": vae,
        "mapper": mapper,
        "train_state": train_state,
        "metrics": metrics or {},
        "git_revision": _git_revision(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def save(checkpoint: dict[str, Any], path: str | Path, float16: bool | None = None) -> Path:
    """Write atomically: a crash mid-write never leaves a half file under `path`. Serialised in
    memory first: torch reports a full disk as "unexpected pos", atomic.py names the cause.

    `float16` stores the weights (vae, mapper) as float16, half the file; `load` gives them back
    as float32. None: as the config's `float16_weights` says, for a finished checkpoint only (one
    with a train_state stays float32, so that resuming it is exact)."""
    if float16 is None:
        float16 = (bool(checkpoint.get("config", {}).get("float16_weights"))
                   and checkpoint.get("train_state") is None)
    if float16:
        checkpoint = {**checkpoint, "storage": "float16",
                      **{part: _cast(checkpoint.get(part), torch.float16) for part in WEIGHTS}}
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return write_bytes(path, buffer.getbuffer())


def _cast(state: dict[str, torch.Tensor] | None, dtype: torch.dtype):
    """Floating-point tensors of a state dict to `dtype` (counters and None as they are)."""
    if state is None:
        return None
    return {k: v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v
            for k, v in state.items()}


def load(path: str | Path) -> dict[str, Any]:
    """Read and check a checkpoint; any problem is one CheckpointError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(path, f"not a readable V-VIPE checkpoint ({type(e).__name__})") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(path, f"not a V-VIPE checkpoint (no '{FORMAT}' marker)")
    version = ckpt.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            path, f"checkpoint format version {version}, this program reads {FORMAT_VERSION}"
        )
    _check_structure(ckpt, path)
    storage = ckpt.pop("storage", "float32")
    if storage not in ("float32", "float16"):
        raise CheckpointError(path, f"unknown weight storage {storage!r}")
    if storage == "float16":
        ckpt.update({part: _cast(ckpt[part], torch.float32) for part in WEIGHTS})
    return ckpt


def _check_structure(ckpt: dict[str, Any], path: Path) -> None:
    """Every part the loaders read is there and of the right kind: one CheckpointError naming the
    field, never a KeyError or a size mismatch further on."""
    for key in ("config", "skeleton", "vae"):
        if not isinstance(ckpt.get(key), dict):
            raise CheckpointError(path, f"no '{key}' (a damaged or hand-made checkpoint)")
    if not isinstance(ckpt.get("mapper"), (dict, type(None))):
        raise CheckpointError(path, "'mapper' is not a set of weights")
    skeleton = ckpt["skeleton"]
    if skeleton.get("joints") != list(H36M17.joints):
        raise CheckpointError(path, f"made for another skeleton ({skeleton.get('name')})")
    for part in ("vae", "mapper"):
        broken = [name for name, t in (ckpt[part] or {}).items()
                  if torch.is_tensor(t) and t.is_floating_point() and not torch.isfinite(t).all()]
        if broken:
            raise CheckpointError(path, f"{part} weight {broken[0]} holds NaN or inf "
                                  "(a training that diverged?)")
    try:
        TrainConfig.from_dict(ckpt["config"])
    except ConfigError as e:
        raise CheckpointError(path, f"config: {e.reason}") from None
    state = ckpt.get("train_state")
    if state is not None and not (isinstance(state, dict) and {"position", "history", "optimizer"}
                                  <= state.keys()):
        raise CheckpointError(path, "'train_state' is incomplete: it cannot be resumed")
