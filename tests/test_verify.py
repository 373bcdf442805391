import numpy as np
import pytest

from tests.helpers import random_rotations
from vvipe_core.skeleton import H36M17
from vvipe_core.verify import MIN_JOINTS, fit_cameras, rerank


def orthographic(poses: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, 17, 3) -> (N, 17, 2): each pose turned at random, scaled and shifted in the picture."""
    rng = np.random.default_rng(seed)
    rotated = np.einsum("nij,nkj->nki", random_rotations(len(poses), seed), poses)
    scale = rng.uniform(0.2, 2.0, size=(len(poses), 1, 1))
    return scale * rotated[..., :2] + rng.uniform(-500, 500, size=(len(poses), 1, 2))


@pytest.fixture(scope="module")
def poses(small_poses):
    return small_poses.poses[::7][:60].astype(np.float64)


def test_own_pose_under_any_rotation_fits_exactly_and_projects_onto_the_keypoints(poses):
    kp = orthographic(poses)
    fit = fit_cameras(kp, poses[:, None])
    assert fit.error.shape == (len(poses), 1)
    assert np.all(fit.error < 1e-6)
    np.testing.assert_allclose(fit.project(poses[:, None])[:, 0], kp, atol=1e-4)  # pixels
    rows = fit.rotation @ np.swapaxes(fit.rotation, -1, -2)
    np.testing.assert_allclose(rows, np.broadcast_to(np.eye(2), rows.shape), atol=1e-9)


def test_mirrored_and_limb_swapped_candidates_fit_worse(poses):
    kp = orthographic(poses)
    mirrored = poses[:, H36M17.mirror_index] * np.array([-1.0, 1.0, 1.0])
    legs = [H36M17.index(j) for j in ("r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle")]
    swapped = poses.copy()
    swapped[:, legs] = poses[:, legs[3:] + legs[:3]]
    fit = fit_cameras(kp, np.stack([poses, mirrored, swapped], axis=1))
    own, mirror, swap = fit.error.T
    assert np.all(mirror > own + 1e-6) and np.all(swap > own + 1e-6)
    assert np.median(mirror) > 0.01 and np.median(swap) > 0.01


def test_missing_and_unconfident_joints_are_left_out(poses):
    kp = orthographic(poses)
    elbows = [H36M17.index("l_elbow"), H36M17.index("r_wrist")]
    wrong = kp.copy()
    wrong[:, elbows] += 300.0  # far off, but missing or weightless
    missing = wrong.copy()
    missing[:, elbows] = np.nan
    confidence = np.ones(kp.shape[:2])
    confidence[:, elbows] = 0.0
    assert np.all(fit_cameras(missing, poses[:, None]).error < 1e-6)
    assert np.all(fit_cameras(wrong, poses[:, None], confidence).error < 1e-6)
    assert np.all(fit_cameras(wrong, poses[:, None]).error > 0.01)


def test_a_query_with_too_few_keypoints_is_not_verified(poses):
    kp = orthographic(poses[:1])
    torso = H36M17.indices(("l_hip", "r_hip", "l_shoulder", "r_shoulder", "neck_nose"))
    kp[:, np.setdiff1d(np.arange(17), torso[:MIN_JOINTS - 1])] = np.nan
    assert np.isnan(fit_cameras(kp, poses[None, :5]).error).all()


def test_rerank_puts_the_true_pose_first_and_never_drops_it(poses):
    rng = np.random.default_rng(1)
    kp = orthographic(poses) + rng.normal(scale=0.5, size=(len(poses), 17, 2))
    n, k = 12, 8
    # Each query's own pose somewhere in its top k, among other poses.
    ids = np.stack([rng.permutation(np.delete(np.arange(len(poses)), q))[:n] for q in
                    range(len(poses))])
    place = rng.integers(0, k, size=len(poses))
    ids[np.arange(len(poses)), place] = np.arange(len(poses))
    distances = np.sort(rng.uniform(size=ids.shape), axis=1)
    result = rerank(kp, ids, distances, poses, k=k, chunk=7)
    assert np.all(result.ids[:, 0] == np.arange(len(poses)))
    np.testing.assert_array_equal(np.sort(result.ids, 1), np.sort(ids, 1))  # only reordered
    np.testing.assert_array_equal(result.ids[:, k:], ids[:, k:])  # past k: untouched
    assert np.isnan(result.error[:, k:]).all() and np.isfinite(result.error[:, :k]).all()
    # The distances travel with their ids.
    np.testing.assert_array_equal(result.distances[:, k:], distances[:, k:])
    for q in range(3):
        assert dict(zip(result.ids[q], result.distances[q])) == dict(zip(ids[q], distances[q]))


def test_rerank_blend_leans_on_the_embedding_and_keeps_padding_last(poses):
    kp = orthographic(poses[:1])
    ids = np.array([[5, 0, -1]])  # an index with fewer poses than asked pads with -1
    distances = np.array([[0.0, 10.0, np.inf]])
    assert rerank(kp, ids, distances, poses).ids.tolist() == [[0, 5, -1]]
    assert rerank(kp, ids, distances, poses, blend=100.0).ids.tolist() == [[5, 0, -1]]
