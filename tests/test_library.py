"""The pose library: index pictures and a video, query from any angle, re-index nothing twice."""
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.media import LUNGE_LEFT, PHOTOS, STANDING, T_POSE, Y_POSE, write_video
from vvipe_core.library import (
    LibraryError,
    PoseLibrary,
    embed_query,
    index_paths,
    media_files,
    source_picture,
)


@pytest.fixture
def media(tmp_path) -> Path:
    """A folder of four photos and a six-frame video (Y-pose, nobody, standing)."""
    folder = tmp_path / "media"
    (folder / "clips").mkdir(parents=True)
    for photo in (T_POSE, LUNGE_LEFT, STANDING, Y_POSE):
        shutil.copy(photo, folder / photo.name)
    write_video(folder / "clips" / "clip.avi", [Y_POSE] * 2 + [None] * 2 + [STANDING] * 2)
    return folder


def test_a_folder_is_indexed_and_a_photo_finds_itself_first(media, tmp_path, tiny_model, detector):
    steps = []
    report = index_paths(tmp_path / "lib", [media], tiny_model, detector=detector,
                         progress=steps.append)
    assert len(report.processed) == 5 and not report.skipped and not report.cancelled
    assert steps[-1].files_done == steps[-1].files_total == 5
    library = PoseLibrary.open(tmp_path / "lib")
    frames = sorted(e.frame for e in library.entries if e.is_video)
    assert frames == [0, 1, 4, 5]  # the blank frames hold nobody
    assert len(library) == report.size == 4 + 4
    for photo in (T_POSE, STANDING):
        hits = library.search(embed_query(tiny_model, media / photo.name, detector), k=3)
        assert Path(hits[0].entry.file).name == photo.name
        assert hits[0].distance == pytest.approx(0.0, abs=1e-5)
        assert [h.distance for h in hits] == sorted(h.distance for h in hits)


def test_video_hits_carry_frame_time_and_box(media, tmp_path, tiny_model, detector):
    index_paths(tmp_path / "lib", [media], tiny_model, detector=detector)
    library = PoseLibrary.open(tmp_path / "lib")
    entry = next(e for e in library.entries if e.is_video and e.frame == 5)
    assert entry.time_s == pytest.approx(0.5)
    x0, y0, x1, y1 = entry.box
    assert 0 <= x0 < x1 <= 240 and 0 <= y0 < y1 <= 180
    assert source_picture(entry).shape == (180, 240, 3)


def test_reindexing_processes_only_new_or_changed_files(media, tmp_path, tiny_model, detector):
    index_paths(tmp_path / "lib", [media], tiny_model, detector=detector)
    again = index_paths(tmp_path / "lib", [media], tiny_model, detector=detector)
    assert again.processed == [] and len(again.skipped) == 5 and again.size == 8
    shutil.copy(PHOTOS[0], media / "new.jpg")
    more = index_paths(tmp_path / "lib", [media], tiny_model, detector=detector)
    assert [p.name for p in more.processed] == ["new.jpg"] and more.size == 9
    shutil.copy(Y_POSE, media / "new.jpg")  # changed: its old row is replaced
    changed = index_paths(tmp_path / "lib", [media], tiny_model, detector=detector)
    assert [p.name for p in changed.processed] == ["new.jpg"] and changed.size == 9


def test_a_cancelled_run_keeps_finished_files_and_resumes(media, tmp_path, tiny_model, detector):
    cancel = threading.Event()

    def stop_after_two(step):
        if step.files_done == 2:
            cancel.set()

    first = index_paths(tmp_path / "lib", [media], tiny_model, detector=detector,
                        progress=stop_after_two, cancel=cancel)
    assert first.cancelled and len(first.processed) == 2
    rest = index_paths(tmp_path / "lib", [media], tiny_model, detector=detector)
    assert len(rest.processed) == 3 and len(rest.skipped) == 2 and rest.size == 8


def test_queries_from_keypoints_and_3d_poses(media, tmp_path, tiny_model, detector):
    index_paths(tmp_path / "lib", [media / T_POSE.name], tiny_model, detector=detector)
    library = PoseLibrary.open(tmp_path / "lib")
    keypoints = detector.detect_person(T_POSE).keypoints
    np.testing.assert_allclose(embed_query(tiny_model, keypoints), library.embeddings[0], atol=1e-5)
    pose = tiny_model.lift(keypoints[None])[0]
    np.testing.assert_allclose(embed_query(tiny_model, pose), tiny_model.embed_3d(pose[None])[0])
    assert len(library.search(embed_query(tiny_model, pose), k=5)) == 1


def test_an_unreadable_file_is_reported_and_skipped(tmp_path, tiny_model, detector):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 nope")
    report = index_paths(tmp_path / "lib", [tmp_path / "broken.jpg"], tiny_model, detector=detector)
    assert list(report.failed) == [(tmp_path / "broken.jpg").resolve()] and report.size == 0


def test_a_library_of_another_embedding_size_is_refused(tmp_path, tiny_model):
    other = PoseLibrary(tmp_path / "lib", tiny_model.embedding_dim + 1, "other.pt")
    other.save()
    with pytest.raises(LibraryError, match="other.pt"):
        PoseLibrary.open_or_create(tmp_path / "lib", tiny_model)
    with pytest.raises(LibraryError, match="not a pose library"):
        PoseLibrary.open(tmp_path / "nothing")


def test_media_files_finds_pictures_and_videos_recursively(media):
    (media / "notes.txt").write_text("not media")
    names = [p.relative_to(media).as_posix() for p in media_files([media, media / T_POSE.name])]
    assert names == sorted(names) and len(names) == 5 and "clips/clip.avi" in names


def test_cli_index_then_search(media, tmp_path, tiny_checkpoint):
    from typer.testing import CliRunner

    from vvipe_core.cli import app

    lib = tmp_path / "lib"
    ckpt = ["--checkpoint", str(tiny_checkpoint)]
    result = CliRunner().invoke(app, ["index", str(media), "--out", str(lib), *ckpt])
    assert result.exit_code == 0, result.output
    assert "5 file(s) processed" in result.stdout and "8 poses" in result.stdout
    again = CliRunner().invoke(app, ["index", str(media), "--out", str(lib), *ckpt])
    assert "0 file(s) processed, 5 unchanged" in again.stdout
    # No --checkpoint: the library's own checkpoint embeds the query.
    found = CliRunner().invoke(app, ["search", str(lib), str(media / Y_POSE.name), "-k", "3"])
    assert found.exit_code == 0, found.output
    lines = found.stdout.strip().splitlines()
    assert len(lines) == 3 and Y_POSE.name in lines[0] and "0.000" in lines[0]
