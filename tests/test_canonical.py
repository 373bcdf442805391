import numpy as np
import pytest

from tests.helpers import random_rotations
from vvipe_core.canonical import (
    L_HIP,
    PELVIS,
    R_HIP,
    THORAX,
    Realign,
    canonicalize,
    torso_length,
)
from vvipe_core.data import mirror_poses


def _transform(poses, rotations, rng):
    scale = rng.uniform(0.01, 100, size=(len(poses), 1, 1))
    shift = rng.normal(0, 5000, size=(len(poses), 1, 3))
    return np.einsum("nij,nkj->nki", rotations, poses) * scale + shift


def test_full_realignment_removes_any_rotation_translation_and_scale(small_poses):
    poses = small_poses.poses.astype(np.float64)
    rng = np.random.default_rng(0)
    moved = _transform(poses, random_rotations(len(poses), seed=1), rng)
    np.testing.assert_allclose(canonicalize(moved, "full"), canonicalize(poses, "full"), atol=1e-5)


def test_yaw_realignment_removes_rotations_about_up_but_keeps_gravity(small_poses):
    poses = small_poses.poses.astype(np.float64)
    rng = np.random.default_rng(2)
    angle = rng.uniform(-np.pi, np.pi, len(poses))
    c, s = np.cos(angle), np.sin(angle)
    yaw = np.zeros((len(poses), 3, 3))
    yaw[:, 0, 0], yaw[:, 0, 1], yaw[:, 1, 0], yaw[:, 1, 1], yaw[:, 2, 2] = c, -s, s, c, 1
    np.testing.assert_allclose(
        canonicalize(_transform(poses, yaw, rng), "yaw"), canonicalize(poses, "yaw"), atol=1e-5
    )
    tilted = _transform(poses, random_rotations(len(poses)), rng)
    assert np.abs(canonicalize(tilted, "yaw") - canonicalize(poses, "yaw")).max() > 0.5


def test_no_realignment_only_centres_and_scales(small_poses):
    poses = small_poses.poses[:50].astype(np.float64)
    out = canonicalize(poses * 3 + 7, Realign.NONE)
    expected = (poses - poses[:, :1]) / torso_length(poses)[:, None, None]
    np.testing.assert_allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize("mode", ["yaw", "full"])
def test_canonical_frame_conventions(small_poses, mode):
    c, scale = canonicalize(small_poses.poses, mode, return_scale=True)
    np.testing.assert_allclose(c[:, PELVIS], 0, atol=1e-6)
    np.testing.assert_allclose(torso_length(c), 1, atol=1e-5)
    hip = c[:, R_HIP] - c[:, L_HIP]
    assert (hip[:, 0] > 0).all() and np.abs(hip[:, 1]).max() < 1e-5  # hip line along +x
    if mode == "full":
        np.testing.assert_allclose(c[:, THORAX, :2], 0, atol=1e-5)  # torso along +z
        assert (c[:, THORAX, 2] > 0).all()
    np.testing.assert_allclose(scale, torso_length(small_poses.poses.astype(np.float64)), rtol=1e-6)


def test_mirror_of_a_canonical_pose_is_canonical_and_an_involution(small_poses):
    c = canonicalize(small_poses.poses[:100])
    m = mirror_poses(c)
    np.testing.assert_allclose(canonicalize(m), m, atol=1e-5)
    np.testing.assert_allclose(mirror_poses(m), c)
