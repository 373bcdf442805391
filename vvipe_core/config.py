"""Training configuration: one dataclass, readable from a TOML file, stored in every checkpoint."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from vvipe_core.cameras import CameraRanges


@dataclass
class ModelConfig:
    embedding_dim: int = 32
    width: int = 512
    blocks: int = 2
    dropout: float = 0.1
    mappers: int = 1  # mapping networks averaged at inference (an ensemble), each on its own cameras


@dataclass
class TrainConfig:
    """Every paper choice is a field here, so evaluation can sweep it."""

    train_data: str = "../shared/data/cmu_h36m17_train.npz"
    val_data: str = "../shared/data/cmu_h36m17_val.npz"
    model: ModelConfig = field(default_factory=ModelConfig)
    realign: str = "full"  # none | yaw | full (see canonical.py)
    seed: int = 0
    device: str = "auto"  # auto = cuda -> mps -> cpu
    batch_size: int = 256
    lr_schedule: str = "constant"  # constant | cosine (per stage, from its lr down to 0)
    # VAE stage
    vae_epochs: int = 4
    vae_lr: float = 1e-3
    beta: float = 5e-4  # KL weight; the reconstruction is a sum over the 51 coordinates
    beta_warmup_steps: int = 2000
    triplet: bool = True
    triplet_weight: float = 0.1
    triplet_margin: float = 0.5
    triplet_candidates: int = 16  # hardest in-batch negatives checked by NP-MPJPE per anchor
    # Mapper stage
    mapper_epochs: int = 4
    mapper_lr: float = 1e-3
    pretrained_vae: bool = True  # False: the decoder trains with the mapper (no frozen VAE)
    mapper_embed_weight: float = 1.0
    mapper_pose_weight: float = 1.0
    # > 0: each pose is seen by two cameras per step, and a triplet loss (margin
    # `triplet_margin`) pulls the two views' embeddings together, away from other poses'.
    mapper_triplet_weight: float = 0.0
    cameras: CameraRanges = field(default_factory=CameraRanges)
    # Augmentation
    mirror: bool = True
    bone_scale: float = 0.15  # per-bone-type length factor drawn from 1 ± this
    noise_px: float = 0.0  # 2D noise sigma drawn per pose from U(0, noise_px) in training
    keypoint_dropout: float = 0.0  # probability that a 2D keypoint is missing in training
    steps_per_epoch: int = 0  # 0 = one pass over the training poses
    val_poses: int = 2000

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _build(cls, data)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        with open(path, "rb") as f:
            return cls.from_dict(tomllib.load(f))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        flat = {k: v for k, v in self.to_dict().items() if not isinstance(v, dict)}
        tables = {k: v for k, v in self.to_dict().items() if isinstance(v, dict)}
        lines = [f"{k} = {_toml_value(v)}" for k, v in flat.items()]
        for name, table in tables.items():
            lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
        return "\n".join(lines) + "\n"

    def replace(self, **changes: Any) -> TrainConfig:
        merged = self.to_dict()
        _deep_update(merged, {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v
                              for k, v in changes.items()})
        return self.from_dict(merged)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def _deep_update(base: dict, changes: dict) -> None:
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _build(cls: type, data: dict[str, Any]):
    """Dataclass from a nested dict; unknown keys are an error, not silently ignored."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(sorted(unknown))}")
    kwargs = {}
    for name, value in data.items():
        default = _default(fields[name])
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value)
        elif isinstance(default, tuple):
            kwargs[name] = tuple(value)
        elif isinstance(default, float):
            kwargs[name] = float(value)  # TOML writes 1e-3 and 1 alike
        else:
            kwargs[name] = value
    return cls(**kwargs)
