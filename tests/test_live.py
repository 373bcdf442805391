"""`vvipe live` and its parts with a video file standing in for the camera: newest-frame capture,
recording, stopping at --max-frames, sources that cannot be opened or stop mid-run."""
from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.media import write_people_video
from vvipe_core import live
from vvipe_core.cli import app
from vvipe_core.errors import VideoReadError
from vvipe_core.live import FrameSource
from vvipe_core.video import iter_frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """15 s of two people at 10 fps: longer than any test needs, so --max-frames decides
    (even on a machine so busy that a frame takes a second)."""
    path = tmp_path_factory.mktemp("live") / "two.avi"
    write_people_video(path, 150)
    return path


@pytest.fixture
def run(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str):
        return CliRunner().invoke(app, ["live", *args, "--checkpoint", str(tiny_checkpoint)])

    return invoke


def test_live_records_every_processed_frame_and_stops_at_max_frames(run, clip: Path,
                                                                    tmp_path: Path) -> None:
    result = run(str(clip), "--max-frames", "4", "--record", "live.json")
    assert result.exit_code == 0, result.output
    assert "4 frames in" in result.stdout and "median latency ms" in result.stdout
    data = json.loads((tmp_path / "live.json").read_text())
    frames = data["frames"]
    assert len(frames) == 4 and "person" not in frames[0]
    indices = [f["index"] for f in frames]
    assert indices == sorted(set(indices)) and indices[-1] < 150  # newest frames, in order
    assert all(all(j is not None for j in f["joints"]) for f in frames)
    assert data["units"] == "mm" and data["fps"] == 10


def test_live_all_people_records_each_person(run, clip: Path, tmp_path: Path) -> None:
    result = run(str(clip), "--all-people", "--max-frames", "3", "--record", "people.json")
    assert result.exit_code == 0, result.output
    frames = json.loads((tmp_path / "people.json").read_text())["frames"]
    by_frame: dict[int, list[int]] = {}
    for f in frames:
        by_frame.setdefault(f["index"], []).append(f["person"])
    assert len(by_frame) == 3 and all(sorted(p) == [1, 2] for p in by_frame.values())


def test_live_to_the_end_of_a_short_file(run, tmp_path: Path) -> None:
    short = write_people_video(tmp_path / "short.avi", 3) is not None and tmp_path / "short.avi"
    result = run(str(short), "--record", "short.json")
    assert result.exit_code == 0, result.output
    frames = json.loads((tmp_path / "short.json").read_text())["frames"]
    processed = int(result.stdout.split(" frames in ")[0].split()[-1])
    assert 1 <= processed == len(frames) <= 3


@pytest.mark.parametrize(
    "args, words",
    [
        (["missing.avi"], "no such file"),
        (["notes.txt"], "cannot open this video"),
        (["9"], "cannot open this camera"),
        (["CLIP", "--record", "out.csv"], "live recordings are .json files"),
        (["CLIP", "--record", "nowhere/out.json"], "the folder does not exist"),
        (["CLIP", "--max-frames", "0"], "Invalid value"),
    ],
)
def test_bad_sources_and_options_give_one_clear_line(run, clip: Path, tmp_path: Path,
                                                     args: list[str], words: str) -> None:
    (tmp_path / "notes.txt").write_text("not a video")
    result = run(*[str(clip) if a == "CLIP" else a for a in args])
    assert result.exit_code == 2, result.output
    assert words in result.stderr or words in result.output
    assert not list(tmp_path.glob("*.json"))


class _Camera:
    """A camera that delivers `frames` pictures, then fails (unplugged)."""

    frames = 6
    picture: np.ndarray  # RGB

    def __init__(self, target) -> None:
        self._left = _Camera.frames

    def isOpened(self) -> bool:  # OpenCV's name
        return True

    def get(self, prop: int) -> float:
        return 30.0

    def read(self):
        if self._left == 0:
            return False, None
        self._left -= 1
        return True, cv2.cvtColor(_Camera.picture, cv2.COLOR_RGB2BGR)

    def release(self) -> None:
        pass


def test_a_camera_unplugged_mid_run_keeps_the_recording(run, clip: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _Camera.picture = next(iter(iter_frames(clip))).image.rgb
    monkeypatch.setattr(live.cv2, "VideoCapture", _Camera)
    result = run("0", "--record", "cam.json")
    assert result.exit_code == 1, result.output
    assert "stopped sending frames after 6" in result.stderr
    assert "recording so far is kept" in result.stderr
    frames = json.loads((tmp_path / "cam.json").read_text())["frames"]
    assert 1 <= len(frames) <= 6


def test_capture_hands_over_the_newest_frame_and_counts_the_stale_ones(clip: Path) -> None:
    with FrameSource(str(clip), paced=False) as source:
        source._thread.join(timeout=30)  # read everything before taking anything
        assert source.ended and not source.failure
        frame = source.newest(timeout=1)
        assert frame.index == 149 and source.read == 150 and source.dropped == 149
        assert frame.image.rgb.shape == (240, 360, 3) and frame.time_s == pytest.approx(14.9)
        assert source.newest(timeout=0.1) is None


def test_paced_file_plays_at_its_frame_rate(clip: Path) -> None:
    """Like a camera: no frame is read before its time (a busy machine may only delay them)."""
    with FrameSource(str(clip)) as source:
        frames = [source.newest(timeout=5) for _ in range(3)]
        for frame in frames:
            assert frame.read_at >= source.started_at + frame.index / 10 - 1e-3
        assert frames[0].index < frames[1].index < frames[2].index
        assert source.read <= (time.perf_counter() - source.started_at) * 10 + 1


def test_parse_source() -> None:
    assert live.parse_source("0") == 0 and live.parse_source("rtsp://cam/1") == "rtsp://cam/1"
    with pytest.raises(VideoReadError, match="no such file"):
        live.parse_source("nothing.mp4")


def test_the_recording_is_valid_json_while_recording(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "SAVE_EVERY_S", 0.0)
    recorder = live.Recorder(tmp_path / "rec.json", 25.0, all_people=False)
    image = live.LoadedImage(np.zeros((4, 4, 3), np.uint8), (4, 4))
    pose = np.zeros((17, 3), np.float32)
    person = live.LivePerson(1, np.zeros((17, 2)), np.ones(17), pose, None)
    recorder.add(live.LiveFrame(7, 0.28, 0.0, image, [person]))
    recorder.add(live.LiveFrame(8, 0.32, 0.0, image, []))
    data = json.loads((tmp_path / "rec.json").read_text())  # saved by add(), not at the end
    assert [f["index"] for f in data["frames"]] == [7, 8]
    assert data["frames"][1]["joints"] == [None] * 17  # nobody seen: a missing pose


def test_ctrl_c_ends_the_run_with_its_report_and_recording(clip: Path, tiny_model,
                                                           tmp_path: Path) -> None:
    from vvipe_core.detect import PoseDetector

    shown = []

    def show(frame) -> None:
        shown.append(frame.index)
        if len(shown) == 2:
            raise KeyboardInterrupt

    recorder = live.Recorder(tmp_path / "rec.json", 10.0, all_people=False)
    with PoseDetector() as detector, FrameSource(str(clip)) as source:
        pipeline = live.LivePipeline(detector, tiny_model)
        report = live.run_live(source, pipeline, recorder=recorder, show=show)
        pipeline.close()
    assert report.interrupted and report.frames == 1  # the second one was not finished
    frames = json.loads((tmp_path / "rec.json").read_text())["frames"]
    assert [f["index"] for f in frames] == shown  # recorded before it was shown
