import itertools
import math

import numpy as np
import pytest
import torch

from tests.helpers import tiny_config
from vvipe_core import prvipe
from vvipe_core.baselines import BaselineModel, SampleDistanceMethod, train_baseline
from vvipe_core.cameras import SEEN, project, sample_cameras
from vvipe_core.canonical import Realign, canonicalize
from vvipe_core.metrics import normalised_pose_error

S = prvipe.SMOOTHING


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return prvipe.PrVipe(tiny_config()).eval()


@pytest.mark.parametrize("a, b", [(0.5, -0.5), (1.0, 0.0), (3.0, 2.0), (0.1, -4.0)])
def test_matching_probability_falls_with_distance_within_its_bounds(a, b):
    d = torch.linspace(0, 200, 2001, dtype=torch.float64)
    p = prvipe.match_probability(d, torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64))
    assert (p.diff() <= 0).all() and (p.diff()[:50] < 0).all()  # monotone, strictly near 0
    assert (p >= S / 2).all() and (p <= 1 - S / 2).all()
    assert p[-1].item() == pytest.approx(S / 2, abs=1e-9)  # far apart: the floor s/2
    big = prvipe.match_probability(torch.tensor(0.0), torch.tensor(1.0), torch.tensor(50.0))
    assert big.item() == pytest.approx(1 - S / 2)  # the ceiling 1 - s/2


def test_the_sigmoid_starts_where_the_official_code_starts(net):
    assert net.a.item() == pytest.approx(math.exp(prvipe.RAW_A_INIT))  # ELU(x) + 1 for x < 0
    assert net.b.item() == prvipe.B_INIT


def test_sample_distance_is_symmetric_and_smallest_for_equal_embeddings(net):
    g = torch.Generator().manual_seed(1)
    za, zb = torch.randn(5, 20, 8, generator=g), torch.randn(5, 20, 8, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(net.sample_distance(za, zb), net.sample_distance(zb, za))
        # Single points: equal embeddings reach the least possible distance, -log(max p).
        point = za[:, :1]
        floor = -math.log((1 - S) * torch.sigmoid(net.b).item() + S / 2)
        np.testing.assert_allclose(net.sample_distance(point, point).numpy(), floor, rtol=1e-6)
        assert (net.sample_distance(point, zb[:, :1]) > floor).all()
        # Sample sets: moving one set away from an equal copy only increases the distance.
        away = torch.randn(5, 1, 8, generator=g)
        steps = [net.sample_distance(za, za + t * away) for t in (0.0, 0.5, 1.0, 2.0, 4.0)]
        assert all((later > earlier).all() for earlier, later in itertools.pairwise(steps))


def test_the_all_pairs_matrix_matches_pair_by_pair(net):
    g = torch.Generator().manual_seed(2)
    za, zb = torch.randn(4, 20, 8, generator=g), torch.randn(6, 20, 8, generator=g)
    with torch.no_grad():
        pairwise = net.sample_distance(za[:, None], zb[None])
    torch.testing.assert_close(net.sample_distance_matrix(za, zb), pairwise, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def hand_made_poses(small_poses):
    """Anchor pose 0; 1 a near-duplicate of it (not a negative); 2, 3, 4 other poses."""
    c = canonicalize(small_poses.poses[[0, 0, 150, 300, 450]], Realign.FULL)
    c[1] += np.random.default_rng(0).normal(scale=0.005, size=c[1].shape)
    poses = torch.as_tensor(c, dtype=torch.float32)
    np_mpjpe = normalised_pose_error(poses[:, None], poses[None])
    assert np_mpjpe[0, 1] < 0.1 and (np_mpjpe[0, 2:] >= 0.1).all()  # the premise of the tests
    return poses


def test_mining_picks_the_nearest_true_negative_farther_than_the_positive(hand_made_poses):
    distances = torch.full((5, 5), 9.0)
    # Anchor 0, positive at 1.0: 1 is nearer-than-anything but the same pose; 2 is a true
    # negative but nearer than the positive (hard, not semi-hard); 3 and 4 are semi-hard.
    distances[0] = torch.tensor([0.2, 1.1, 0.5, 1.5, 2.0])
    positive = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0])
    index, found = prvipe.semi_hard_negatives(distances, positive, hand_made_poses)
    assert found[0] and index[0] == 3
    # With 3 as near as the positive (not farther), the next semi-hard negative is 4.
    distances[0, 3] = 1.0
    index, found = prvipe.semi_hard_negatives(distances, positive, hand_made_poses)
    assert found[0] and index[0] == 4


def test_an_anchor_without_a_semi_hard_negative_has_no_triplet(hand_made_poses):
    distances = torch.full((5, 5), 0.5)  # every match nearer than the positive
    distances[0, 1] = 3.0  # farther, but the anchor's own pose
    found = prvipe.semi_hard_negatives(distances, torch.full((5,), 1.0), hand_made_poses)[1]
    assert not found.any()


def test_the_loss_is_finite_and_trains_the_sigmoid(small_poses):
    cfg = tiny_config()
    torch.manual_seed(0)
    net = prvipe.PrVipe(cfg)
    world = small_poses.poses[:64]
    views = [torch.as_tensor(np.random.default_rng(v).normal(size=(64, 13, 3)), dtype=torch.float32)
             for v in range(2)]
    loss, logs = prvipe.prvipe_loss(net, *views, torch.as_tensor(canonicalize(world, "full"), dtype=torch.float32))
    loss.backward()
    assert math.isfinite(loss.item()) and 0 < logs["active"] <= 1
    assert net.raw_a.grad is not None and net.b.grad is not None


def test_weight_average_follows_tensorflow_schedule():
    layer = torch.nn.Linear(2, 1)
    ema = prvipe.WeightAverage(layer)
    before = layer.weight.detach().clone()
    with torch.no_grad():
        layer.weight.add_(1.0)
    ema.update(layer)
    decay = 2 / 11  # min(0.9999, (1 + 1) / (10 + 1))
    torch.testing.assert_close(ema.shadow["weight"], decay * before + (1 - decay) * layer.weight)
    assert set(ema.state_dict_of(layer)) == set(layer.state_dict())


class _Stop(Exception):
    pass


def test_an_interrupted_training_resumes_to_the_same_weights(tmp_path):
    cfg = tiny_config(mapper_epochs=2, steps_per_epoch=3)
    whole = BaselineModel(train_baseline("prvipe", cfg, tmp_path / "whole.pt"))

    def stop_after_first_period(event):
        if event.val is not None:
            raise _Stop

    out = tmp_path / "cut.pt"
    with pytest.raises(_Stop):
        train_baseline("prvipe", cfg, out, callback=stop_after_first_period)
    assert not out.exists() and (tmp_path / "cut.pt.partial").exists()
    resumed = BaselineModel(train_baseline("prvipe", cfg, out))
    assert resumed.steps == whole.steps == 6 and len(resumed.history) == 2
    for k, v in whole.net.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[k], v)
    # A finished run stops where asked: with fewer periods it is its state after the first.
    first = BaselineModel(train_baseline("prvipe", cfg.replace(mapper_epochs=1), tmp_path / "cut.pt"))
    assert first.steps == 6  # the partial state is the latest, not rewound


def test_sample_distance_retrieval_equals_brute_force_when_all_are_candidates(tmp_path, small_poses):
    model = BaselineModel(train_baseline("prvipe", tiny_config(mapper_epochs=1, steps_per_epoch=2),
                                         tmp_path / "p.pt"))
    poses = small_poses.poses[:40]
    kp = [project(poses, sample_cameras(poses[:, 0], SEEN, v)) for v in range(2)]
    method = SampleDistanceMethod(model, candidates=40, seed=3)
    q, g = method.embed(kp[0]), method.embed(kp[1])
    ids = method.neighbours(q, g, 5)
    mq, sq = np.split(q, 2, axis=1)
    mg, sg = np.split(g, 2, axis=1)
    every = np.tile(np.arange(40), (40, 1))
    d = prvipe.sample_distances(model.net, mq, sq, mg, sg, every, seed=3)
    np.testing.assert_array_equal(ids, np.argsort(d, axis=1, kind="stable")[:, :5])
    # With a short list of candidates the answer stays within the means' nearest.
    few = SampleDistanceMethod(model, candidates=10, seed=3).neighbours(q, g, 5)
    near = np.argsort(((mq[:, None] - mg[None]) ** 2).sum(-1), axis=1)[:, :10]
    assert all(set(row) <= set(n) for row, n in zip(few, near))
