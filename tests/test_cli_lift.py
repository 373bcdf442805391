"""`vvipe lift` end to end with a tiny trained checkpoint: pictures, folders, videos, bad input."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.media import STANDING, T_POSE, Y_POSE, write_video
from vvipe_core.bvh import read_bvh
from vvipe_core.cli import app
from vvipe_core.export import load_poses


@pytest.fixture
def run(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, checkpoint: Path | None = tiny_checkpoint):
        extra = ["--checkpoint", str(checkpoint)] if checkpoint else []
        return CliRunner().invoke(app, ["lift", *args, *extra])

    return invoke


def test_picture_to_default_json(run, tmp_path: Path) -> None:
    result = run(str(T_POSE))
    assert result.exit_code == 0, result.output
    assert "lifted 1 person" in result.stdout
    sequence = load_poses(tmp_path / f"{T_POSE.stem}_3d.json")
    assert sequence.poses.shape == (1, 17, 3) and sequence.units == "mm"
    assert sequence.source == [T_POSE.name] and "checkpoint" in sequence.meta
    assert np.isfinite(sequence.poses).all()


def test_folder_skips_and_reports_bad_items(run, tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    for picture in (T_POSE, Y_POSE, STANDING):
        shutil.copy(picture, folder)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    (folder / "notes.txt").write_text("not a picture and not looked at")
    result = run(str(folder), "--out", "poses.csv")
    assert result.exit_code == 0, result.output
    assert "lifted 3 of 4 pictures" in result.stdout
    assert "skipped" in result.stderr and "broken.jpg" in result.stderr
    sequence = load_poses(tmp_path / "poses.csv")
    assert sequence.source == sorted(p.name for p in (T_POSE, Y_POSE, STANDING))


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.avi", [T_POSE] * 5 + [None] * 2 + [Y_POSE] * 5)


def test_video_with_stride_to_npz(run, video: Path, tmp_path: Path) -> None:
    result = run(str(video), "--out", "clip.npz", "--stride", "2")
    assert result.exit_code == 0, result.output
    assert "lifted 5 of 6 frames (1 without a person)" in result.stdout
    assert "jitter" in result.stdout
    sequence = load_poses(tmp_path / "clip.npz")
    assert sequence.frame_index.tolist() == [0, 2, 4, 6, 8, 10] and sequence.fps == 5.0
    np.testing.assert_allclose(sequence.time_s, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert np.isnan(sequence.poses[3]).all() and np.isfinite(sequence.poses[[0, 4]]).all()


def test_a_truncated_video_reports_decoded_against_announced_frames(run, tmp_path: Path) -> None:
    whole = write_video(tmp_path / "whole.avi", [T_POSE] * 39).read_bytes()
    (tmp_path / "half.avi").write_bytes(whole[: len(whole) // 2])
    result = run("half.avi", "--out", "half.json")
    assert result.exit_code == 1, result.output
    assert "half.avi: decoded 20 of the 39 frames the file announces" in result.stderr
    assert len(load_poses(tmp_path / "half.json").poses) == 20  # what was there is kept
    complete = run("whole.avi", "--out", "whole.json", "--stride", "2")
    assert complete.exit_code == 0 and "announces" not in complete.output


def test_video_to_bvh_without_smoothing(run, video: Path, tmp_path: Path) -> None:
    result = run(str(video), "--out", "clip.bvh", "--no-smooth")
    assert result.exit_code == 0, result.output
    assert "jitter" not in result.stdout
    motion = read_bvh(tmp_path / "clip.bvh")
    assert len(motion.values) == 12 and np.isfinite(motion.values).all()


@pytest.mark.parametrize(
    "args, words",
    [
        (["missing.jpg"], "no such file or folder"),
        ([str(T_POSE), "--out", "poses.xlsx"], "unknown export format"),
        ([str(T_POSE), "--model", "nowhere.task"], "no such model file"),
        ([str(T_POSE), "--out", "no_folder/p.json"], "folder does not exist"),
    ],
)
def test_bad_input_exits_with_a_clear_message(run, args: list[str], words: str) -> None:
    result = run(*args)
    assert result.exit_code == 2 and words in result.stderr, result.output


def test_missing_checkpoint(run) -> None:
    result = run(str(T_POSE), checkpoint=Path("nowhere.pt"))
    assert result.exit_code == 2 and "no such checkpoint file" in result.stderr


def test_picture_without_anybody(run, tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (320, 240), (200, 200, 200)).save(tmp_path / "wall.png")
    result = run(str(tmp_path / "wall.png"))
    assert result.exit_code == 1 and "no person found" in result.stderr  # as the docs say


def test_folder_where_nothing_can_be_lifted(run, tmp_path: Path) -> None:
    folder = tmp_path / "empty_room"
    folder.mkdir()
    result = run(str(folder))
    assert result.exit_code == 2 and "no pictures" in result.stderr
    (folder / "broken.png").write_bytes(b"")
    result = run(str(folder))
    assert result.exit_code == 1 and "nobody could be lifted" in result.stderr
    assert "broken.png" in result.stderr
