import numpy as np
import pytest
import torch

from tests.helpers import tiny_config
from vvipe_core import VVIPE, checkpoint
from vvipe_core.baselines import BaselineModel, train_baseline
from vvipe_core.cameras import SEEN, project, sample_cameras
from vvipe_core.config import ConfigError
from vvipe_core.train import Trainer


@pytest.fixture(scope="module")
def keypoints(small_poses):
    poses = small_poses.poses[:30]
    return project(poses, sample_cameras(poses[:, 0], SEEN, 0))


@pytest.mark.parametrize("kind", ["lifter", "prvipe"])
def test_baselines_train_save_and_load(tmp_path, keypoints, kind):
    events = []
    path = train_baseline(kind, tiny_config(mapper_epochs=2, steps_per_epoch=4), tmp_path / "b.pt",
                          callback=events.append)
    model = BaselineModel(path)
    assert model.kind == kind and events[-1].progress == 1.0
    z = model.embed_2d(keypoints)
    assert z.shape[0] == 30 and np.isfinite(z).all()
    np.testing.assert_array_equal(z, BaselineModel(path).embed_2d(keypoints))
    lifted = model.lift(keypoints)
    if kind == "lifter":
        assert lifted.shape == (30, 17, 3)
        np.testing.assert_allclose(z, lifted.reshape(30, -1))  # retrieval by lifted 3D pose
    else:
        assert lifted is None and z.shape[1] == 8


def test_prvipe_training_raises_its_validation_hit_rate(tmp_path):
    events = []
    path = train_baseline("prvipe", tiny_config(mapper_epochs=4, steps_per_epoch=6), tmp_path / "p.pt",
                          callback=events.append)
    hits = [e.val["hit@1"] for e in events if e.val]
    assert len(hits) == 4 and hits[-1] > hits[0]
    assert [h["val_hit@1"] for h in BaselineModel(path).history] == hits


def test_a_baseline_file_is_not_a_vvipe_checkpoint_and_vice_versa(tmp_path, tiny_checkpoint):
    path = train_baseline("lifter", tiny_config(mapper_epochs=1, steps_per_epoch=2), tmp_path / "l.pt")
    with pytest.raises(checkpoint.CheckpointError, match="not a V-VIPE checkpoint"):
        VVIPE.load(path)
    with pytest.raises(checkpoint.CheckpointError, match="not a baseline"):
        BaselineModel(tiny_checkpoint)


def test_a_damaged_baseline_is_one_checkpoint_error_naming_the_field(tmp_path):
    path = train_baseline("lifter", tiny_config(mapper_epochs=1, steps_per_epoch=2), tmp_path / "l.pt")
    good = torch.load(path, weights_only=True)
    for change, message in (({"config": good["config"] | {"realign": "bogus"}}, "config: realign"),
                            ({"weights": {}}, "weights do not fit"), ({"kind": None}, "no 'kind'")):
        damaged = {k: v for k, v in (good | change).items() if v is not None}
        torch.save(damaged, tmp_path / "bad.pt")
        with pytest.raises(checkpoint.CheckpointError, match=message) as err:
            BaselineModel(tmp_path / "bad.pt")
        assert str(tmp_path / "bad.pt") in str(err.value)
    with pytest.raises(ConfigError, match="device 'bogus'"):
        BaselineModel(path, device="bogus")


def test_without_pretraining_the_decoder_trains_with_the_mapper(tmp_path, keypoints):
    cfg = tiny_config(pretrained_vae=False)
    events = []
    out = Trainer(cfg, tmp_path / "np.pt").run(callback=events.append)
    assert {e.stage for e in events} == {"mapper"}
    assert "embed" not in events[-1].losses
    untrained = Trainer(cfg, tmp_path / "fresh.pt")
    trained = checkpoint.load(out)
    w = "decoder.net.0.weight"
    assert not np.allclose(trained["vae"][w].numpy(), untrained.vae.state_dict()[w].numpy())
    assert np.isfinite(VVIPE.load(out).lift(keypoints)).all()
