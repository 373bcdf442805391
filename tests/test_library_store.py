"""The library's store: crash safety (kill -9 while indexing), damaged files, the old format,
moved and missing sources, parallel and Ray indexing, `vvipe search --json`."""
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.media import PHOTOS, write_video
from vvipe_core.cli import app
from vvipe_core.library import (
    DATABASE,
    Entry,
    LibraryError,
    PoseLibrary,
    embed_query,
    index_paths,
)
from vvipe_core.library_store import LibraryStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pictures(tmp_path) -> Path:
    """Ten different pictures: the test photos and their mirror images."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    for photo in PHOTOS:
        image = cv2.imread(str(photo))
        cv2.imwrite(str(folder / photo.name), image)
        cv2.imwrite(str(folder / f"mirrored_{photo.name}"), image[:, ::-1])
    return folder


def rows_by_file(library: PoseLibrary) -> dict[str, list[tuple]]:
    """Each file's rows (frame, person, rounded embedding): comparable across runs."""
    rows: dict[str, list[tuple]] = {}
    for entry, z in zip(library.entries, library.embeddings):
        rows.setdefault(entry.file, []).append((entry.frame, entry.person,
                                                tuple(np.round(z, 4))))
    return {f: sorted(r) for f, r in rows.items()}


def assert_every_picture_finds_itself(library, folder, model, detector):
    pictures = list(folder.glob("*.jpg"))
    assert {p.name for p in pictures} <= {Path(f).name for f in library.files}
    for picture in pictures:
        hit = library.search(embed_query(model, picture, detector), k=1)[0]
        assert Path(hit.entry.file).name == picture.name
        assert hit.distance == pytest.approx(0.0, abs=1e-4)


@pytest.mark.slow
def test_kill_9_while_indexing_loses_at_most_the_file_in_flight(
        pictures, tmp_path, tiny_checkpoint, tiny_model, detector):
    write_video(pictures / "clip.avi", [PHOTOS[i % 5] for i in range(30)])
    lib = tmp_path / "lib"
    command = [sys.executable, "-m", "vvipe_core.cli", "index", str(pictures), "--out", str(lib),
               "--checkpoint", str(tiny_checkpoint), "--workers", "1"]
    rng = np.random.default_rng(16)
    for _ in range(3):
        run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.5, 7.0))  # startup (imports, MediaPipe) is about 3 s
        run.send_signal(signal.SIGKILL)
        run.wait()
        if (lib / DATABASE).exists():
            killed = PoseLibrary.open(lib)  # always opens: committed files, whole
            for path, stamp in killed.files.items():
                assert stamp["rows"] == sum(e.file == path for e in killed.entries)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    library = PoseLibrary.open(lib)
    assert_every_picture_finds_itself(library, pictures, tiny_model, detector)
    one_go = index_paths(tmp_path / "one_go", [pictures], tiny_model, detector=detector)
    assert rows_by_file(library) == rows_by_file(PoseLibrary.open(tmp_path / "one_go"))
    assert one_go.size == len(library)


@pytest.fixture
def small_library(tmp_path, tiny_model) -> Path:
    library = PoseLibrary(tmp_path / "lib", tiny_model.embedding_dim, "tiny.pt")
    rng = np.random.default_rng(0)
    entries = [Entry(f"/videos/{i // 4}.mp4", i % 4, (i % 4) / 30, (0, 0, 9, 9), 0)
               for i in range(12)]
    library.add(rng.normal(size=(12, tiny_model.embedding_dim)), entries)
    library.save()
    return tmp_path / "lib"


def test_a_library_being_created_is_never_seen_half_made(tmp_path):
    """Two runs creating the same library and two opening it meanwhile (the app starts a new
    indexing run while a cancelled one is still starting)."""
    barrier, seen = threading.Barrier(4), []

    def create():
        barrier.wait()
        LibraryStore.create(tmp_path / "lib", 8, "tiny.pt").close()

    def open_soon():
        barrier.wait()
        for _ in range(2000):
            try:
                seen.append(len(PoseLibrary.open(tmp_path / "lib")))
                return
            except LibraryError as error:
                assert "is missing" in error.reason  # not yet there, never half made
    threads = [threading.Thread(target=f) for f in (create, create, open_soon, open_soon)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [0, 0] and [p.name for p in (tmp_path / "lib").iterdir()] == [DATABASE]


def test_a_saved_library_reopens_with_the_same_rows(small_library):
    library = PoseLibrary.open(small_library)
    assert len(library) == 12 and len(library.files) == 3
    assert library.entries[5] == Entry("/videos/1.mp4", 1, 1 / 30, (0.0, 0.0, 9.0, 9.0), 0)
    hit = library.search(library.embeddings[7], k=1)[0]
    assert hit.entry == library.entries[7] and hit.distance == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("damage, reason", [
    (lambda db: db.write_bytes(b""), "empty file"),
    (lambda db: db.write_bytes(b"garbage" * 1000), "not a readable pose library"),
    (lambda db: db.write_bytes(db.read_bytes()[:3000]), "not a readable pose library"),
    (lambda db: _sql(db, "UPDATE files SET rows = rows + 1 WHERE rowid = 2"),
     "the row of /videos/1.mp4 does not hold 5 sources"),
    (lambda db: _sql(db, "UPDATE files SET embeddings = x'00' WHERE rowid = 1"),
     "the row of /videos/0.mp4"),
    (lambda db: _sql(db, "UPDATE meta SET value = '7' WHERE key = 'format'"), "format 7"),
    (lambda db: _sql(db, "DELETE FROM meta WHERE key = 'embedding_dim'"), "no embedding size"),
    (lambda db: _sql(db, "DROP TABLE files"), "damaged"),
])
def test_a_damaged_store_is_a_library_error_naming_it(small_library, damage, reason):
    damage(small_library / DATABASE)
    with pytest.raises(LibraryError, match=reason) as error:
        PoseLibrary.open(small_library)
    assert error.value.path.name in (DATABASE, small_library.name)


def _sql(path: Path, statement: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(statement)
    db.close()


def test_cli_names_a_damaged_library_with_exit_2(small_library, tmp_path):
    (small_library / DATABASE).write_bytes(b"garbage" * 1000)
    result = CliRunner().invoke(app, ["search", str(small_library), str(PHOTOS[0])])
    assert result.exit_code == 2 and DATABASE in result.output


def _old_library(directory: Path, rows: int, extra_embeddings: int = 0) -> np.ndarray:
    """A library as format 1 wrote it (library.json + embeddings.npy)."""
    directory.mkdir()
    embeddings = np.random.default_rng(1).normal(size=(rows + extra_embeddings, 8))
    entries = [{"file": "/p/a.jpg" if i == 0 else "/p/v.mp4", "frame": i, "time_s": i / 10,
                "box": [0, 0, 5, 5], "person": 0} for i in range(rows)]
    files = {"/p/a.jpg": {"size": 10, "mtime_ns": 5, "rows": 1, "error": None},
             "/p/v.mp4": {"size": 20, "mtime_ns": 6, "rows": rows - 1, "error": None},
             "/p/broken.jpg": {"size": 3, "mtime_ns": 7, "rows": 0, "error": "unreadable"}}
    (directory / "library.json").write_text(json.dumps({
        "format": 1, "embedding_dim": 8, "checkpoint": "old.pt", "entries": entries,
        "files": files}))
    np.save(directory / "embeddings.npy", embeddings.astype(np.float32))
    return embeddings.astype(np.float32)


def test_an_old_library_is_migrated_once_and_its_files_kept(tmp_path):
    embeddings = _old_library(tmp_path / "old", rows=4)
    library = PoseLibrary.open(tmp_path / "old")
    assert len(library) == 4 and library.checkpoint == "old.pt"
    assert library.files["/p/broken.jpg"]["error"] == "unreadable"
    np.testing.assert_array_equal(library.embeddings, embeddings)
    assert [e.frame for e in library.entries] == [0, 1, 2, 3]
    assert (tmp_path / "old" / "library.json.format1").exists()
    assert len(PoseLibrary.open(tmp_path / "old")) == 4  # now a format-2 library


def test_an_old_library_whose_rows_disagree_is_refused_clearly(tmp_path):
    _old_library(tmp_path / "old", rows=4, extra_embeddings=1)
    with pytest.raises(LibraryError, match="disagree; index again"):
        PoseLibrary.open(tmp_path / "old")
    (tmp_path / "old" / "library.json").write_text("[1]")
    with pytest.raises(LibraryError, match="format 1.*cannot be read"):
        PoseLibrary.open(tmp_path / "old")


def test_missing_files_are_reported_moved_ones_followed_and_prune_drops(
        pictures, tmp_path, tiny_model, detector):
    lib = tmp_path / "lib"
    index_paths(lib, [pictures], tiny_model, detector=detector)
    moved_to = tmp_path / "moved"
    moved_to.mkdir()
    shutil.move(pictures / PHOTOS[0].name, moved_to / PHOTOS[0].name)
    (pictures / PHOTOS[1].name).unlink()
    report = index_paths(lib, [pictures, moved_to], tiny_model, detector=detector)
    assert report.processed == []  # the moved picture keeps its rows, no detection
    assert report.moved == {(pictures / PHOTOS[0].name).resolve():
                            (moved_to / PHOTOS[0].name).resolve()}
    assert report.missing == [(pictures / PHOTOS[1].name).resolve()] and report.size == 10
    pruned = index_paths(lib, [], tiny_model, detector=detector, prune=True)
    assert pruned.pruned == report.missing and pruned.size == 9 and pruned.missing == []
    library = PoseLibrary.open(lib)
    hit = library.search(embed_query(tiny_model, moved_to / PHOTOS[0].name, detector), 1)[0]
    assert hit.entry.file == str((moved_to / PHOTOS[0].name).resolve())
    assert hit.distance == pytest.approx(0, abs=1e-4)


def test_cli_search_json_lists_hits_nearest_first(pictures, tmp_path, tiny_checkpoint):
    lib = tmp_path / "lib"
    ckpt = ["--checkpoint", str(tiny_checkpoint)]
    indexed = CliRunner().invoke(app, ["index", str(pictures), "-o", str(lib), "--workers", "1",
                                       *ckpt])
    assert indexed.exit_code == 0, indexed.output
    query = pictures / PHOTOS[2].name
    result = CliRunner().invoke(app, ["search", str(lib), str(query), "-k", "4", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert [set(h) for h in hits] == [{"file", "frame", "time_s", "person", "distance"}] * 4
    assert hits[0]["file"] == str(query.resolve()) and hits[0]["distance"] < 1e-4
    assert [h["distance"] for h in hits] == sorted(h["distance"] for h in hits)


def test_cli_reports_missing_files_and_prunes_them(pictures, tmp_path, tiny_checkpoint):
    lib = tmp_path / "lib"
    ckpt = ["--checkpoint", str(tiny_checkpoint), "--workers", "1"]
    assert CliRunner().invoke(app, ["index", str(pictures), "-o", str(lib), *ckpt]).exit_code == 0
    (pictures / PHOTOS[3].name).unlink()
    again = CliRunner().invoke(app, ["index", str(pictures), "-o", str(lib), *ckpt])
    assert again.exit_code == 0 and "1 indexed file(s) are missing" in again.output
    pruned = CliRunner().invoke(app, ["index", "-o", str(lib), "--prune", *ckpt])
    assert pruned.exit_code == 0 and f"pruned {pictures.resolve() / PHOTOS[3].name}" in (
        pruned.output.replace("\n", ""))
    assert "9 poses" in pruned.stdout


def test_cli_index_needs_paths_or_prune(tmp_path):
    result = CliRunner().invoke(app, ["index", "--out", str(tmp_path / "lib")])
    assert result.exit_code == 2 and "--prune" in result.output


@pytest.mark.slow
def test_two_worker_processes_build_the_same_library_as_one(pictures, tmp_path, tiny_model,
                                                            detector):
    for picture in list(pictures.iterdir())[3:]:
        picture.unlink()
    write_video(pictures / "clip.avi", [PHOTOS[i % 5] for i in range(6)])
    one = index_paths(tmp_path / "one", [pictures], tiny_model, detector=detector)
    two = index_paths(tmp_path / "two", [pictures], tiny_model, workers=2)
    assert sorted(two.processed) == sorted(one.processed) and two.size == one.size == 9
    assert rows_by_file(PoseLibrary.open(tmp_path / "two")) == rows_by_file(
        PoseLibrary.open(tmp_path / "one"))


@pytest.mark.slow
def test_ray_local_builds_the_same_library_as_one_worker(pictures, tmp_path, tiny_model,
                                                         detector):
    pytest.importorskip("ray")
    for picture in list(pictures.iterdir())[4:]:
        picture.unlink()
    one = index_paths(tmp_path / "one", [pictures], tiny_model, detector=detector)
    on_ray = index_paths(tmp_path / "ray", [pictures], tiny_model, workers=2, ray="local")
    assert on_ray.size == one.size == 4 and not on_ray.failed
    assert rows_by_file(PoseLibrary.open(tmp_path / "ray")) == rows_by_file(
        PoseLibrary.open(tmp_path / "one"))


def test_a_large_library_keeps_its_ivf_index_until_it_changes(tmp_path, monkeypatch):
    monkeypatch.setattr("vvipe_core.index.EXACT_UP_TO", 100)
    rng = np.random.default_rng(3)
    library = PoseLibrary(tmp_path / "lib", 8, "tiny.pt")
    library.add(rng.normal(size=(600, 8)), [Entry(f"/v/{i // 100}.mp4", i % 100, 0.0,
                                                  (0, 0, 1, 1), 0) for i in range(600)])
    library.save()
    query = library.embeddings[123]
    assert library.search(query, 1)[0].entry == library.entries[123]
    assert library.index_kind.startswith("ivf")
    cache = tmp_path / "lib" / "search_index.faiss"
    written = cache.stat().st_mtime_ns
    reopened = PoseLibrary.open(tmp_path / "lib")
    assert reopened.search(query, 1)[0].entry == library.entries[123]
    assert cache.stat().st_mtime_ns == written  # read, not built again
    reopened.add(rng.normal(size=(100, 8)), _entries_of("/v/new.mp4", 100))
    reopened.save()  # the cache is now of an older generation: built again on search
    cache.write_bytes(b"stale")
    again = PoseLibrary.open(tmp_path / "lib")
    assert again.search(again.embeddings[650], 1)[0].entry == again.entries[650]
    assert cache.read_bytes() != b"stale"


def _entries_of(file: str, n: int) -> list[Entry]:
    return [Entry(file, i, i / 30, (0, 0, 1, 1), 0) for i in range(n)]
