import pytest
import torch

from tests.helpers import tiny_config
from vvipe_core.config import ModelConfig
from vvipe_core.models import build_mapper
from vvipe_core.train import Trainer

ARCHS = [
    {"mapper_arch": "mlp"},
    {"mapper_arch": "mlp", "mapper_width": 96, "mapper_blocks": 3},
    {"mapper_arch": "gcn", "mapper_width": 16, "mapper_blocks": 2},
    {"mapper_arch": "gcn", "mapper_width": 16, "mapper_blocks": 1, "mappers": 2},
]


def _keypoints(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    kp = torch.rand(n, 13, 3, generator=g) - 0.5
    kp[..., 2] = 1.0
    return kp


@pytest.mark.parametrize("arch", ARCHS)
def test_each_mapper_maps_keypoints_to_an_embedding(arch):
    net = build_mapper(ModelConfig(embedding_dim=8, width=32, blocks=1, **arch)).eval()
    out = net(_keypoints())
    assert out.shape == (32, 8) and torch.isfinite(out).all()
    # Each pose is mapped on its own: batch composition does not matter in eval mode.
    torch.testing.assert_close(net(_keypoints()[:5]), out[:5])


@pytest.mark.parametrize("arch", ARCHS)
def test_a_missing_keypoints_input_is_never_read(arch):
    net = build_mapper(ModelConfig(embedding_dim=8, width=32, blocks=1, **arch)).eval()
    kp = _keypoints()
    kp[:, [5, 12], 2] = 0.0  # l_wrist, r_ankle missing
    kp[:, [5, 12], :2] = 0.0
    garbage = kp.clone()
    garbage[:, [5, 12], :2] = torch.tensor([1e4, float("nan")])
    torch.testing.assert_close(net(garbage), net(kp))
    present = kp.clone()
    present[:, 5, 2] = 1.0
    assert not torch.allclose(net(present), net(kp))  # the flag itself is read


def test_the_graph_network_uses_the_whole_body_in_one_block():
    net = build_mapper(ModelConfig(embedding_dim=8, mapper_arch="gcn", mapper_width=16,
                                   mapper_blocks=1, dropout=0.0)).eval()
    kp = _keypoints(4)
    moved = kp.clone()
    moved[:, 12, :2] += 0.3  # r_ankle, 4 bones from the nose
    assert not torch.allclose(net(moved), net(kp))


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="mapper_arch"):
        build_mapper(ModelConfig(mapper_arch="transformer"))


def test_a_graph_mapper_trains_on_a_vae_from_an_mlp_run(tmp_path, tiny_checkpoint):
    cfg = tiny_config(model={"mapper_arch": "gcn", "mapper_width": 16}, mapper_epochs=1,
                      mapper_triplet_weight=1.0, detector_errors=1.0)
    trainer = Trainer(cfg, tmp_path / "g.pt", vae_from=tiny_checkpoint)
    before = {k: v.clone() for k, v in trainer.mapper.state_dict().items()}
    trainer.run(stages=("mapper",))
    after = trainer.mapper.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(trainer.vae.state_dict()["decoder.net.0.weight"],
                       torch.load(tiny_checkpoint, weights_only=True)["vae"]["decoder.net.0.weight"])
