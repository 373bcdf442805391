import numpy as np
import pytest

from vvipe_core.cameras import SEEN, project, sample_cameras
from vvipe_core.corruption import (
    COCO_SIGMAS,
    DETECTOR,
    SWAPPABLE,
    DetectorErrors,
    corrupt,
    person_size,
    swap_limbs,
)
from vvipe_core.skeleton import H36M17, TORSO_2D


@pytest.fixture(scope="module")
def pixels(small_poses):
    poses = small_poses.poses
    return project(poses, sample_cameras(poses[:, 0], SEEN, 0))


def _noise_only(scale=1.0):
    return DetectorErrors(sigma_scale=scale, swap_p=0.0, missing_p=dict.fromkeys(
        ("extremity", "limb", "head", "torso"), 0.0))


def test_each_joint_moves_by_its_coco_sigma_times_the_persons_size(pixels):
    n = 4000
    kp = np.resize(pixels, (n, 17, 2))
    moved = corrupt(kp, np.random.default_rng(0), _noise_only(2.0))
    radial_rms = np.sqrt((((moved - kp) ** 2).sum(-1) / person_size(kp)[:, None] ** 2).mean(0))
    expected = 2.0 * np.array([COCO_SIGMAS[j] for j in H36M17.joints])
    np.testing.assert_allclose(radial_rms, expected, rtol=0.06)
    # COCO's sigmas: hips and ankles are placed worse than shoulders, the nose best of all.
    by = dict(zip(H36M17.joints, radial_rms))
    assert by["l_hip"] > by["l_ankle"] > by["l_shoulder"] > by["neck_nose"]


def test_person_size_follows_the_picture_scale(pixels):
    np.testing.assert_allclose(person_size(2 * pixels), 2 * person_size(pixels))
    assert 50 < np.median(person_size(pixels)) < 300  # a person a few metres from the camera


def test_a_swap_exchanges_one_left_right_pair_and_keeps_the_names(pixels):
    kp = pixels[:len(SWAPPABLE) + 1]
    which = np.append(np.arange(len(SWAPPABLE)), -1)
    out = swap_limbs(kp, which)
    mirror = H36M17.mirror_index
    for row, name in enumerate(SWAPPABLE):
        left = H36M17.index(name)
        right = mirror[left]
        assert H36M17.joints[right] == "r_" + name[2:]
        np.testing.assert_array_equal(out[row, left], kp[row, right])
        np.testing.assert_array_equal(out[row, right], kp[row, left])
        others = np.setdiff1d(np.arange(17), [left, right])
        np.testing.assert_array_equal(out[row, others], kp[row, others])
    np.testing.assert_array_equal(out[-1], kp[-1])  # -1: no swap
    np.testing.assert_array_equal(swap_limbs(out, which), kp)  # a swap undoes itself


def test_swaps_happen_at_their_rate(pixels):
    kp = np.resize(pixels, (4000, 17, 2))
    errors = DetectorErrors(sigma_scale=0.0, swap_p=0.2, missing_p=_noise_only().missing_p)
    changed = (corrupt(kp, np.random.default_rng(1), errors) != kp).any((1, 2))
    assert abs(changed.mean() - 0.2) < 0.03


def test_extremities_go_missing_more_often_than_the_torso_which_always_keeps_two(pixels):
    kp = np.resize(pixels, (6000, 17, 2))
    strong = DetectorErrors(missing_p={"extremity": 0.3, "limb": 0.1, "head": 0.05, "torso": 0.6})
    out = corrupt(kp, np.random.default_rng(2), strong)
    missing = np.isnan(out[..., 0])
    rate = dict(zip(H36M17.joints, missing.mean(0)))
    assert abs(rate["l_wrist"] - 0.3) < 0.03 and abs(rate["r_ankle"] - 0.3) < 0.03
    assert abs(rate["l_knee"] - 0.1) < 0.02
    assert (~missing[:, H36M17.indices(TORSO_2D)]).sum(1).min() >= 2
    default = dict(zip(H36M17.joints, DETECTOR.missing()))
    assert default["l_wrist"] > default["l_elbow"] > default["l_shoulder"]


def test_corruption_is_seeded_and_strength_zero_is_clean(pixels):
    a = corrupt(pixels, np.random.default_rng(3))
    np.testing.assert_array_equal(a, corrupt(pixels, np.random.default_rng(3)))
    np.testing.assert_array_equal(corrupt(pixels, np.random.default_rng(3), strength=0.0), pixels)
