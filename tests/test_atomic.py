"""The one file writer: the previous file survives any failure, nothing is left behind."""
import os
import subprocess
import sys

import pytest

from vvipe_core.atomic import WriteError, atomic_write, check_writable, write_bytes, write_text


def test_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    write_text(target, "old")
    write_text(target, "new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.json"]


def test_an_error_inside_the_block_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.bin"
    write_bytes(target, b"good")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write(b"half")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"good"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_file_size_limit_is_a_write_error_and_keeps_the_previous_file(tmp_path):
    # `ulimit -f`: the write fails with EFBIG (Python ignores SIGXFSZ).
    target = tmp_path / "out.bin"
    write_bytes(target, b"good")
    code = (
        "import resource, sys\n"
        "from vvipe_core.atomic import write_bytes, WriteError\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        f"    write_bytes({str(target)!r}, b'x' * 100000)\n"
        "except WriteError as e:\n"
        "    print(e); sys.exit(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )
    assert result.returncode == 3, result.stderr
    assert "too large" in result.stdout and str(target) in result.stdout
    assert target.read_bytes() == b"good"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_short_write_without_an_error_number_says_what_it_likely_is(tmp_path):
    with pytest.raises(WriteError, match="cut short .a full disk"), atomic_write(tmp_path / "a"):
        raise OSError("15072 requested and 4064 written")
    assert os.listdir(tmp_path) == []


def test_an_interrupt_mid_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path,
                                                                               monkeypatch):
    target = write_bytes(tmp_path / "run.pt", b"good")

    def ctrl_c(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        write_bytes(target, b"half")
    assert target.read_bytes() == b"good" and os.listdir(tmp_path) == ["run.pt"]


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_an_unwritable_target_names_the_file(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(WriteError, match="file/out.txt"):
        write_text(tmp_path / "file" / "out.txt", "x")


def test_check_writable_finds_a_bad_target_before_the_work(tmp_path):
    assert check_writable(tmp_path / "new" / "out.json") == tmp_path / "new" / "out.json"
    assert os.listdir(tmp_path) == []  # its probe file is gone, no folder made
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(WriteError, match="file/out.json: a parent is not a folder"):
        check_writable(tmp_path / "file" / "out.json")
    with pytest.raises(WriteError, match="is a folder"):
        check_writable(tmp_path)
    with pytest.raises(WriteError, match="/proc/x.json: this folder takes no new files"):
        check_writable("/proc/x.json")
