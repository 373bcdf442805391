"""Float16 weight storage: half the file, loaded as float32, same model up to float16 rounding;
the shipped checkpoint fits the project's 20 MB limit for tracked files."""
import pytest
import torch

from vvipe_core import VVIPE, checkpoint
from vvipe_core.api import BUNDLED_CHECKPOINT
from vvipe_core.checkpoint import CheckpointError


def test_float16_storage_halves_the_file_and_loads_float32(tiny_checkpoint, tmp_path,
                                                          small_poses):
    raw = checkpoint.load(tiny_checkpoint)
    half = checkpoint.save(raw, tmp_path / "half.pt", float16=True)
    assert half.stat().st_size < 0.6 * tiny_checkpoint.stat().st_size
    stored = torch.load(half, weights_only=True)
    assert stored["storage"] == "float16"
    assert stored["vae"]["encoder.net.0.weight"].dtype == torch.float16
    loaded = checkpoint.load(half)
    for part in ("vae", "mapper"):
        for name, value in raw[part].items():
            if value.is_floating_point():
                assert loaded[part][name].dtype == torch.float32
                torch.testing.assert_close(loaded[part][name], value, rtol=1e-3, atol=1e-4)
            else:
                assert torch.equal(loaded[part][name], value)  # counters untouched
    poses = small_poses.poses[:50]
    z32 = VVIPE.load(tiny_checkpoint, device="cpu").embed_3d(poses)
    z16 = VVIPE.load(half, device="cpu").embed_3d(poses)
    assert abs(z16 - z32).max() < 0.02 * abs(z32).max()


def test_the_config_asks_for_float16_in_finished_checkpoints_only(tiny_checkpoint, tmp_path):
    raw = checkpoint.load(tiny_checkpoint)
    raw["config"] = {**raw["config"], "float16_weights": True}
    finished = checkpoint.save({**raw, "train_state": None}, tmp_path / "finished.pt")
    assert torch.load(finished, weights_only=True).get("storage") == "float16"
    state = {"position": {}, "history": [], "optimizer": {}}
    resumable = checkpoint.save({**raw, "train_state": state}, tmp_path / "resumable.pt")
    assert "storage" not in torch.load(resumable, weights_only=True)


def test_an_unknown_storage_is_a_checkpoint_error(tiny_checkpoint, tmp_path):
    raw = {**checkpoint.load(tiny_checkpoint), "storage": "int4"}
    torch.save(raw, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match="unknown weight storage 'int4'"):
        checkpoint.load(tmp_path / "odd.pt")


@pytest.mark.skipif(not BUNDLED_CHECKPOINT.is_file(), reason="no bundled checkpoint")
def test_the_shipped_checkpoint_is_at_most_20_mb():
    assert BUNDLED_CHECKPOINT.stat().st_size <= 20 * 2**20
