"""Export: JSON / CSV / NPZ round trips with units and joint names; BVH checked by parsing our
own output back and running forward kinematics."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vvipe_core.bvh import Z_UP_TO_Y_UP, read_bvh
from vvipe_core.errors import ExportError
from vvipe_core.export import PoseSequence, load_poses, save_poses
from vvipe_core.skeleton import H36M17

J = {name: i for i, name in enumerate(H36M17.joints)}
# A person standing with arms out, mm, +z up, facing +y (+x = their right).
STANDING = np.array([
    [0, 0, 950], [120, 0, 950], [120, 0, 520], [120, 0, 80], [-120, 0, 950], [-120, 0, 520],
    [-120, 0, 80], [0, 0, 1200], [0, 0, 1450], [0, 30, 1600], [0, 0, 1700], [-170, 0, 1450],
    [-450, 0, 1450], [-700, 0, 1450], [170, 0, 1450], [450, 0, 1450], [700, 0, 1450],
], dtype=np.float64)


def _moving_person(frames: int = 40) -> np.ndarray:
    """Every joint wobbles independently (so bone lengths change too), the body turns about
    +z and walks; frame 7 has the right forearm folded straight back onto the upper arm."""
    rng = np.random.default_rng(0)
    t = np.arange(frames)[:, None, None] / 30.0
    wobble = 80 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0, (1, 17, 3)) * t
                         + rng.uniform(0, 6.3, (1, 17, 3)))
    poses = STANDING + wobble
    yaw = np.linspace(0, 2.5 * np.pi, frames)
    c, s = np.cos(yaw), np.sin(yaw)
    turn = np.stack([np.stack([c, -s, 0 * c], -1), np.stack([s, c, 0 * c], -1),
                     np.stack([0 * c, 0 * c, 1 + 0 * c], -1)], -2)
    poses = np.einsum("tij,tkj->tki", turn, poses) + np.array([5.0, 3.0, 0.0]) * np.arange(
        frames)[:, None, None]
    if frames > 7:
        elbow, shoulder = poses[7, J["r_elbow"]], poses[7, J["r_shoulder"]]
        poses[7, J["r_wrist"]] = elbow + 0.8 * (shoulder - elbow)
    return poses


def _bone_angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    angles = []
    for parent, child in H36M17.bones:
        u, v = a[:, child] - a[:, parent], b[:, child] - b[:, parent]
        cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
        angles.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.stack(angles, axis=1)


def _sequence(poses: np.ndarray, **kw: object) -> PoseSequence:
    confidence = np.random.default_rng(2).uniform(0.3, 1.0, poses.shape[:2])
    return PoseSequence(poses, units="mm", fps=30.0, confidence=confidence,
                        meta={"checkpoint": "vvipe.pt"}, **kw)


@pytest.mark.parametrize("suffix", [".json", ".csv", ".npz"])
def test_round_trip_keeps_everything(tmp_path: Path, suffix: str) -> None:
    poses = _moving_person(5)
    poses[2, J["l_wrist"]] = np.nan
    seq = _sequence(poses, source=[f"img{i}.jpg" for i in range(5)])
    back = load_poses(save_poses(tmp_path / f"poses{suffix}", seq))
    np.testing.assert_allclose(back.poses, poses, atol=1e-3)  # NaN compares equal
    np.testing.assert_allclose(back.confidence, seq.confidence, atol=1e-4)
    np.testing.assert_allclose(back.time_s, np.arange(5) / 30.0, atol=1e-6)
    assert back.units == "mm" and back.fps == 30.0 and back.skeleton is H36M17
    assert back.source == seq.source and back.meta == {"checkpoint": "vvipe.pt"}
    assert back.coordinate_frame == seq.coordinate_frame
    assert back.frame_index.tolist() == list(range(5))


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_text_files_name_joints_and_units(tmp_path: Path, suffix: str) -> None:
    text = save_poses(tmp_path / f"p{suffix}", _sequence(STANDING[None])).read_text()
    assert "mm" in text and "+z up" in text
    assert all(name in text for name in H36M17.joints)


def test_json_missing_joint_is_null(tmp_path: Path) -> None:
    pose = STANDING.copy()
    pose[J["head_top"]] = np.nan
    data = json.loads(save_poses(tmp_path / "p.json", PoseSequence(pose, units="mm")).read_text())
    assert data["frames"][0]["joints"][J["head_top"]] is None
    assert data["joints"] == list(H36M17.joints) and data["units"] == "mm"


def test_npz_needs_no_pickle(tmp_path: Path) -> None:
    path = save_poses(tmp_path / "p.npz", _sequence(_moving_person(3)))
    with np.load(path, allow_pickle=False) as data:
        assert data["poses"].shape == (3, 17, 3) and str(data["units"]) == "mm"
        assert data["joints"].tolist() == list(H36M17.joints)


def test_2d_keypoints_export(tmp_path: Path) -> None:
    keypoints = STANDING[None, :, :2] + 500
    back = load_poses(save_poses(tmp_path / "k.csv", PoseSequence(keypoints, units="px",
                                                                  coordinate_frame="image")))
    np.testing.assert_allclose(back.poses, keypoints, atol=1e-3)


def test_bad_exports(tmp_path: Path) -> None:
    seq = PoseSequence(STANDING, units="mm")
    with pytest.raises(ExportError, match="unknown export format"):
        save_poses(tmp_path / "p.xlsx", seq)
    with pytest.raises(ExportError, match="folder does not exist"):
        save_poses(tmp_path / "missing" / "p.json", seq)
    with pytest.raises(ExportError, match="BVH export needs 3D"):
        save_poses(tmp_path / "k.bvh", PoseSequence(STANDING[:, :2], units="px"))
    with pytest.raises(ExportError, match="units"):
        save_poses(tmp_path / "p.bvh", PoseSequence(STANDING, units="inch"))
    with pytest.raises(ExportError, match="got shape"):
        PoseSequence(np.zeros((3, 13, 3)), units="mm")


# -- BVH ------------------------------------------------------------------------------------


def test_bvh_forward_kinematics_reproduces_bone_directions(tmp_path: Path) -> None:
    poses = _moving_person()
    path = save_poses(tmp_path / "motion.bvh", _sequence(poses))
    motion = read_bvh(path)

    assert len(motion.values) == len(poses) and motion.frame_time == pytest.approx(1 / 30)
    assert all(name in motion.names for name in H36M17.joints)
    assert sum(len(c) for c in motion.channels) == motion.values.shape[1]
    fk = motion.positions()[:, [motion.names.index(n) for n in H36M17.joints]]
    expected = poses @ Z_UP_TO_Y_UP.T / 1000.0  # metres, Y up
    assert _bone_angles_deg(fk, expected).max() < 1e-3
    np.testing.assert_allclose(fk[:, J["pelvis"]], expected[:, J["pelvis"]], atol=1e-6)
    # Bone lengths are the median lengths: right on average, never wildly off.
    ratio = np.linalg.norm(fk[:, 3] - fk[:, 2], axis=-1) / np.linalg.norm(
        expected[:, 3] - expected[:, 2], axis=-1)
    assert 0.8 < np.median(ratio) < 1.2


def test_bvh_rest_pose_is_a_t_pose_standing_up_y(tmp_path: Path) -> None:
    motion = read_bvh(save_poses(tmp_path / "m.bvh", _sequence(_moving_person(2))))
    offset = dict(zip(motion.names, motion.offsets))
    assert offset["r_knee"][1] < 0 and offset["spine"][1] > 0  # legs down, spine up (+y)
    assert offset["r_elbow"][0] > 0 > offset["l_elbow"][0]  # arms out along x


def test_bvh_fills_missing_joints_in_time(tmp_path: Path) -> None:
    poses = _moving_person(10)
    poses[4, J["l_wrist"]] = np.nan
    poses[5] = np.nan  # a frame with nobody
    motion = read_bvh(save_poses(tmp_path / "gaps.bvh", _sequence(poses)))
    assert np.isfinite(motion.values).all()
    fk = motion.positions()[:, [motion.names.index(n) for n in H36M17.joints]]
    expected = poses @ Z_UP_TO_Y_UP.T / 1000.0
    angles = _bone_angles_deg(fk, expected)
    assert np.nanmax(angles) < 1e-3  # every known bone exact; the gaps are NaN here


def test_bvh_canonical_units_become_metres(tmp_path: Path) -> None:
    from vvipe_core.canonical import NOMINAL_TORSO_MM

    poses = _moving_person(3) / NOMINAL_TORSO_MM
    motion = read_bvh(save_poses(tmp_path / "c.bvh", PoseSequence(poses, units="canonical")))
    root = motion.values[:, :3]
    np.testing.assert_allclose(root, poses[:, 0] @ Z_UP_TO_Y_UP.T * NOMINAL_TORSO_MM / 1000,
                               atol=1e-5)


def test_reading_a_broken_bvh(tmp_path: Path) -> None:
    path = tmp_path / "broken.bvh"
    path.write_text("HIERARCHY\nROOT hips\n{\n OFFSET 0 0\n")
    with pytest.raises(ExportError, match="not a valid BVH"):
        read_bvh(path)
