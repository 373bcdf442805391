import numpy as np
import torch
from torch.distributions import Normal

from tests.helpers import random_rotations
from vvipe_core.canonical import canonicalize
from vvipe_core.losses import kl_to_standard_normal, kl_weight, triplet_loss
from vvipe_core.metrics import hits_at_k, mpjpe, normalised_pose_error, np_mpjpe, pa_mpjpe


def _similar(poses, seed=0):
    rot = random_rotations(len(poses), seed)
    return np.einsum("nij,nkj->nki", rot, poses) * 2.7 + [300.0, -20.0, 55.0]


def test_np_mpjpe_is_zero_for_a_similarity_transformed_pose(small_poses):
    p = small_poses.poses[:50].astype(np.float64)
    assert np_mpjpe(_similar(p), p).max() < 1e-6
    assert pa_mpjpe(_similar(p) / 2.7, p).max() < 1e-6


def test_pa_mpjpe_is_below_mpjpe(small_poses):
    # Procrustes minimises the squared error, so this holds on average, not pose by pose.
    a, b = small_poses.poses[:100], small_poses.poses[100:200]
    assert pa_mpjpe(a, b).mean() < 0.8 * mpjpe(a, b).mean()
    assert mpjpe(a, b).mean() > 50  # different poses are far apart in mm


def test_pa_mpjpe_does_not_accept_a_mirror_image(small_poses):
    p = small_poses.poses[:20].astype(np.float64)
    mirrored = p * [-1, 1, 1]  # a reflection, not a rotation: must not align to zero
    assert pa_mpjpe(mirrored, p).min() > 1.0


def test_hit_on_identical_pose_and_miss_when_a_limb_moves_far(small_poses):
    q = canonicalize(small_poses.poses[:10])
    moved = q.copy()
    moved[:, 13] += [0.0, 0.0, 1.5]  # left wrist 1.5 torso lengths up
    both = np.stack([moved, q], axis=1)  # rank 1 a miss, rank 2 the identical pose
    hits = hits_at_k(q, both, ks=(1, 2))
    assert hits == {"hit@1": 0.0, "hit@2": 1.0}


def test_ground_truth_poses_as_embedding_give_perfect_hit_at_1(small_poses):
    c = canonicalize(small_poses.poses)
    d = ((c.reshape(len(c), 1, -1) - c.reshape(1, len(c), -1)) ** 2).sum(-1)
    order = np.argsort(d, axis=1)[:, :5]
    assert hits_at_k(c, c[order], ks=(1, 5))["hit@1"] == 1.0


def test_triplet_is_zero_for_well_separated_embeddings_and_positive_otherwise(small_poses):
    poses = torch.as_tensor(canonicalize(small_poses.poses[:64]), dtype=torch.float32)
    far = torch.randn(64, 8) * 100  # distinct poses far apart, positives on top of anchors
    r = triplet_loss(far, far + 1e-3, poses, margin=0.5)
    assert r.loss.item() == 0.0 and r.active == 0.0 and r.mined > 0.9
    collapsed = torch.zeros(64, 8, requires_grad=True)
    r = triplet_loss(collapsed + 1e-3 * torch.randn(64, 8), collapsed, poses, margin=0.5)
    assert r.loss.item() > 0.4 and r.active > 0.9
    r.loss.backward()
    assert torch.isfinite(collapsed.grad).all()


def test_a_gallery_triplet_takes_its_negatives_from_the_gallery(small_poses):
    candidates = torch.as_tensor(canonicalize(small_poses.poses[::10]), dtype=torch.float32)
    keep = [0]
    for i in range(1, len(candidates)):  # each pose a true negative of the one before
        if normalised_pose_error(candidates[i], candidates[keep[-1]]) >= 0.1:
            keep.append(i)
    poses = candidates[keep[:24]]
    assert len(poses) == 24 and normalised_pose_error(poses[0], poses[-1]) >= 0.1
    gallery = 10.0 * torch.randn(len(poses), 8, generator=torch.Generator().manual_seed(0))
    assert triplet_loss(gallery, gallery, poses, margin=2.0, gallery=gallery).loss == 0
    # Each query sits on the next pose's gallery entry: that entry is its nearest candidate.
    query = gallery.roll(-1, dims=0)
    result = triplet_loss(query, gallery, poses, margin=2.0, candidates=1, gallery=gallery)
    expected = torch.linalg.norm(query - gallery, dim=1) + 2.0
    torch.testing.assert_close(result.loss, expected.mean())
    assert result.active == 1.0


def test_kl_is_zero_for_the_prior_and_warms_up_linearly():
    assert kl_to_standard_normal(Normal(torch.zeros(4, 8), torch.ones(4, 8))).item() == 0
    assert kl_to_standard_normal(Normal(torch.ones(4, 8), torch.ones(4, 8))).item() == 4.0
    assert [kl_weight(s, 0.1, 10) for s in (0, 5, 10, 50)] == [0.0, 0.05, 0.1, 0.1]
