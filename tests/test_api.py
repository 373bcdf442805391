import numpy as np
import pytest

from tests.helpers import random_rotations
from vvipe_core import VVIPE
from vvipe_core.api import BUNDLED_CHECKPOINT
from vvipe_core.cameras import SEEN, project, sample_cameras
from vvipe_core.errors import PoseInputError, VVIPEError
from vvipe_core.metrics import np_mpjpe
from vvipe_core.skeleton import H36M17, KP13, convert


@pytest.fixture(scope="module")
def bundled():
    return VVIPE.load(device="cpu")


def _views(poses, n_views, ranges=SEEN, seed=0):
    return [project(poses, sample_cameras(poses[:, 0], ranges, [seed, v])) for v in range(n_views)]


def test_shapes_and_dtypes(tiny_model, small_poses):
    p = small_poses.poses[:5]
    kp = _views(p, 1)[0]
    assert tiny_model.embed_3d(p).shape == (5, 8) and tiny_model.embed_3d(p).dtype == np.float32
    assert tiny_model.canonicalize(p).shape == (5, 17, 3)
    assert tiny_model.decode(tiny_model.embed_3d(p)).shape == (5, 17, 3)
    assert tiny_model.embed_2d(kp).shape == (5, 8)
    assert tiny_model.lift(kp).shape == (5, 17, 3)
    assert tiny_model.embed_3d(p[:0]).shape == (0, 8)
    assert tiny_model.sample(tiny_model.embed_3d(p)[0], n=3).shape == (3, 8)
    assert tiny_model.sample(tiny_model.embed_3d(p), n=3).shape == (5, 3, 8)


def test_bad_shapes_are_refused(tiny_model):
    with pytest.raises(ValueError, match=r"\(N, 17, 3\)"):
        tiny_model.embed_3d(np.zeros((4, 16, 3)))
    with pytest.raises(ValueError, match=r"\(N, 17, 2\)"):
        tiny_model.lift(np.zeros((4, 17, 3)))
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        tiny_model.decode(np.zeros((4, 7)))


def test_13_keypoints_give_the_same_result_as_17(tiny_model, small_poses):
    kp = _views(small_poses.poses[:20], 1)[0]
    np.testing.assert_array_equal(tiny_model.embed_2d(kp), tiny_model.embed_2d(convert(kp, H36M17, KP13)))


def test_embed_3d_is_invariant_to_100_random_rotations(tiny_model, small_poses):
    pose = small_poses.poses[7].astype(np.float64)
    rotated = np.einsum("nij,kj->nki", random_rotations(100, seed=3), pose) + [1000.0, -300.0, 50.0]
    z = tiny_model.embed_3d(rotated)
    np.testing.assert_allclose(z, np.broadcast_to(tiny_model.embed_3d(pose[None])[0], z.shape), atol=1e-4)


def test_embed_2d_ignores_image_position_and_scale(tiny_model, small_poses):
    kp = _views(small_poses.poses[:10], 1)[0]
    np.testing.assert_allclose(tiny_model.embed_2d(kp), tiny_model.embed_2d(kp * 0.3 + [40, 900]), atol=1e-4)


def test_missing_keypoints_give_finite_outputs_and_are_flagged(tiny_model, small_poses):
    kp = _views(small_poses.poses[:6], 1)[0]
    kp[1, H36M17.index("l_wrist")] = np.nan
    kp[2, H36M17.indices(["r_knee", "r_ankle"])] = np.nan
    kp[3, H36M17.index("pelvis")] = np.nan  # not a mapper input: does not matter
    assert np.isfinite(tiny_model.lift(kp)).all()
    assert tiny_model.missing_mask(kp).tolist() == [False, True, True, False, False, False]
    before = tiny_model.lift(kp)
    kp[4, H36M17.indices(["l_hip", "r_hip", "l_shoulder"])] = np.nan  # too few torso joints
    kp[5, H36M17.index("l_wrist"), 0] = np.inf  # a broken joint is a missing one
    lifted = tiny_model.lift(kp)
    assert np.isnan(lifted[4]).all() and np.isfinite(np.delete(lifted, 4, axis=0)).all()
    np.testing.assert_allclose(lifted[:4], before[:4], atol=1e-5)  # the others are untouched
    assert tiny_model.missing_mask(kp).tolist() == [False, True, True, False, True, True]
    kp[5, H36M17.index("l_wrist")] = np.nan
    np.testing.assert_allclose(lifted[5], tiny_model.lift(kp)[5], atol=1e-5)
    refined = tiny_model.lift(kp, refine=3)  # fitted to the keypoints: the same rows spoilt
    assert np.isnan(refined[4]).all() and np.isfinite(np.delete(refined, 4, axis=0)).all()


def test_a_non_finite_3d_joint_spoils_only_its_pose(tiny_model, small_poses):
    poses = small_poses.poses[:5].copy()
    clean = tiny_model.embed_3d(poses)
    poses[2, 5, 0], poses[4, 0, 2] = np.nan, -np.inf
    z = tiny_model.embed_3d(poses)
    assert np.isnan(z[[2, 4]]).all() and z.dtype == np.float32
    np.testing.assert_allclose(z[[0, 1, 3]], clean[[0, 1, 3]], atol=1e-5)  # batch size aside
    assert np.isnan(tiny_model.canonicalize(poses)[[2, 4]]).all()
    assert np.isnan(tiny_model.embed_3d(poses[[2]])).all()  # a batch of bad poses only


def test_decode_and_sample_keep_bad_rows_to_themselves_and_check_their_input(tiny_model):
    z = np.zeros((3, 8), np.float32)
    z[1, 0] = np.inf
    decoded = tiny_model.decode(z)
    assert np.isnan(decoded[1]).all() and np.isfinite(decoded[[0, 2]]).all()
    samples = tiny_model.sample(np.where(np.isinf(z), np.nan, z), n=4)
    assert np.isnan(samples[1]).all() and np.isfinite(samples[[0, 2]]).all()
    for bad in (np.zeros((4, 33)), np.zeros((2, 3, 8))):
        with pytest.raises(PoseInputError, match=r"shape \(8,\) or \(N, 8\)"):
            tiny_model.sample(bad)
    with pytest.raises(PoseInputError, match="sigma"):
        tiny_model.sample(z[0], sigma=float("nan"))
    with pytest.raises(PoseInputError, match="n ≥ 1"):
        tiny_model.sample(z[0], n=0)


def test_bad_input_errors_are_vvipe_errors(tiny_model):
    for call in (lambda: tiny_model.embed_3d(np.zeros((4, 16, 3))),
                 lambda: tiny_model.embed_2d(np.zeros((4, 17))),
                 lambda: tiny_model.decode(np.zeros((2, 9))),
                 lambda: tiny_model.missing_mask(np.zeros(3))):
        with pytest.raises(VVIPEError):
            call()


def test_sample_is_seeded_and_centred(tiny_model):
    z = np.zeros(8, np.float32)
    a, b = tiny_model.sample(z, sigma=0.5, n=2000, seed=1), tiny_model.sample(z, sigma=0.5, n=2000, seed=1)
    np.testing.assert_array_equal(a, b)
    assert abs(a.std() - 0.5) < 0.02 and np.abs(a.mean(0)).max() < 0.05
    assert not np.array_equal(a, tiny_model.sample(z, sigma=0.5, n=2000, seed=2))


# -- the bundled, trained model ----------------------------------------------------------------
needs_bundled = pytest.mark.skipif(not BUNDLED_CHECKPOINT.exists(), reason="no bundled checkpoint")


@needs_bundled
def test_bundled_lift_agrees_across_cameras(bundled, small_poses):
    poses = small_poses.poses[:200]
    lifted = [bundled.lift(kp) for kp in _views(poses, 4)]
    across_views = np.mean([np_mpjpe(lifted[i], lifted[j]) for i in range(4) for j in range(i)])
    to_truth = np.mean([np_mpjpe(view, poses) for view in lifted])
    other_pose = np.mean(np_mpjpe(lifted[0], np.roll(poses, 50, axis=0)))
    assert to_truth < 0.15 and across_views < 0.15
    assert other_pose > 2 * max(to_truth, across_views)


@needs_bundled
def test_bundled_decoder_reconstructs_validation_poses(bundled, small_poses):
    canonical = bundled.canonicalize(small_poses.poses)
    recon = bundled.decode(bundled.embed_3d(small_poses.poses))
    assert np_mpjpe(recon, canonical).mean() < 0.1


def _mirror_2d(kp):
    out = kp.copy()
    out[..., 0] *= -1
    return out[:, H36M17.mirror_index]


def test_flip_averaged_lift_is_exactly_mirror_equivariant(tiny_model, small_poses):
    from vvipe_core.data import mirror_poses

    kp = _views(small_poses.poses[:40], 1)[0]
    flipped = tiny_model.lift(kp, flip=True)
    np.testing.assert_allclose(tiny_model.lift(_mirror_2d(kp), flip=True), mirror_poses(flipped),
                               atol=1e-6)
    # It averages the plain lift with the mirrored lift of the mirror image.
    plain, of_mirror = tiny_model.lift(kp), mirror_poses(tiny_model.lift(_mirror_2d(kp)))
    np.testing.assert_allclose(flipped, (plain + of_mirror) / 2, atol=1e-5)
    assert np.abs(plain - of_mirror).max() > 1e-3  # the plain lift is not equivariant
    np.testing.assert_allclose(tiny_model.embed_2d(kp, flip=True), tiny_model.embed_3d(flipped),
                               atol=1e-5)
