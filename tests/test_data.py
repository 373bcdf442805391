import numpy as np
import pytest

from vvipe_core.canonical import canonicalize
from vvipe_core.data import (
    DataFileError,
    add_keypoint_noise,
    augment_bones,
    drop_keypoints,
    load_h36m_2d,
    load_h36m_3d,
    load_poses,
    mirror_poses,
    rescale_bones,
)
from vvipe_core.generation import bone_lengths
from vvipe_core.skeleton import H36M17


def test_our_npz_loads_with_its_metadata(small_poses):
    assert small_poses.poses.shape == (600, 17, 3) and small_poses.poses.dtype == np.float32
    assert len(small_poses.subject) == len(small_poses.sequence) == 600
    assert set(small_poses.extra) >= {"activity", "person", "frame"}
    sub = small_poses.subset(np.arange(10))
    assert len(sub) == 10 and len(sub.extra["activity"]) == 10


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a readable"),
        (b"this is no zip file", "not a readable"),
        ("missing", "missing array"),
        ("shape", "must be \\(N, 17, 3\\)"),
        ("nan", "NaN"),
        ("empty", "holds no poses"),
    ],
)
def test_bad_pose_files_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        poses = np.zeros((3, 17, 3), np.float32)
        arrays = {"poses": poses, "subject": np.zeros(3), "sequence": np.array(["a"] * 3)}
        if content == "missing":
            del arrays["sequence"]
        elif content == "shape":
            arrays["poses"] = np.zeros((3, 16, 3))
        elif content == "empty":
            arrays = {k: v[:0] for k, v in arrays.items()}
        else:
            arrays["poses"] = poses.copy()
            arrays["poses"][0, 0, 0] = np.nan
        np.savez(path, **arrays)
    with pytest.raises(DataFileError, match=message) as err:
        load_poses(path)
    assert str(path) in str(err.value)
    with pytest.raises(DataFileError, match="no such file"):
        load_poses(tmp_path / "absent.npz")


def _write_videopose3d_files(tmp_path, poses17_mm):
    """Tiny files in VideoPose3D's Human3.6M layout: 32 joints in metres, 2D per camera."""
    keep = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
    p32 = np.random.default_rng(0).normal(size=(len(poses17_mm), 32, 3))
    p32[:, keep] = poses17_mm / 1000.0
    positions_3d = {"S9": {"Walking": p32[:5], "Sitting 1": p32[5:]}, "S11": {"Greeting": p32}}
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d=positions_3d)
    kp = np.random.default_rng(1).uniform(0, 1000, size=(len(poses17_mm), 17, 2))
    positions_2d = {"S9": {"Walking": [kp[:5], kp[:5] + 1, kp[:5] + 2, kp[:5] + 3]}}
    np.savez(tmp_path / "data_2d_h36m_gt.npz", positions_2d=positions_2d,
             metadata={"layout_name": "h36m", "num_joints": 17})
    return kp


def test_human36m_videopose3d_files_convert_by_name(tmp_path, small_poses):
    poses = small_poses.poses[:8]
    kp = _write_videopose3d_files(tmp_path, poses)
    s9 = load_h36m_3d(tmp_path / "data_3d_h36m.npz", subjects=["S9"])
    assert len(s9) == 8 and set(s9.sequence) == {"S9/Walking", "S9/Sitting 1"}
    # Sorted by action: "Sitting 1" (poses 5..7) before "Walking" (0..4).
    np.testing.assert_allclose(s9.poses, np.concatenate([poses[5:], poses[:5]]), atol=1e-2)
    assert len(load_h36m_3d(tmp_path / "data_3d_h36m.npz")) == 16
    two_d = load_h36m_2d(tmp_path / "data_2d_h36m_gt.npz")
    assert len(two_d["S9"]["Walking"]) == 4
    np.testing.assert_allclose(two_d["S9"]["Walking"][2], kp[:5] + 2, rtol=1e-6)
    with pytest.raises(DataFileError, match="data_3d_h36m"):
        load_h36m_3d(tmp_path / "data_2d_h36m_gt.npz")


def test_bone_rescaling_keeps_directions_and_scales_lengths(small_poses):
    poses = small_poses.poses[:20].astype(np.float64)
    factors = np.random.default_rng(0).uniform(0.8, 1.2, size=(20, 17))
    out = rescale_bones(poses, factors)
    np.testing.assert_allclose(bone_lengths(out), bone_lengths(poses) * factors[:, 1:], rtol=1e-9)
    parents = np.asarray(H36M17.parents)[1:]
    unit = lambda p: (p[:, 1:] - p[:, parents]) / bone_lengths(p)[..., None]
    np.testing.assert_allclose(unit(out), unit(poses), atol=1e-9)
    np.testing.assert_array_equal(out[:, 0], poses[:, 0])


def test_bone_augmentation_is_symmetric_and_bounded(small_poses):
    poses = small_poses.poses[:200].astype(np.float64)
    out = augment_bones(poses, 0.15, np.random.default_rng(0))
    ratio = bone_lengths(out) / bone_lengths(poses)
    assert ratio.min() >= 0.85 - 1e-9 and ratio.max() <= 1.15 + 1e-9 and ratio.std() > 0.05
    mirror = H36M17.mirror_index
    np.testing.assert_allclose(ratio, ratio[:, mirror[1:] - 1], rtol=1e-9)  # left == right


def test_mirroring_swaps_sides_of_the_canonical_pose(small_poses):
    c = canonicalize(small_poses.poses[:50])
    m = canonicalize(mirror_poses(small_poses.poses[:50]))
    l_wrist, r_wrist = H36M17.index("l_wrist"), H36M17.index("r_wrist")
    np.testing.assert_allclose(m[:, l_wrist], c[:, r_wrist] * [-1, 1, 1], atol=1e-5)


def test_noise_and_dropout_keep_shape_and_the_torso(small_poses):
    kp = np.random.default_rng(0).uniform(0, 1000, size=(500, 17, 2))
    noisy = add_keypoint_noise(kp, 5.0, np.random.default_rng(1))
    assert noisy.shape == kp.shape and 0.5 < np.abs(noisy - kp).mean() < 5
    dropped = drop_keypoints(kp, 0.6, np.random.default_rng(2))
    missing = np.isnan(dropped).all(-1)
    assert 0.5 < missing.mean() < 0.7 and (np.isnan(dropped).any(-1) == missing).all()
    torso = H36M17.indices(["l_shoulder", "r_shoulder", "l_hip", "r_hip"])
    assert ((~missing[:, torso]).sum(1) >= 2).all()
    # Dropping again (after a detector-like corruption, say) still leaves two of the torso.
    twice = np.isnan(drop_keypoints(dropped, 0.6, np.random.default_rng(3))).all(-1)
    assert ((~twice[:, torso]).sum(1) >= 2).all() and twice.mean() > missing.mean()


def test_poses_of_one_body_share_theirbone_lengths(small_poses):
    poses = small_poses.poses[:300].astype(np.float64)
    bodies = small_poses.sequence[:300]
    ratio = bone_lengths(augment_bones(poses, 0.15, np.random.default_rng(0), bodies)) / bone_lengths(poses)
    for body in np.unique(bodies):
        same = ratio[bodies == body]
        np.testing.assert_allclose(same, np.broadcast_to(same[0], same.shape), rtol=1e-6)
    assert len(np.unique(ratio[:, 0].round(6))) == len(np.unique(bodies))
