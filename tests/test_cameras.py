import numpy as np
import pytest

from vvipe_core.cameras import (
    SEEN,
    UNSEEN,
    CameraRanges,
    keypoint_features,
    normalize_2d,
    project,
    sample_cameras,
    to_camera,
    unproject,
)
from vvipe_core.skeleton import H36M17, KP13, convert


def test_sampling_is_deterministic_per_seed_and_respects_ranges(small_poses):
    pelvis = small_poses.poses[:, 0]
    a, b = sample_cameras(pelvis, UNSEEN, 3), sample_cameras(pelvis, UNSEEN, 3)
    np.testing.assert_array_equal(a.rotation, b.rotation)
    assert not np.allclose(a.rotation, sample_cameras(pelvis, UNSEEN, 4).rotation)
    for name in ("azimuth", "elevation", "roll", "distance_m"):
        lo, hi = getattr(UNSEEN, name)
        assert a.params[name].min() >= lo and a.params[name].max() <= hi
    # The camera really sits at that elevation and distance from the pelvis.
    offset = a.position - pelvis
    dist = np.linalg.norm(offset, axis=1)
    np.testing.assert_allclose(dist, a.params["distance_m"] * 1000, rtol=1e-9)
    np.testing.assert_allclose(np.degrees(np.arcsin(offset[:, 2] / dist)), a.params["elevation"], atol=1e-6)


def test_rotations_are_proper_and_pelvis_projects_to_the_image_centre(small_poses):
    cams = sample_cameras(small_poses.poses[:, 0], SEEN, 0)
    np.testing.assert_allclose(np.linalg.det(cams.rotation), 1, atol=1e-9)
    px = project(small_poses.poses, cams)
    np.testing.assert_allclose(px[:, 0], 500, atol=1e-6)
    # Image y points down: the head is above (smaller y than) the pelvis for upright poses
    # seen by cameras with little roll.
    upright = small_poses.poses[:, 10, 2] > small_poses.poses[:, 0, 2] + 300
    assert (px[upright, 10, 1] < px[upright, 0, 1]).mean() > 0.95


def test_projection_round_trip(small_poses):
    cams = sample_cameras(small_poses.poses[:, 0], UNSEEN, 1)
    depth = to_camera(small_poses.poses, cams)[..., 2]
    back = unproject(project(small_poses.poses, cams), depth, cams)
    np.testing.assert_allclose(back, small_poses.poses, atol=1e-6)


def test_focal_and_image_size_come_from_the_ranges(small_poses):
    ranges = CameraRanges(focal_px=(500, 500), image_size=(640, 480))
    cams = sample_cameras(small_poses.poses[:5, 0], ranges, 0)
    assert (cams.focal == 500).all() and (cams.center == [320, 240]).all()


def test_2d_normalisation_removes_position_and_scale():
    kp = np.random.default_rng(0).uniform(0, 1000, size=(10, 13, 2))
    n1, origin, scale = normalize_2d(kp)
    n2, _, _ = normalize_2d(kp * 3.5 + [100, -40])
    np.testing.assert_allclose(n1, n2, atol=1e-9)
    np.testing.assert_allclose(n1 * scale[:, None, None] + origin[:, None], kp)
    torso = n1[:, KP13.indices(["l_shoulder", "r_shoulder", "l_hip", "r_hip"])]
    span = np.linalg.norm(torso[:, :, None] - torso[:, None], axis=-1).max(axis=(1, 2))
    np.testing.assert_allclose(span, 0.5)
    np.testing.assert_allclose(n1[:, KP13.indices(["l_hip", "r_hip"])].mean(1), 0, atol=1e-12)


def test_2d_normalisation_with_missing_joints():
    kp = np.random.default_rng(0).uniform(0, 1000, size=(2, 13, 2))
    kp[0, KP13.index("l_hip")] = np.nan
    n, origin, _ = normalize_2d(kp)
    np.testing.assert_allclose(origin[0], kp[0, KP13.index("r_hip")])
    assert np.isnan(n[0, KP13.index("l_hip")]).all()
    kp[1, KP13.indices(["l_hip", "r_hip", "l_shoulder"])] = np.nan
    with pytest.raises(ValueError, match="shoulders and hips"):
        normalize_2d(kp)


def test_keypoint_features_flag_missing_joints(small_poses):
    px = project(small_poses.poses[:4], sample_cameras(small_poses.poses[:4, 0], SEEN, 0))
    px[1, H36M17.index("r_wrist")] = np.nan
    features, present = keypoint_features(px, H36M17)
    assert features.shape == (4, 13, 3) and np.isfinite(features).all()
    assert present.sum() == 4 * 13 - 1 and not present[1, KP13.index("r_wrist")]
    same, _ = keypoint_features(convert(px, H36M17, KP13), KP13)
    np.testing.assert_array_equal(features, same)


def test_a_canonical_pose_seen_from_the_front_has_its_left_on_the_image_right(small_poses):
    from vvipe_core.cameras import FRONT_AZIMUTH, view_canonical
    from vvipe_core.canonical import canonicalize

    c = canonicalize(small_poses.poses[:50])
    front = view_canonical(c, np.full(50, FRONT_AZIMUTH))
    back = view_canonical(c, np.full(50, FRONT_AZIMUTH + 180))
    lh, rh, head = H36M17.indices(["l_hip", "r_hip", "head_top"])
    assert (front[:, lh, 0] > front[:, rh, 0]).all() and (back[:, lh, 0] < back[:, rh, 0]).all()
    assert (front[:, head, 1] < front[:, 0, 1]).all()  # torso up = image up
    np.testing.assert_allclose(front[:, 0], 500)
