import json
from pathlib import Path

import numpy as np
import pytest

from vvipe_core.skeleton import H36M17, H36M32, KP13, MEDIAPIPE33, convert


def test_our_skeleton_matches_the_data_files_metadata():
    meta = Path(__file__).resolve().parents[2] / "shared" / "data" / "meta.json"
    if not meta.exists():
        pytest.skip("../shared/data not present")
    m = json.loads(meta.read_text())
    assert list(H36M17.joints) == m["joint_names"]
    assert list(H36M17.parents) == m["parents"]
    assert H36M17.mirror_index.tolist() == m["mirror_index"]


def test_mirror_index_swaps_sides_by_name():
    mirror = H36M17.mirror_index
    for i, name in enumerate(H36M17.joints):
        twin = H36M17.joints[mirror[i]]
        if name.startswith("l_"):
            assert twin == "r_" + name[2:]
        else:
            assert twin == name or name.startswith("r_")
    assert (mirror[mirror] == np.arange(H36M17.n)).all()


def test_h36m32_to_ours_takes_the_standard_17_joints_by_name():
    points = np.arange(32 * 3, dtype=float).reshape(32, 3)
    out = convert(points, H36M32, H36M17)
    # VideoPose3D keeps these 32-joint indices for its 17-joint set, in our order.
    keep = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
    assert np.array_equal(out, points[keep])


def test_mediapipe_derived_joints_are_means_of_their_sources():
    rng = np.random.default_rng(0)
    lm = rng.normal(size=(4, 33, 2))
    out = convert(lm, MEDIAPIPE33, H36M17)
    mp = MEDIAPIPE33.index
    np.testing.assert_allclose(out[:, H36M17.index("pelvis")], (lm[:, mp("l_hip")] + lm[:, mp("r_hip")]) / 2)
    np.testing.assert_allclose(out[:, H36M17.index("head_top")], (lm[:, mp("l_eye")] + lm[:, mp("r_eye")]) / 2)
    np.testing.assert_allclose(out[:, H36M17.index("l_wrist")], lm[:, mp("l_wrist")])
    np.testing.assert_allclose(out[:, H36M17.index("neck_nose")], lm[:, mp("nose")])


def test_missing_joint_stays_missing_and_spreads_nowhere_else():
    kp = np.random.default_rng(1).normal(size=(2, 17, 2))
    kp[0, H36M17.index("l_hip")] = np.nan
    out = convert(kp, H36M17, KP13)
    assert np.isnan(out[0, KP13.index("l_hip")]).all()
    assert np.isfinite(np.delete(out[0], KP13.index("l_hip"), axis=0)).all()
    assert np.isfinite(out[1]).all()
    back = convert(out, KP13, H36M17.__class__("sub", ("pelvis", "l_wrist")))
    assert np.isnan(back[0, 0]).all() and np.isfinite(back[0, 1]).all()


def test_unknown_joint_is_an_error_naming_it():
    with pytest.raises(KeyError, match="spine"):
        convert(np.zeros((13, 2)), KP13, H36M17)
