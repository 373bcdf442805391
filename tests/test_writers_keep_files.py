"""Every writer goes through vvipe_core/atomic.py: under `ulimit -f` (RLIMIT_FSIZE) a failed write
is one typed error naming the file, the previous file stays byte-identical and no temporary file
is left. One subprocess per writer family (the app's TOML save: tests/app)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SMALL_POSES, run_under_file_limit
from tests.media import T_POSE
from vvipe_core.export import PoseSequence, save_poses
from vvipe_core.index import PoseIndex

SUFFIXES = (".json", ".csv", ".npz", ".bvh")


def assert_kept(folder: Path, before: dict[str, bytes]) -> None:
    """The folder holds exactly the files it held, with the same bytes."""
    assert sorted(os.listdir(folder)) == sorted(before)
    for name, data in before.items():
        assert (folder / name).read_bytes() == data, name


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_pose_exports(tmp_path, small_poses):
    for suffix in SUFFIXES:
        save_poses(tmp_path / f"existing{suffix}", PoseSequence(small_poses.poses[:2], units="mm"))
    before = snapshot(tmp_path)
    result = run_under_file_limit(f"""
from vvipe_core.data import load_poses
from vvipe_core.atomic import WriteError
from vvipe_core.export import PoseSequence, save_poses
seq = PoseSequence(load_poses({str(SMALL_POSES)!r}).poses[:400], units="mm", fps=30.0)
for suffix in {SUFFIXES!r}:
    try:
        with limited():
            save_poses({str(tmp_path)!r} + "/existing" + suffix, seq)
    except WriteError as error:
        print(error)
""", limit_bytes=8192)
    lines = result.stdout.splitlines()
    assert len(lines) == len(SUFFIXES), result.stderr
    for suffix, line in zip(SUFFIXES, lines, strict=True):
        assert line == f"{tmp_path}/existing{suffix}: file too large for this system's limit"
    assert_kept(tmp_path, before)


def test_checkpoint(tmp_path, tiny_checkpoint):
    target = tmp_path / "existing.pt"
    target.write_bytes(b"previous")
    result = run_under_file_limit(f"""
from vvipe_core import checkpoint
from vvipe_core.atomic import WriteError
ckpt = checkpoint.load({str(tiny_checkpoint)!r})
try:
    with limited():
        checkpoint.save(ckpt, {str(target)!r})
except WriteError as error:
    print(error)
""", limit_bytes=8192)
    assert result.stdout.strip() == f"{target}: file too large for this system's limit", result.stderr
    assert_kept(tmp_path, {"existing.pt": b"previous"})


def test_index_files(tmp_path):
    index = PoseIndex(8)
    index.add(np.zeros((2, 8), np.float32), payloads=["a", "b"])
    index.save(tmp_path)
    before = snapshot(tmp_path)
    result = run_under_file_limit(f"""
import numpy as np
from vvipe_core.atomic import WriteError
from vvipe_core.index import PoseIndex
index = PoseIndex(8)
index.add(np.ones((2000, 8), np.float32), payloads=["x" * 20] * 2000)
try:
    with limited():
        index.save({str(tmp_path)!r})
except WriteError as error:
    print(error)
""", limit_bytes=8192)
    assert "too large" in result.stdout and str(tmp_path) in result.stdout, result.stderr
    assert_kept(tmp_path, before)


CLI = """
from typer.testing import CliRunner
from vvipe_core.cli import app
with limited():
    result = CliRunner().invoke(app, {args!r})
print(result.exit_code)
print(result.output)
"""


@pytest.fixture
def labelled_poses(tmp_path, small_poses) -> Path:
    """A few labelled sequences, for classify-train."""
    p = small_poses.subset(np.isin(small_poses.sequence, np.unique(small_poses.sequence)[:12]))
    path = tmp_path / "labelled.npz"
    np.savez(path, poses=p.poses, subject=np.zeros(len(p), np.int16), sequence=p.sequence,
             frame=p.extra["frame"], activity=p.extra["activity"])
    return path


@pytest.mark.parametrize("command", ["lift", "classify-train", "eval", "gallery"])
def test_cli_result_files(command, tmp_path, tiny_checkpoint, labelled_poses):
    out = tmp_path / "out"
    out.mkdir()
    target = out / ("existing.json" if command in ("eval", "lift") else "existing.npz")
    target.write_bytes(b"previous")
    ckpt = ["--checkpoint", str(tiny_checkpoint)]
    args = {
        "lift": ["lift", str(T_POSE), "--out", str(target), *ckpt],
        "classify-train": ["classify-train", "--data", str(labelled_poses), "--out", str(target),
                           "--window", "4", "--max-samples", "100", *ckpt],
        "eval": ["eval", "--data", str(SMALL_POSES), "--views", "2", "--max-poses", "40",
                 "--cameras", "seen", "--json", str(target), "--device", "cpu", *ckpt],
        "gallery": ["gallery", "--data", str(SMALL_POSES), "--out", str(target), "--size", "60",
                    *ckpt],
    }[command]
    result = run_under_file_limit(CLI.format(args=args), limit_bytes=200)
    code, _, output = result.stdout.partition("\n")
    assert code == "1", result.stdout + result.stderr
    assert f"{target}: file too large" in " ".join(output.split()), output
    assert_kept(out, {"existing" + target.suffix: b"previous"})
