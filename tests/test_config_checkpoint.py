import numpy as np
import pytest
import tomllib
import torch

from vvipe_core import VVIPE, checkpoint
from vvipe_core.checkpoint import CheckpointError
from vvipe_core.config import ConfigError, TrainConfig


def test_config_round_trips_through_toml(tmp_path):
    cfg = TrainConfig().replace(realign="yaw", model={"embedding_dim": 16},
                                cameras={"elevation": (40.0, 70.0)})
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    assert TrainConfig.from_file(path) == cfg
    assert tomllib.loads(cfg.to_toml())["cameras"]["elevation"] == [40.0, 70.0]


def test_unknown_config_keys_are_an_error():
    with pytest.raises(ConfigError, match="unknown field.s.: model.embeding_dim"):
        TrainConfig.from_dict({"model": {"embeding_dim": 3}})


@pytest.mark.parametrize("changes, message", [
    ({"steps_per_epoch": -5}, "steps_per_epoch = -5: must be at least 0"),
    ({"batch_size": 0}, "batch_size = 0: must be at least 2"),
    ({"vae_epochs": -1}, "vae_epochs = -1: must be at least 0"),
    ({"vae_lr": float("nan")}, "vae_lr = nan: must be a finite number"),
    ({"batch_size": "many"}, "batch_size = 'many': must be a whole number"),
    ({"triplet": 1}, "triplet = 1: must be true or false"),
    ({"device": "bogus"}, "device = 'bogus': must be auto, cpu, cuda, cuda:N or mps"),
    ({"keypoint_dropout": 1.0}, r"keypoint_dropout = 1.0: must be in \[0.0, 1.0\)"),
    ({"model": {"dropout": -0.1}}, "model.dropout = -0.1"),
    ({"cameras": {"elevation": (40.0, 10.0)}}, "cameras.elevation = .40.0, 10.0.: must be"),
    ({"cameras": {"focal_px": (0.0, 10.0)}}, "cameras.focal_px = .0.0, 10.0.: must be above 0"),
])
def test_every_config_value_is_checked(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig().replace(**changes)


@pytest.mark.parametrize("text, message", [
    (None, "no such config file"), ("batch_size = [", "not a TOML file"),
    ("batch_size = 0", "batch_size = 0: must be at least 2"),
])
def test_a_bad_config_file_is_one_error_naming_it(tmp_path, text, message):
    path = tmp_path / "c.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        TrainConfig.from_file(path)
    assert str(err.value).startswith(f"{path}: ")


def test_checkpoint_round_trip_gives_identical_outputs(tiny_checkpoint, small_poses, tmp_path):
    a = VVIPE.load(tiny_checkpoint, device="cpu")
    copy = checkpoint.save(checkpoint.load(tiny_checkpoint), tmp_path / "copy.pt")
    b = VVIPE.load(copy, device="cpu")
    np.testing.assert_array_equal(a.embed_3d(small_poses.poses), b.embed_3d(small_poses.poses))
    z = a.embed_3d(small_poses.poses[:7])
    np.testing.assert_array_equal(a.decode(z), b.decode(z))
    ckpt = checkpoint.load(tiny_checkpoint)
    assert ckpt["skeleton"]["joints"][0] == "pelvis" and ckpt["config"]["model"]["embedding_dim"] == 8
    assert ckpt["normalisation"]["realign"] == "full"


class _Arbitrary:
    """Any pickled object: a safe (weights_only) load must refuse to run its code."""


def _corrupt(tmp_path, tiny_checkpoint, kind):
    path = tmp_path / f"{kind}.pt"
    if kind == "garbage":
        path.write_bytes(b"\x00not a checkpoint" * 10)
        return path
    if kind == "truncated":
        path.write_bytes(tiny_checkpoint.read_bytes()[:1000])
        return path
    ckpt = checkpoint.load(tiny_checkpoint)
    if kind == "version":
        ckpt["format_version"] = 99
    elif kind == "foreign":
        ckpt = {"state_dict": ckpt["vae"]}
    elif kind == "weights":
        ckpt["vae"] = {k: v[..., :1] if v.ndim else v for k, v in ckpt["vae"].items()}
    elif kind == "no config":
        del ckpt["config"]
    elif kind == "no skeleton":
        del ckpt["skeleton"]
    elif kind == "unknown key":
        ckpt["config"]["colour"] = "red"
    elif kind == "realign":
        ckpt["config"]["realign"] = "bogus"
    elif kind == "width":
        ckpt["config"]["model"]["width"] = 200000
    elif kind == "mappers":
        ckpt["config"]["model"]["mappers"] = 0
    elif kind == "nan weights":
        next(iter(ckpt["mapper"].values()))[0] = float("nan")
    elif kind == "pickle":
        torch.save({"format": "vvipe-checkpoint", "code": _Arbitrary()}, path)
        return path
    torch.save(ckpt, path)
    return path


@pytest.mark.parametrize(
    "kind, message",
    [("garbage", "not a readable"), ("truncated", "not a readable"), ("version", "version 99"),
     ("foreign", "not a V-VIPE checkpoint"), ("weights", "do not fit"), ("pickle", "not a readable"),
     ("no config", "no 'config'"), ("no skeleton", "no 'skeleton'"),
     ("unknown key", "config: unknown field.s.: colour"),
     ("realign", "config: realign = 'bogus': must be one of none, yaw, full"),
     ("width", "config: model.width = 200000: must be between 1 and 8192"),
     ("mappers", "config: model.mappers = 0: must be between 1 and 16"),
     ("nan weights", "mapper weight .* holds NaN or inf")],
)
def test_bad_checkpoints_give_one_clear_error(tmp_path, tiny_checkpoint, kind, message):
    path = _corrupt(tmp_path, tiny_checkpoint, kind)
    with pytest.raises(CheckpointError, match=message) as err:
        VVIPE.load(path)
    assert str(path) in str(err.value)


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        VVIPE.load(tmp_path / "nope.pt")
