"""Training configuration: one dataclass, readable from a TOML file, stored in every checkpoint.

Every value is checked when a config is made (types and ranges, `RULES`), so a bad file or
option is one ConfigError naming the field before any work starts.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from vvipe_core.cameras import CameraRanges
from vvipe_core.errors import VVIPEError


class ConfigError(VVIPEError, ValueError):
    """A config value (or file) that cannot be used; the message names the field."""


@dataclass
class ModelConfig:
    embedding_dim: int = 32
    width: int = 512
    blocks: int = 2
    dropout: float = 0.1
    mappers: int = 1  # mapping networks averaged at inference (an ensemble), each on its own cameras
    mapper_arch: str = "mlp"  # mlp (flattened keypoints) | gcn (graph over the skeleton), models.py
    mapper_width: int = 0  # the mapping network's width and blocks; 0 = the VAE's
    mapper_blocks: int = 0

    def __post_init__(self) -> None:
        _check(self, "model.")


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
    # > 0: a triplet loss pulls each view's embedding nearer the encoder's mean for its pose
    # than other poses' means (the app's 2D query -> 3D gallery search), margin `triplet_margin`
    mapper_gallery_triplet_weight: float = 0.0
    cameras: CameraRanges = field(default_factory=CameraRanges)
    # Augmentation
    mirror: bool = True
    bone_scale: float = 0.15  # per-bone-type length factor drawn from 1 ± this
    noise_px: float = 0.0  # 2D noise sigma drawn per pose from U(0, noise_px) in training
    keypoint_dropout: float = 0.0  # probability that a 2D keypoint is missing in training
    # > 0: detector-like 2D errors (corruption.py: per-joint noise by person size, limb swaps,
    # missing extremities) of strength U(0, detector_errors) per pose, on top of the above
    detector_errors: float = 0.0
    # Tune stage, after the mapper stage: `tune_epochs` more epochs of the mapping networks with a
    # fresh optimiser, the fields in `tune` replacing the config's (e.g. a decaying learning rate,
    # harder 2D errors). 0 = no tune stage.
    tune_epochs: int = 0
    tune: dict[str, Any] = field(default_factory=dict)
    steps_per_epoch: int = 0  # 0 = one pass over the training poses
    val_poses: int = 2000
    # A finished checkpoint stores its weights as float16 (half the size; loaded as float32).
    # Resumable checkpoints keep float32, so that resuming stays exact.
    float16_weights: bool = False

    def __post_init__(self) -> None:
        _check(self, "")
        _check_cameras(self.cameras)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _build(cls, data, "")

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        try:
            with open(path, "rb") as f:
                return cls.from_dict(tomllib.load(f))
        except FileNotFoundError:
            raise ConfigError(path, "no such config file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(path, f"cannot read ({getattr(e, 'strerror', None) or e})") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(path, f"not a TOML file ({e})") from None
        except ConfigError as e:
            raise ConfigError(path, e.reason) from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        flat = {k: v for k, v in self.to_dict().items() if not isinstance(v, dict)}
        tables = {k: v for k, v in self.to_dict().items() if isinstance(v, dict)}
        lines = [f"{k} = {_toml_value(v)}" for k, v in flat.items()]
        for name, table in tables.items():
            lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
        return "\n".join(lines) + "\n"

    def stage_config(self, stage: str) -> TrainConfig:
        """The config in force during `stage`: the tune stage trains the mapping networks for
        `tune_epochs` epochs with the fields of `tune` replaced."""
        if stage != "tune":
            return self
        if "model" in self.tune or "tune" in self.tune or "tune_epochs" in self.tune:
            raise ValueError("[tune] may change training fields only, not the model or itself")
        return self.replace(**self.tune, mapper_epochs=self.tune_epochs)

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


def _build(cls: type, data: dict[str, Any], prefix: str):
    """Dataclass from a nested dict; unknown keys are an error, not silently ignored."""
    if not isinstance(data, dict):
        raise ConfigError(None, f"{prefix.rstrip('.') or 'config'}: a table of fields, not {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(None, f"unknown field(s): {', '.join(prefix + k for k in sorted(unknown))}")
    kwargs = {}
    for name, value in data.items():
        default = _default(fields[name])
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{prefix}{name}.")
        elif isinstance(default, tuple) and isinstance(value, (list, tuple)):
            kwargs[name] = tuple(value)
        elif isinstance(default, float) and _is_number(value):
            kwargs[name] = float(value)  # TOML writes 1e-3 and 1 alike
        else:
            kwargs[name] = value
    return cls(**kwargs)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _in(*allowed: str):
    return lambda v: v in allowed, f"one of {', '.join(allowed)}"


def _at_least(low: float):
    return lambda v: v >= low, f"at least {low}"


def _between(low: float, high: float, high_open: bool = False):
    if high_open:
        return lambda v: low <= v < high, f"in [{low}, {high})"
    return lambda v: low <= v <= high, f"between {low} and {high}"


# Ranges of the values (types come from the defaults). Sizes are bounded where a larger value
# can only be a typo: a width of 200,000 would ask for 160 GB of weights.
RULES = {
    "embedding_dim": _between(1, 1024), "width": _between(1, 8192), "blocks": _between(0, 64),
    "dropout": _between(0.0, 1.0, high_open=True), "mappers": _between(1, 16),
    "realign": _in("none", "yaw", "full"), "seed": _at_least(0),
    "device": (lambda v: re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v) is not None,
               "auto, cpu, cuda, cuda:N or mps"),
    "batch_size": _at_least(2),  # BatchNorm needs two poses
    "lr_schedule": _in("constant", "cosine"),
    "vae_epochs": _at_least(0), "mapper_epochs": _at_least(0),
    "vae_lr": (lambda v: v > 0, "above 0"), "mapper_lr": (lambda v: v > 0, "above 0"),
    "beta": _at_least(0.0), "beta_warmup_steps": _at_least(0),
    "triplet_weight": _at_least(0.0), "triplet_margin": _at_least(0.0),
    "triplet_candidates": _at_least(1), "mapper_embed_weight": _at_least(0.0),
    "mapper_pose_weight": _at_least(0.0), "mapper_triplet_weight": _at_least(0.0),
    "bone_scale": _between(0.0, 1.0, high_open=True), "noise_px": _at_least(0.0),
    "keypoint_dropout": _between(0.0, 1.0, high_open=True), "steps_per_epoch": _at_least(0),
    "val_poses": _at_least(1),
}


def _check(config: Any, prefix: str) -> None:
    """Each field has its default's type (an int passes for a float) and its rule's range."""
    for f in dataclasses.fields(config):
        value, default = getattr(config, f.name), _default(f)
        if dataclasses.is_dataclass(default) or isinstance(default, tuple) or default is None:
            continue  # checked on their own (an optional field: by its user)
        if isinstance(default, bool):
            ok, kind = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, kind = isinstance(value, int) and not isinstance(value, bool), "a whole number"
        elif isinstance(default, float):
            ok, kind = _is_number(value) and math.isfinite(value), "a finite number"
        else:
            ok, kind = isinstance(value, type(default)), f"a {type(default).__name__}"
        rule, allowed = RULES.get(f.name, (lambda v: True, ""))
        if not ok or not rule(value):
            raise ConfigError(None, f"{prefix}{f.name} = {value!r}: must be {kind if not ok else allowed}")


def _check_cameras(cameras: CameraRanges) -> None:
    for f in dataclasses.fields(cameras):
        value = getattr(cameras, f.name)
        if not (isinstance(value, tuple) and len(value) == 2 and all(map(_is_number, value))
                and all(map(math.isfinite, value)) and value[0] <= value[1]):
            raise ConfigError(None, f"cameras.{f.name} = {value!r}: must be [low, high], low <= high")
        if f.name in ("distance_m", "focal_px", "image_size") and value[0] <= 0:
            raise ConfigError(None, f"cameras.{f.name} = {value!r}: must be above 0")
