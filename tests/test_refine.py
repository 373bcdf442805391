import numpy as np
import pytest

from vvipe_core.evaluation import EvalOptions, camera_views
from vvipe_core.refine import refine_latents
from vvipe_core.verify import fit_cameras


@pytest.fixture(scope="module")
def keypoints(small_poses):
    return camera_views(small_poses.poses[:40], "seen", EvalOptions(views=2))[0]


def _fit_error(poses, kp, confidence=None):
    return fit_cameras(kp, poses[:, None], confidence).error[:, 0]


def test_refined_lift_explains_the_keypoints_better_and_stays_near_the_mapper(tiny_model,
                                                                             keypoints):
    plain = tiny_model.lift(keypoints)
    np.testing.assert_array_equal(tiny_model.lift(keypoints, refine=0), plain)
    refined = tiny_model.lift(keypoints, refine=40)
    before, after = _fit_error(plain, keypoints), _fit_error(refined, keypoints)
    assert np.mean(after) < 0.8 * np.mean(before)
    # The prior keeps z near the mapper's: a stronger one moves it less.
    z = tiny_model.embed_2d(keypoints)
    loose = refine_latents(tiny_model, keypoints, z, steps=40, prior=0.0)
    tight = refine_latents(tiny_model, keypoints, z, steps=40, prior=10.0)
    assert np.linalg.norm(tight - z, axis=1).mean() < 0.5 * np.linalg.norm(loose - z, axis=1).mean()


def test_refinement_ignores_missing_and_unconfident_keypoints(tiny_model, keypoints):
    z = tiny_model.embed_2d(keypoints)
    wrong = keypoints.copy()
    wrong[:, 13] += 400.0  # a left wrist far off, but with no confidence
    confidence = np.ones(keypoints.shape[:2])
    confidence[:, 13] = 0.0
    a = refine_latents(tiny_model, keypoints, z, confidence, steps=10)
    b = refine_latents(tiny_model, wrong, z, confidence, steps=10)
    np.testing.assert_allclose(a, b, atol=1e-5)
    missing = keypoints.copy()
    missing[:, 13] = np.nan
    np.testing.assert_allclose(refine_latents(tiny_model, missing, z, steps=10), a, atol=1e-5)


def test_poses_with_too_few_keypoints_keep_the_mappers_latent(tiny_model, keypoints):
    kp = keypoints[:3].copy()
    kp[0, [2, 3, 5, 6, 9, 10, 12, 13, 15, 16]] = np.nan  # legs, arms and head gone
    z = tiny_model.embed_2d(kp)
    refined = refine_latents(tiny_model, kp, z, steps=10)
    np.testing.assert_array_equal(refined[0], z[0])
    assert not np.allclose(refined[1:], z[1:])
