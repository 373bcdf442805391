"""The MediaPipe detector on real photos: people found, plausible keypoints, model file checks."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.media import LUNGE_LEFT, LUNGE_RIGHT, PHOTOS, T_POSE, Y_POSE, make_huge_photo
from vvipe_core import detect
from vvipe_core.detect import PoseDetector, load_model, pose_from_landmarks
from vvipe_core.errors import ModelFileError, NoPersonFound
from vvipe_core.images import load_image
from vvipe_core.skeleton import H36M17

J = {name: i for i, name in enumerate(H36M17.joints)}


@pytest.fixture(scope="module")
def detector() -> PoseDetector:
    with PoseDetector() as d:
        yield d


def _height(pose: detect.Pose2D) -> float:
    return pose.box[3] - pose.box[1]


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.stem)
def test_a_person_is_found_in_each_photo(detector: PoseDetector, photo: Path) -> None:
    poses = detector.detect(photo)
    assert len(poses) >= 1
    pose = poses[0]
    width, height = pose.image_size
    assert (width, height) == load_image(photo).size
    assert pose.keypoints.shape == (17, 2) and pose.confidence.shape == (17,)
    assert not pose.missing.any(), "all joints are clearly visible in these photos"
    x0, y0, x1, y1 = pose.box
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert _height(pose) > 0.5 * height  # full-body photos
    inside = (pose.keypoints >= [x0 - 1, y0 - 1]) & (pose.keypoints <= [x1 + 1, y1 + 1])
    assert inside.all()
    # Head above the pelvis above the ankles (image y grows downwards).
    k = pose.keypoints
    assert k[J["head_top"], 1] < k[J["thorax"], 1] < k[J["pelvis"], 1] < k[J["r_ankle"], 1]


def test_t_pose_wrists_at_shoulder_height_and_far_out(detector: PoseDetector) -> None:
    k = detector.detect_person(T_POSE).keypoints
    height = np.ptp(k[:, 1])
    for side in ("l", "r"):
        wrist, shoulder = k[J[f"{side}_wrist"]], k[J[f"{side}_shoulder"]]
        assert abs(wrist[1] - shoulder[1]) < 0.1 * height
    shoulder_width = abs(k[J["l_shoulder"], 0] - k[J["r_shoulder"], 0])
    assert abs(k[J["l_wrist"], 0] - k[J["r_wrist"], 0]) > 3 * shoulder_width


def test_y_pose_wrists_above_the_nose(detector: PoseDetector) -> None:
    k = detector.detect_person(Y_POSE).keypoints
    assert k[J["l_wrist"], 1] < k[J["neck_nose"], 1] and k[J["r_wrist"], 1] < k[J["neck_nose"], 1]


def test_person_facing_the_camera_has_left_joints_on_image_right(detector: PoseDetector) -> None:
    k = detector.detect_person(T_POSE).keypoints
    assert k[J["l_shoulder"], 0] > k[J["r_shoulder"], 0]
    assert k[J["l_hip"], 0] > k[J["r_hip"], 0]


def test_mirrored_photos_give_mirrored_keypoints(detector: PoseDetector) -> None:
    left, right = detector.detect_person(LUNGE_LEFT), detector.detect_person(LUNGE_RIGHT)
    width = left.image_size[0]
    mirrored = right.keypoints[H36M17.mirror_index] * [-1, 1] + [width, 0]
    assert np.median(np.linalg.norm(left.keypoints - mirrored, axis=1)) < 0.05 * _height(left)


def test_rgb_array_input_matches_file_input(detector: PoseDetector) -> None:
    from_file = detector.detect_person(T_POSE)
    from_array = detector.detect_person(load_image(T_POSE).rgb)
    np.testing.assert_allclose(from_array.keypoints, from_file.keypoints, atol=1.0)


def test_blank_picture_has_nobody(detector: PoseDetector) -> None:
    blank = np.full((480, 640, 3), 200, dtype=np.uint8)
    assert detector.detect(blank) == []
    with pytest.raises(NoPersonFound, match="no person found"):
        detector.detect_person(blank)


def test_blank_file_error_names_the_file(detector: PoseDetector, tmp_path: Path) -> None:
    path = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (320, 240), (90, 90, 90)).save(path)
    with pytest.raises(NoPersonFound) as caught:
        detector.detect_person(path)
    assert caught.value.path == path and str(path) in str(caught.value)


@pytest.mark.slow
def test_huge_photo_keypoints_map_back_to_the_full_frame(
    detector: PoseDetector, tmp_path: Path
) -> None:
    scale, offset = 19, np.array([3500, 500])
    path = make_huge_photo(tmp_path / "huge.jpg", scale=scale, offset=tuple(offset))
    loaded = load_image(path, max_side=detector.max_side)
    assert loaded.size == (20000, 13334) and max(loaded.rgb.shape) == detector.max_side
    big = detector.detect_person(loaded)
    expected = detector.detect_person(T_POSE).keypoints * scale + offset
    error = np.linalg.norm(big.keypoints - expected, axis=1)
    assert big.image_size == (20000, 13334)
    assert np.median(error) < 0.03 * np.ptp(expected[:, 1])


def test_joint_confidence_and_masking() -> None:
    landmarks = np.zeros((33, 5))
    landmarks[:, :2] = 0.5
    landmarks[:, 3:] = 0.9
    landmarks[15, 3] = 0.2  # left wrist barely visible
    landmarks[23, 3] = 0.6  # left hip: pelvis = 0.6 * 0.9, spine = 0.6 * 0.9**3
    pose = pose_from_landmarks(landmarks, np.zeros((33, 3)), (200, 100), min_joint_confidence=0.5)
    assert pose.confidence[J["l_wrist"]] == pytest.approx(0.2)
    assert pose.confidence[J["pelvis"]] == pytest.approx(0.54)
    assert pose.confidence[J["spine"]] == pytest.approx(0.6 * 0.9**3)
    assert pose.missing.tolist() == [name in ("l_wrist", "spine") for name in H36M17.joints]
    assert np.isnan(pose.keypoints[J["l_wrist"]]).all()
    assert pose.keypoints_raw[J["l_wrist"]].tolist() == [100.0, 50.0]
    assert pose.keypoints[J["pelvis"]].tolist() == [100.0, 50.0]


# -- the model file -----------------------------------------------------------------------


def test_bundled_model_is_checked() -> None:
    model = load_model()
    assert model.bundled and model.sha256 == detect.BUNDLED_MODEL_SHA256


def test_missing_bundled_model_names_the_expected_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "assets" / "pose_landmarker_full.task"
    monkeypatch.setattr(detect, "BUNDLED_MODEL", missing)
    with pytest.raises(ModelFileError) as caught:
        PoseDetector()
    assert str(missing) in str(caught.value) and "no such model file" in str(caught.value)


def test_corrupt_bundled_model_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corrupt = tmp_path / "pose_landmarker_full.task"
    corrupt.write_bytes(detect.BUNDLED_MODEL.read_bytes()[:-10])
    monkeypatch.setattr(detect, "BUNDLED_MODEL", corrupt)
    with pytest.raises(ModelFileError, match="sha256"):
        load_model()


def test_user_model_with_another_hash_is_accepted(tmp_path: Path) -> None:
    # A re-zipped copy stands in for Google's "lite"/"heavy" variants: same format, other hash.
    import zipfile

    user = tmp_path / "my_landmarker.task"
    with zipfile.ZipFile(detect.BUNDLED_MODEL) as source, zipfile.ZipFile(user, "w") as copy:
        for name in source.namelist():
            copy.writestr(name, source.read(name), compress_type=zipfile.ZIP_STORED)
    model = load_model(user)
    assert not model.bundled and model.sha256 != detect.BUNDLED_MODEL_SHA256
    with PoseDetector(user) as d:
        assert d.detect_person(T_POSE).keypoints.shape == (17, 2)


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("model.task", b"not a zip", "not a zip"),
        ("model.tflite", None, "'.task' file"),
        ("empty.task", b"PK\x05\x06" + b"\x00" * 18, "no .tflite"),
    ],
)
def test_bad_user_model_files(tmp_path: Path, name: str, content: bytes | None, words: str) -> None:
    path = tmp_path / name
    if content is None:
        shutil.copy(detect.BUNDLED_MODEL, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_missing_user_model(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such model file"):
        PoseDetector(tmp_path / "nowhere.task")
