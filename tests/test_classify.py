"""Activity classification: separation, windows over time, files without pickle, typed errors,
and the `vvipe classify` / `vvipe classify-train` commands on tiny inputs."""
from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vvipe_core.api import VVIPE
from vvipe_core.cameras import SEEN, UNSEEN, project, sample_cameras
from vvipe_core.classify import (
    ActivityClassifier,
    ClassifierFileError,
    Predictions,
    Segment,
    segment_at,
)
from vvipe_core.cli import app
from vvipe_core.export import PoseSequence, save_poses
from vvipe_core.pose_windows import frames_of_windows, sequence_windows, thin, window_starts
from vvipe_core.skeleton import H36M17

ARMS = {side: H36M17.indices([f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist"])
        for side in ("l", "r")}


def arms(poses: np.ndarray, up: bool) -> np.ndarray:
    """The same bodies with both arms stretched straight up (or hanging straight down)."""
    out = poses.copy()
    direction = np.array([0.0, 0.0, 1.0 if up else -1.0], dtype=np.float32)
    for shoulder, elbow, wrist in ARMS.values():
        upper = np.linalg.norm(poses[:, elbow] - poses[:, shoulder], axis=-1, keepdims=True)
        fore = np.linalg.norm(poses[:, wrist] - poses[:, elbow], axis=-1, keepdims=True)
        out[:, elbow] = out[:, shoulder] + upper * direction
        out[:, wrist] = out[:, elbow] + fore * direction
    return out



@pytest.fixture(scope="module")
def families(small_poses) -> tuple[np.ndarray, np.ndarray]:
    body = small_poses.poses[:200]
    poses = np.concatenate([arms(body, up=True), arms(body, up=False)])
    return poses, np.repeat(["arms_up", "arms_down"], len(body))


@pytest.fixture(scope="module")
def fitted(tiny_model, small_poses) -> ActivityClassifier:
    p = small_poses
    return ActivityClassifier.fit(tiny_model, p.poses, p.extra["activity"], sequence=p.sequence,
                                  frame=p.extra["frame"], window=4, epochs=2, hidden=16)


@pytest.mark.parametrize("method", ["knn", "probe"])
def test_two_pose_families_are_separated_perfectly(families, method) -> None:
    model = VVIPE.load(device="cpu")  # the shipped model: its 2D mapping is trained
    poses, labels = families
    train = np.r_[0:150, 200:350]  # different bodies for training and testing
    test = np.r_[150:200, 350:400]
    clf = ActivityClassifier.fit(model, poses[train], labels[train], method=method, window=4,
                                 epochs=100, hidden=32)
    assert clf.classes == ("arms_down", "arms_up")
    assert (clf.predict_3d(poses[test]).labels == labels[test]).all()
    # From the side; from high cameras (UNSEEN) about 10 % of these poses are confused.
    kp = project(poses[test], sample_cameras(poses[test][:, 0], SEEN, 1))
    assert (clf.predict_2d(kp).labels == labels[test]).all()


def test_top_k_scores_and_missing_poses(fitted, small_poses) -> None:
    poses = small_poses.poses[:4].copy()
    poses[2] = np.nan
    prediction = fitted.predict_3d(poses)
    assert prediction.valid.tolist() == [True, True, False, True]
    assert prediction.labels[2] == "" and prediction.top(3)[2] == []
    best = prediction.top(3)[0]
    assert len(best) == 3 and [s for _, s in best] == sorted((s for _, s in best), reverse=True)
    assert {label for label, _ in best} <= set(fitted.classes)
    np.testing.assert_allclose(prediction.scores[prediction.valid].sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("method", ["knn", "probe"])
def test_save_load_round_trip(tiny_model, small_poses, tmp_path, method) -> None:
    p = small_poses
    clf = ActivityClassifier.fit(tiny_model, p.poses, p.extra["activity"], sequence=p.sequence,
                                 frame=p.extra["frame"], method=method, window=4, epochs=2,
                                 hidden=16, meta={"data": "small"})
    loaded = ActivityClassifier.load(clf.save(tmp_path / "clf.npz"), tiny_model)
    assert (loaded.classes, loaded.method, loaded.window) == (clf.classes, method, 4)
    assert loaded.meta["data"] == "small"
    assert (loaded.predict_3d(p.poses).labels == clf.predict_3d(p.poses).labels).all()
    clips = p.poses[sequence_windows(p.sequence, p.extra["frame"], 4, 2)[:20]]
    np.testing.assert_allclose(loaded.predict_window_batch(clips).scores,
                               clf.predict_window_batch(clips).scores, rtol=1e-5, atol=1e-6)
    with np.load(tmp_path / "clf.npz", allow_pickle=False) as d:  # plain arrays only
        assert all(d[k].dtype != object for k in d.files)


def test_one_label_per_window_along_a_sequence(fitted, tiny_model, small_poses) -> None:
    frames = small_poses.poses[:30].copy()
    frames[[3, 4]] = np.nan  # frames without a person are skipped
    prediction = fitted.predict_windows(frames, window=4, stride=2)
    assert len(prediction) == len(window_starts(28, 4, 2)) == len(prediction.labels)
    assert prediction.valid.all() and prediction.start[0] == 0 and prediction.stop[-1] == 30
    segments = prediction.segments()
    assert segments[0].start == 0 and segments[-1].stop == 30
    assert all(a.stop == b.start for a, b in pairwise(segments))
    still = np.repeat(small_poses.poses[:1], 10, axis=0)  # thinned to one frame
    thinned = fitted.predict_windows(still, thin_frames=True)
    assert (len(thinned), thinned.start[0], thinned.stop[0]) == (1, 0, 10)
    # 2D keypoints and precomputed embeddings give the same windows
    target = np.repeat(np.nanmean(frames[:, 0], axis=0)[None], 30, axis=0)
    kp = project(frames, sample_cameras(target, UNSEEN, 0))
    assert len(fitted.predict_windows(kp, window=4, stride=2)) == len(prediction)
    z = np.full((30, tiny_model.embedding_dim), np.nan, dtype=np.float32)
    seen = ~np.isnan(frames).any(axis=(1, 2))
    z[seen] = tiny_model.embed_3d(frames[seen])
    np.testing.assert_allclose(fitted.predict_windows(z, window=4, stride=2).scores,
                               prediction.scores, rtol=1e-4, atol=1e-5)


def test_windows_stay_inside_sequences_in_frame_order() -> None:
    sequence = np.array(["b", "a", "a", "b", "a", "a", "a"])
    frame = np.array([1, 9, 2, 0, 5, 7, 8])
    windows = sequence_windows(sequence, frame, window=3, stride=2)
    for row in windows:
        assert len(set(sequence[row])) == 1
        assert (np.diff(frame[row]) >= 0).all()
    assert len(windows) == 2 + 1  # "a": 5 poses -> starts 0, 2; "b": 2 poses -> one window
    assert frames_of_windows(2, 3, 2).tolist() == [[0, 0, 1]]  # short: frames spread over W


def test_thinning_drops_frames_that_barely_move() -> None:
    still = np.zeros((10, 17, 3), dtype=np.float32)
    still[5:, 16, 0] = 1.0  # the right wrist moves once
    assert thin(still, min_move=0.1).tolist() == [0, 5]


def test_bad_files_raise_typed_errors(fitted, tiny_model, tiny_checkpoint, tmp_path) -> None:
    with pytest.raises(ClassifierFileError, match="no such file"):
        ActivityClassifier.load(tmp_path / "missing.npz", tiny_model)
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ClassifierFileError, match="not a readable"):
        ActivityClassifier.load(tmp_path / "junk.npz", tiny_model)
    np.savez(tmp_path / "other.npz", poses=np.zeros((2, 17, 3)))
    with pytest.raises(ClassifierFileError, match="not an activity classifier"):
        ActivityClassifier.load(tmp_path / "other.npz", tiny_model)
    path = fitted.save(tmp_path / "clf.npz")
    with np.load(path) as d:
        arrays = {k: d[k] for k in d.files if k != "windowed.std"}
    np.savez(tmp_path / "cut.npz", **arrays)
    with pytest.raises(ClassifierFileError, match="inconsistent"):
        ActivityClassifier.load(tmp_path / "cut.npz", tiny_model)
    with np.load(path) as d:
        arrays = {k: d[k] for k in d.files} | {"window": np.int32(0)}
    np.savez(tmp_path / "window0.npz", **arrays)
    with pytest.raises(ClassifierFileError, match="window0.npz: inconsistent.*window 0"):
        ActivityClassifier.load(tmp_path / "window0.npz", tiny_model)
    other = VVIPE.load(tiny_checkpoint, device="cpu")
    with torch.no_grad():
        for weight in other.vae.parameters():
            weight.add_(0.1)
    with pytest.raises(ClassifierFileError, match="another V-VIPE checkpoint"):
        ActivityClassifier.load(path, other)


def test_segment_at_finds_the_segment_holding_a_frame() -> None:
    track = [Segment(2, 5, "walk", 0.6), Segment(5, 9, "run", 0.7)]
    assert [segment_at(track, f) for f in (1, 2, 4, 5, 8, 9)] == [None, *track[:1] * 2,
                                                                 *track[1:] * 2, None]
    assert segment_at([], 0) is None


def test_segments_need_windows() -> None:
    with pytest.raises(ValueError, match="window"):
        Predictions(("a", "b"), np.array([[0.3, 0.7]])).segments()


@pytest.fixture
def cli(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str):
        return CliRunner().invoke(app, [*args, "--checkpoint", str(tiny_checkpoint)])

    return invoke


def test_cli_trains_and_classifies_a_pose_file(cli, small_poses, tmp_path) -> None:
    keep = np.isin(small_poses.sequence, np.unique(small_poses.sequence)[:12])
    p = small_poses.subset(keep)
    np.savez(tmp_path / "tiny_model.npz", poses=p.poses, subject=np.zeros(len(p), np.int16),
             sequence=p.sequence, frame=p.extra["frame"], activity=p.extra["activity"])
    result = cli("classify-train", "--data", "tiny_model.npz", "--out", "clf.npz", "--window", "4",
                 "--max-samples", "100")
    assert result.exit_code == 0, result.output
    assert "-> clf.npz" in result.stdout
    result = cli("classify", "tiny_model.npz", "--classifier", "clf.npz", "--top", "2")
    assert result.exit_code == 0, result.output
    assert "whole sequences" in result.stdout and "label in file" in result.stdout
    assert f"of {len(np.unique(p.sequence))} sequences" in result.stdout

    # a `vvipe lift` file from a video: labels over time, with seconds
    frames = p.poses[p.sequence == p.sequence[0]]
    save_poses(tmp_path / "clip.json", PoseSequence(frames, units="mm", fps=10.0,
                                                    time_s=np.arange(len(frames)) / 10.0))
    result = cli("classify", "clip.json", "--classifier", "clf.npz", "--window", "2")
    assert result.exit_code == 0, result.output
    assert "labels over time" in result.stdout and "from (s)" in result.stdout

    (tmp_path / "empty.json").write_text("[]")
    result = cli("classify", "empty.json", "--classifier", "clf.npz")
    assert result.exit_code == 2 and "empty.json: not a vvipe-poses file" in result.stderr
    assert "a JSON list" in result.stderr
    save_poses(tmp_path / "none.json", PoseSequence(np.zeros((0, 17, 3)), units="mm"))
    result = cli("classify", "none.json", "--classifier", "clf.npz")
    assert result.exit_code == 2 and "none.json: holds no poses" in result.stderr

    (tmp_path / "bad.npz").write_bytes(b"junk")
    result = cli("classify", "tiny_model.npz", "--classifier", "bad.npz")
    assert result.exit_code == 2 and "bad.npz" in result.stderr
