"""Your own pose library: every person in a folder of pictures and videos, embedded and
searchable from any camera angle ("find this pose in my videos").

A library is a directory:

    embeddings.npy   (N, D) float32, one row per person per picture or video frame
    library.json     format, embedding size, the checkpoint that embedded them, one entry per
                     row (file, frame, time, box, person) and one record per processed file
                     (size, mtime): a file whose record still matches is never processed again

Indexing streams (one frame at a time), reports progress, can be cancelled and resumes where it
stopped: each file is committed to disk when it is done, so a cancelled run keeps every file it
finished and the next run starts at the first unfinished one. A changed file is processed
again, its old rows replaced.

    lib = PoseLibrary.open_or_create("my_library", model)
    for progress in lib.update(["clips/", "photos/"], model, detector): ...
    hits = lib.search(embed_query(model, "query.jpg"), k=10)
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vvipe_core.api import VVIPE
from vvipe_core.detect import Pose2D, PoseDetector
from vvipe_core.errors import NoPersonFound, VVIPEError
from vvipe_core.images import IMAGE_SUFFIXES, load_image
from vvipe_core.index import PoseIndex
from vvipe_core.lifting import liftable
from vvipe_core.video import VIDEO_SUFFIXES, VideoDetection, read_frame

FORMAT = 1
EMBEDDINGS = "embeddings.npy"
META = "library.json"
SAVE_EVERY_S = 5.0


class LibraryError(VVIPEError):
    """A library directory that cannot be read, or that belongs to another model."""


@dataclass(frozen=True)
class Entry:
    """Where one embedding comes from. `frame` and `time_s` are 0 for pictures."""

    file: str
    frame: int
    time_s: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in the source's pixels
    person: int  # 0 = largest in that picture or frame

    @property
    def is_video(self) -> bool:
        return Path(self.file).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class LibraryHit:
    entry: Entry
    distance: float  # L2 in the embedding


@dataclass(frozen=True)
class Progress:
    files_done: int
    files_total: int
    file: Path | None  # being processed (None once everything is done)
    frames: int  # frames of `file` looked at so far


@dataclass(frozen=True)
class Report:
    processed: list[Path]
    skipped: list[Path]  # unchanged since the last run
    failed: dict[Path, str]  # unreadable files and why
    cancelled: bool
    size: int  # embeddings in the library afterwards


def media_files(paths: Iterable[str | Path]) -> list[Path]:
    """Pictures and videos among `paths`, folders searched recursively, in a stable order."""
    suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*")
                            if p.is_file() and p.suffix.lower() in suffixes)
        elif path.suffix.lower() in suffixes:
            found.append(path)
    return list(dict.fromkeys(p.resolve() for p in found))


def _stamp(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class PoseLibrary:
    def __init__(self, directory: Path, embedding_dim: int, checkpoint: str) -> None:
        self.directory = directory
        self.embedding_dim = embedding_dim
        self.checkpoint = checkpoint
        self.embeddings = np.zeros((0, embedding_dim), dtype=np.float32)
        self.entries: list[Entry] = []
        self.files: dict[str, dict[str, int]] = {}  # resolved path -> size, mtime_ns, rows
        self._index: PoseIndex | None = None  # built on the first search

    def __len__(self) -> int:
        return len(self.entries)

    # -- disk -------------------------------------------------------------------------------
    @classmethod
    def open(cls, directory: str | Path) -> PoseLibrary:
        directory = Path(directory)
        meta_path = directory / META
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            embeddings = np.load(directory / EMBEDDINGS, allow_pickle=False)
        except FileNotFoundError as error:
            raise LibraryError(directory, f"not a pose library ({Path(error.filename).name} "
                               "is missing)") from None
        except (OSError, ValueError) as error:
            raise LibraryError(directory, f"unreadable library ({error})") from None
        if meta.get("format") != FORMAT:
            raise LibraryError(meta_path, f"not a pose library of format {FORMAT}")
        library = cls(directory, int(meta["embedding_dim"]), meta["checkpoint"])
        library.entries = [Entry(**{**e, "box": tuple(e["box"])}) for e in meta["entries"]]
        # Rows written after the last commit (an interrupted save) are not part of it.
        library.embeddings = embeddings[: len(library.entries)].astype(np.float32)
        library.files = meta["files"]
        return library

    @classmethod
    def open_or_create(cls, directory: str | Path, model: VVIPE) -> PoseLibrary:
        """The library at `directory` (it must have been embedded by a model of the same
        embedding size), or a new empty one."""
        directory = Path(directory)
        if not (directory / META).exists():
            return cls(directory, model.embedding_dim, model.source)
        library = cls.open(directory)
        if library.embedding_dim != model.embedding_dim:
            raise LibraryError(directory, f"built with {library.checkpoint} "
                               f"({library.embedding_dim}-D), not with this model "
                               f"({model.embedding_dim}-D)")
        return library

    def save(self) -> None:
        """Embeddings first, then the metadata that says how many rows count (the commit)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "embedding_dim": self.embedding_dim,
                "checkpoint": self.checkpoint, "entries": [asdict(e) for e in self.entries],
                "files": self.files}
        _write_atomic(self.directory / EMBEDDINGS, lambda f: np.save(f, self.embeddings))
        _write_atomic(self.directory / META, lambda f: f.write(json.dumps(meta).encode()))

    # -- indexing ---------------------------------------------------------------------------
    def pending(self, files: list[Path]) -> list[Path]:
        """Files that are new or changed since they were processed."""
        def unchanged(path: Path) -> bool:
            record = self.files.get(str(path), {})
            return {k: record.get(k) for k in ("size", "mtime_ns")} == _stamp(path)

        return [f for f in files if not unchanged(f)]

    def update(
        self, paths: Iterable[str | Path], model: VVIPE, detector: PoseDetector, stride: int = 1
    ) -> Iterator[Progress]:
        """Process the new and changed files among `paths`; yields progress as it goes (stop
        iterating to cancel: the file in progress is dropped, the finished ones are saved).

        Finished files are saved at most every SAVE_EVERY_S seconds (a save rewrites the whole
        library: about a second at 100k poses) and when the iteration ends or is stopped."""
        todo = self.pending(media_files(paths))
        last_save, unsaved = time.monotonic(), False
        try:
            for done, path in enumerate(todo):
                yield from self._process(path, done, len(todo), model, detector, stride)
                unsaved = True
                if time.monotonic() - last_save > SAVE_EVERY_S:
                    self.save()
                    last_save, unsaved = time.monotonic(), False
            yield Progress(len(todo), len(todo), None, 0)
        finally:
            if unsaved or not (self.directory / META).exists():
                self.save()

    def _process(
        self, path: Path, done: int, total: int, model: VVIPE, detector: PoseDetector,
        stride: int,
    ) -> Iterator[Progress]:
        """One file into the library (in memory), all of it or nothing."""
        yield Progress(done, total, path, 0)
        entries, keypoints, error = [], [], None
        try:
            for frames, people in enumerate(_people(path, detector, stride), 1):
                for entry, person in people:
                    if liftable(person.keypoints[None])[0]:
                        entries.append(entry)
                        keypoints.append(person.keypoints)
                if frames % 10 == 0:
                    yield Progress(done, total, path, frames)
        except VVIPEError as failure:  # an unreadable file is recorded, not fatal
            entries, keypoints, error = [], [], failure.reason
        rows = model.embed_2d(np.stack(keypoints)) if keypoints else None
        self.add(rows, entries, replace=str(path) if str(path) in self.files else None)
        self.files[str(path)] = {**_stamp(path), "rows": len(entries), "error": error}

    def add(
        self, embeddings: np.ndarray | None, entries: list[Entry], replace: str | None = None
    ) -> None:
        """Append rows (dropping those of the file `replace` first)."""
        if replace is not None:
            keep = np.array([e.file != replace for e in self.entries], dtype=bool)
            self.embeddings = self.embeddings[keep] if len(keep) else self.embeddings
            self.entries = [e for e, k in zip(self.entries, keep) if k]
        if embeddings is not None and len(entries):
            self.embeddings = np.concatenate([self.embeddings, np.asarray(embeddings, np.float32)])
            self.entries += entries
        self._index = None

    # -- search -----------------------------------------------------------------------------
    def search(self, embedding: np.ndarray, k: int = 10) -> list[LibraryHit]:
        """The k nearest rows to one embedding (D,), nearest first."""
        if not self.entries:
            return []
        if self._index is None:
            self._index = PoseIndex(self.embedding_dim)
            self._index.add(self.embeddings)
        distances, ids = self._index.search(np.asarray(embedding, np.float32)[None], k)
        return [LibraryHit(self.entries[i], float(np.sqrt(d)))
                for d, i in zip(distances[0], ids[0]) if i >= 0]


def _people(
    path: Path, detector: PoseDetector, stride: int
) -> Iterator[list[tuple[Entry, Pose2D]]]:
    """Everyone in a picture, or in every `stride`-th frame of a video: one list per frame."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        for result in VideoDetection(path, detector, stride=stride):
            yield [(Entry(str(path), result.index, result.time_s, pose.box, i), pose)
                   for i, pose in enumerate(result.poses)]
    else:
        yield [(Entry(str(path), 0, 0.0, pose.box, i), pose)
               for i, pose in enumerate(detector.detect(path))]


def _write_atomic(path: Path, write: Callable[[Any], None]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)


def index_paths(
    directory: str | Path, paths: Iterable[str | Path], model: VVIPE, *, stride: int = 1,
    detector: PoseDetector | None = None,
    progress: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None,
) -> Report:
    """Add the new and changed pictures and videos of `paths` to the library at `directory`."""
    library = PoseLibrary.open_or_create(directory, model)
    files = media_files(paths)
    todo = library.pending(files)
    owned = detector is None
    detector = detector or PoseDetector()
    cancelled = False
    try:
        with closing(library.update(files, model, detector, stride)) as steps:
            for step in steps:
                if progress is not None:
                    progress(step)
                if cancel is not None and cancel.is_set():
                    cancelled = True  # the file in progress is dropped; the others are saved
                    break
    finally:
        if owned:
            detector.close()
    still = set(library.pending(todo))
    failed = {f: error for f in todo if (error := library.files.get(str(f), {}).get("error"))}
    return Report([f for f in todo if f not in still], [f for f in files if f not in todo],
                  failed, cancelled, len(library))


def embed_query(
    model: VVIPE, query: str | Path | np.ndarray, detector: PoseDetector | None = None
) -> np.ndarray:
    """A query's embedding (D,): a picture (its largest person), 2D keypoints (17|13, 2)
    in pixels, or a 3D pose (17, 3) in any frame and unit."""
    if isinstance(query, np.ndarray):
        return (model.embed_3d if query.shape[-1] == 3 else model.embed_2d)(query[None])[0]
    owned = detector is None
    detector = detector or PoseDetector()
    try:
        person = detector.detect_person(query)
    finally:
        if owned:
            detector.close()
    if not liftable(person.keypoints[None])[0]:
        raise NoPersonFound(Path(query), "too few of the shoulders and hips are visible")
    return model.embed_2d(person.keypoints[None])[0]


def source_picture(entry: Entry, max_side: int = 320) -> np.ndarray:
    """The picture or video frame an entry comes from (RGB, downscaled), for thumbnails."""
    if entry.is_video:
        return read_frame(entry.file, entry.frame, max_side)
    return load_image(entry.file, max_side).rgb
