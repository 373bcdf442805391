"""Your own pose library: every person in a folder of pictures and videos, embedded and
searchable from any camera angle ("find this pose in my videos").

A library is a directory holding one SQLite database (library_store.py): one row per processed
file with its stamp (size, mtime), its sources (frame, time, box, person) and its embeddings,
committed in one transaction when the file is done. A crash loses at most the files in flight;
the next run starts at the first unfinished one, and a file whose stamp still matches is never
processed again. A changed file is processed again, its old rows replaced. Files that have
disappeared are reported (`missing`) and dropped by `prune`; a file that moved (same name, size
and mtime at a new place) keeps its rows under its new path without being processed again.

Detection runs in this process, in worker processes (`workers=N`, one MediaPipe each) or on a
Ray cluster (`ray="local"` or an address); this process embeds and commits (library_workers.py).

    lib = PoseLibrary.open_or_create("my_library", model)
    for progress in lib.update(["clips/", "photos/"], model, detector): ...
    report = index_paths("my_library", ["clips/"], model, workers=2, cancel=event)
    hits = lib.search(embed_query(model, "query.jpg"), k=10)
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vvipe_core.atomic import write_bytes
from vvipe_core.detect import PoseDetector
from vvipe_core.errors import NoPersonFound
from vvipe_core.images import IMAGE_SUFFIXES, load_image
from vvipe_core.index import PoseIndex
from vvipe_core.library_store import (
    DATABASE,
    SOURCE_DTYPE,
    FileRecord,
    LibraryError,
    LibraryStore,
)
from vvipe_core.library_workers import Detected, Heartbeat, detections
from vvipe_core.lifting import liftable
from vvipe_core.video import VIDEO_SUFFIXES, read_frame

if TYPE_CHECKING:  # the model's users pass one in: importing torch is theirs to do
    from vvipe_core.api import VVIPE

__all__ = ["DATABASE", "Entry", "LibraryError", "LibraryHit", "PoseLibrary", "Progress",
           "Report", "embed_query", "index_paths", "media_files", "source_picture"]

OLD_META, OLD_EMBEDDINGS = "library.json", "embeddings.npy"  # format 1, migrated on open
# A built approximate (IVF) search index, kept so that opening a large library does not build
# it again; valid for the store generation noted under SEARCH_INDEX in the database.
SEARCH_INDEX = "search_index.faiss"


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
    missing: list[Path] = field(default_factory=list)  # in the library, gone from the disk
    moved: dict[Path, Path] = field(default_factory=dict)  # old path -> new path
    pruned: list[Path] = field(default_factory=list)  # missing files dropped (prune=True)


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


class Entries(Sequence[Entry]):
    """The sources of a library's rows as Entry objects, made on access (a million-pose
    library keeps them as arrays)."""

    def __init__(self, paths: list[str], file_ids: np.ndarray, sources: np.ndarray) -> None:
        self._paths, self._file_ids, self._sources = paths, file_ids, sources

    def __len__(self) -> int:
        return len(self._sources)

    def __getitem__(self, i):  # an int or a slice, as for any Sequence
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        s = self._sources[i]
        return Entry(self._paths[self._file_ids[i]], int(s["frame"]), float(s["time_s"]),
                     tuple(float(v) for v in s["box"]), int(s["person"]))


class PoseLibrary:
    def __init__(self, directory: str | Path, embedding_dim: int, checkpoint: str) -> None:
        self.directory = Path(directory)
        self.embedding_dim = embedding_dim
        self.checkpoint = checkpoint
        self.files: dict[str, dict] = {}  # resolved path -> size, mtime_ns, rows, error
        self._paths: list[str] = []  # file ids -> paths
        self._ids: dict[str, int] = {}
        # Rows as parts (file ids, sources, embeddings), joined on access: adding a file to a
        # million-pose library does not copy the million.
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._dirty: set[str] = set()  # files changed in memory since the last save
        self._index: PoseIndex | None = None  # built on the first search, grown by adds
        self.moves: dict[Path, Path] = {}  # files the last update found moved: old -> new
        self._generation: int | None = None  # the store's, while memory matches it
        self._cached_index: int | None = None  # the generation SEARCH_INDEX was built for

    def __len__(self) -> int:
        return sum(len(part[1]) for part in self._parts)

    @property
    def embeddings(self) -> np.ndarray:
        return self._joined()[2]

    @property
    def entries(self) -> Entries:
        file_ids, sources, _ = self._joined()
        return Entries(self._paths, file_ids, sources)

    def _joined(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if len(self._parts) != 1:
            parts = self._parts or [(np.zeros(0, np.int32), np.zeros(0, SOURCE_DTYPE),
                                     np.zeros((0, self.embedding_dim), np.float32))]
            self._parts = [tuple(np.concatenate(column) for column in zip(*parts))]
        return self._parts[0]

    # -- disk -------------------------------------------------------------------------------
    @classmethod
    def open(cls, directory: str | Path) -> PoseLibrary:
        """Read a library; LibraryError names what is wrong with a damaged one."""
        directory = Path(directory)
        if (directory / OLD_META).exists():
            _migrate(directory)
        with closing(LibraryStore.open(directory)) as store:
            library = cls(directory, store.embedding_dim, store.checkpoint)
            stamps, sources, embeddings = store.load()
            library._paths = [stamp.path for stamp in stamps]
            library._ids = {path: i for i, path in enumerate(library._paths)}
            library.files = {s.path: {"size": s.size, "mtime_ns": s.mtime_ns, "rows": s.rows,
                                      "error": s.error} for s in stamps}
            file_ids = np.repeat(np.arange(len(stamps), dtype=np.int32),
                                 [s.rows for s in stamps])
            # Read-only views of the blobs; rows are only ever added or dropped by copying.
            library._parts = [(file_ids, sources, embeddings)]
            library._synced(store)
            cached = store.notes.get(SEARCH_INDEX)
            library._cached_index = int(cached) if cached and cached.isdigit() else None
        return library

    @classmethod
    def open_or_create(cls, directory: str | Path, model: VVIPE) -> PoseLibrary:
        """The library at `directory` (it must have been embedded by a model of the same
        embedding size), or a new empty one."""
        directory = Path(directory)
        if not LibraryStore.exists(directory) and not (directory / OLD_META).exists():
            return cls(directory, model.embedding_dim, model.source)
        library = cls.open(directory)
        if library.embedding_dim != model.embedding_dim:
            raise LibraryError(directory, f"built with {library.checkpoint} "
                               f"({library.embedding_dim}-D), not with this model "
                               f"({model.embedding_dim}-D)")
        return library

    def _store(self) -> LibraryStore:
        if LibraryStore.exists(self.directory):
            return LibraryStore.open(self.directory)
        return LibraryStore.create(self.directory, self.embedding_dim, self.checkpoint)

    def save(self) -> None:
        """Commit the files changed in memory (by `add`), one transaction each. Indexing
        commits each file itself: this is for libraries filled through `add`."""
        with closing(self._store()) as store:
            for path in sorted(self._dirty):
                store.put(self._record(path)) if path in self.files else store.remove([path])
            self._dirty.clear()
            self._synced(store)

    def _synced(self, store: LibraryStore) -> None:
        """Memory now holds what the store holds (unless `add` left files unsaved)."""
        self._generation = None if self._dirty else store.generation

    def _record(self, path: str) -> FileRecord:
        """A file's rows, gathered from the parts (joining them would copy the library)."""
        file_id, stamp = self._ids[path], self.files[path]
        rows = [(sources[ids == file_id], embeddings[ids == file_id])
                for ids, sources, embeddings in self._parts]
        return FileRecord(path, stamp["size"], stamp["mtime_ns"], stamp.get("error"),
                          np.concatenate([r[0] for r in rows]),
                          np.concatenate([r[1] for r in rows]))

    def _put(self, record: FileRecord) -> None:
        """A file's rows into memory, replacing any it had."""
        if record.path in self.files:
            self._drop([record.path])
        file_id = self._ids.setdefault(record.path, len(self._paths))
        if file_id == len(self._paths):
            self._paths.append(record.path)
        self.files[record.path] = {"size": record.size, "mtime_ns": record.mtime_ns,
                                   "rows": len(record.sources), "error": record.error}
        self._parts.append((np.full(len(record.sources), file_id, np.int32), record.sources,
                            np.asarray(record.embeddings, np.float32)))
        if self._index is not None and len(record.sources):
            self._index.add(record.embeddings)

    def _drop(self, paths: Iterable[str]) -> None:
        ids = [self._ids[p] for p in paths if p in self._ids]
        for path in paths:
            self.files.pop(path, None)
        file_ids, sources, embeddings = self._joined()
        keep = ~np.isin(file_ids, ids)
        if not keep.all():
            self._parts = [(file_ids[keep], sources[keep], embeddings[keep])]
            self._index = None

    # -- indexing ---------------------------------------------------------------------------
    def pending(self, files: list[Path]) -> list[Path]:
        """Files that are new or changed since they were processed."""
        def unchanged(path: Path) -> bool:
            record = self.files.get(str(path), {})
            return {k: record.get(k) for k in ("size", "mtime_ns")} == _stamp(path)

        return [f for f in files if not unchanged(f)]

    def missing(self) -> list[Path]:
        """Files of the library that are no longer where they were indexed."""
        return [Path(p) for p in self.files if not Path(p).exists()]

    def prune(self) -> list[Path]:
        """Drop the rows of every missing file; returns those files."""
        gone = self.missing()
        if gone:
            with closing(self._store()) as store:
                store.remove([str(p) for p in gone])
                self._drop([str(p) for p in gone])
                self._synced(store)
        return gone

    def _follow_moves(self, todo: list[Path]) -> dict[Path, Path]:
        """New files that are missing ones moved (same name, size and mtime): their rows are
        kept under the new path instead of processing them again."""
        gone = {(p.name, self.files[str(p)]["size"], self.files[str(p)]["mtime_ns"]): p
                for p in self.missing()}
        moved = {}
        for path in todo:
            stamp = _stamp(path)
            old = gone.pop((path.name, stamp["size"], stamp["mtime_ns"]), None)
            if old is not None and str(path) not in self.files:
                moved[old] = path
        if moved:
            with closing(self._store()) as store:
                for old, new in moved.items():
                    store.rename(str(old), str(new))
                    self._rename(str(old), str(new))
                self._synced(store)
        return moved

    def _rename(self, old: str, new: str) -> None:
        file_id = self._ids.pop(old)
        self._paths[file_id] = new
        self._ids[new] = file_id
        self.files[new] = self.files.pop(old)

    def update(
        self, paths: Iterable[str | Path], model: VVIPE, detector: PoseDetector | None = None,
        stride: int = 1, *, workers: int = 1, ray: str | None = None,
    ) -> Iterator[Progress]:
        """Process the new and changed files among `paths`; yields progress as it goes (stop
        iterating to cancel: the files in flight are dropped, each finished one is already
        committed). Detection runs here (`detector`), in `workers` processes or on Ray."""
        todo = self.pending(media_files(paths))
        self.moves = self._follow_moves(todo)
        todo = [p for p in todo if p not in self.moves.values()]
        done = 0
        with closing(self._store()) as store, closing(detections(
                todo, stride, detector=detector, workers=workers, ray=ray)) as events:
            for event in events:
                if isinstance(event, Heartbeat):
                    yield Progress(done, len(todo), event.file, event.frames)
                else:
                    self.commit(store, model, event)
                    done += 1
                    yield Progress(done, len(todo), Path(event.path), 0)

    def commit(self, store: LibraryStore, model: VVIPE, detected: Detected) -> None:
        """One detected file: embed its people and commit it (one transaction)."""
        embeddings = (model.embed_2d(detected.keypoints) if len(detected.keypoints)
                      else np.zeros((0, self.embedding_dim), np.float32))
        record = FileRecord(detected.path, detected.size, detected.mtime_ns, detected.error,
                            detected.sources, embeddings)
        store.put(record)
        self._put(record)
        self._dirty.discard(record.path)
        self._synced(store)

    def add(
        self, embeddings: np.ndarray | None, entries: list[Entry], replace: str | None = None
    ) -> None:
        """Append rows in memory (dropping those of the file `replace` first); `save` commits.
        Files added this way have no stamp: indexing them would process them again."""
        self._generation = None  # memory is ahead of the store until `save`
        if replace is not None:
            self._drop([replace])
            self._dirty.add(replace)
        if embeddings is None or not len(entries):
            return
        embeddings = np.asarray(embeddings, np.float32)
        files = [e.file for e in entries]
        for path in dict.fromkeys(files):
            if path not in self.files:
                self._ids.setdefault(path, len(self._paths))
                if self._ids[path] == len(self._paths):
                    self._paths.append(path)
                self.files[path] = {"size": -1, "mtime_ns": -1, "rows": 0, "error": None}
            self._dirty.add(path)
        sources = np.array([(e.frame, e.time_s, e.box, e.person) for e in entries], SOURCE_DTYPE)
        self._parts.append((np.array([self._ids[f] for f in files], np.int32), sources,
                            embeddings))
        for path, count in zip(*np.unique(files, return_counts=True)):
            self.files[str(path)]["rows"] += int(count)
        if self._index is not None:
            self._index.add(embeddings)

    # -- search -----------------------------------------------------------------------------
    def search(self, embedding: np.ndarray, k: int = 10) -> list[LibraryHit]:
        """The k nearest rows to one embedding (D,), nearest first."""
        if not len(self):
            return []
        if self._index is None:
            self._index = self._cached_search_index() or PoseIndex.for_size(
                self.embedding_dim, len(self))
            if not len(self._index):
                self._index.add(self.embeddings)
                self.keep_search_index()
        distances, ids = self._index.search(np.asarray(embedding, np.float32)[None], k)
        entries = self.entries
        return [LibraryHit(entries[i], float(np.sqrt(d)))
                for d, i in zip(distances[0], ids[0]) if i >= 0]


    @property
    def index_kind(self) -> str:
        """How search works now: "flat" (exact), "ivf, N cells, nprobe P", or "none" before the
        first search."""
        return "none" if self._index is None else self._index.describe()

    def keep_search_index(self) -> None:
        """Write a built approximate index beside the store (exact ones are rebuilt in no
        time), so the next opening of the same library searches at once."""
        if self._index is None or self._index.kind == "flat" or self._generation is None:
            return
        with closing(self._store()) as store:
            if store.generation == self._generation:
                write_bytes(self.directory / SEARCH_INDEX, self._index.to_bytes())
                store.note(SEARCH_INDEX, str(self._generation))
                self._cached_index = self._generation

    def _cached_search_index(self) -> PoseIndex | None:
        path = self.directory / SEARCH_INDEX
        if self._cached_index is None or self._cached_index != self._generation:
            return None
        try:
            index = PoseIndex.from_bytes(path.read_bytes())
        except (OSError, ValueError):
            return None  # a cache: rebuilt when unreadable
        return index if len(index) == len(self) and index.dim == self.embedding_dim else None


def _migrate(directory: Path) -> None:
    """A format-1 library (library.json + embeddings.npy) into the database, in one
    transaction; the old files are kept, renamed *.format1. Refused when its rows and sources
    disagree (a crash of the old writer): that library must be rebuilt."""
    meta_path = directory / OLD_META
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        embeddings = np.load(directory / OLD_EMBEDDINGS, allow_pickle=False)
        entries, files = meta["entries"], meta["files"]
        dim, checkpoint = int(meta["embedding_dim"]), str(meta["checkpoint"])
        rows = [(e["file"], (e["frame"], e["time_s"], tuple(e["box"]), e["person"]))
                for e in entries]
        stamps = {path: (int(f["size"]), int(f["mtime_ns"]), f.get("error"), int(f["rows"]))
                  for path, f in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise LibraryError(meta_path, f"an old (format 1) library that cannot be read "
                           f"({type(error).__name__}: {error}); index again into a new "
                           "directory") from None
    counts = {path: sum(1 for f, _ in rows if f == path) for path in stamps}
    if (embeddings.ndim != 2 or embeddings.shape != (len(entries), dim)
            or any(counts[p] != stamps[p][3] for p in stamps)
            or any(f not in stamps for f, _ in rows)):
        raise LibraryError(meta_path, f"an old (format 1) library whose embeddings "
                           f"({embeddings.shape}) and {len(entries)} sources disagree; index "
                           "again into a new directory")
    files_of = np.array([f for f, _ in rows], dtype=object)
    sources = np.array([s for _, s in rows], SOURCE_DTYPE)
    records = [FileRecord(path, size, mtime_ns, error, sources[files_of == path],
                          embeddings[files_of == path])
               for path, (size, mtime_ns, error, _) in stamps.items()]
    store = (LibraryStore.open(directory) if LibraryStore.exists(directory)
             else LibraryStore.create(directory, dim, checkpoint))
    with closing(store):
        store.replace_all(records)
    for name in (OLD_META, OLD_EMBEDDINGS):
        (directory / name).replace(directory / f"{name}.format1")


def index_paths(
    directory: str | Path, paths: Iterable[str | Path], model: VVIPE, *, stride: int = 1,
    detector: PoseDetector | None = None,
    progress: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None,
    workers: int = 1, ray: str | None = None, prune: bool = False,
) -> Report:
    """Add the new and changed pictures and videos of `paths` to the library at `directory`
    (detection in `workers` processes, or on Ray at `ray`: "local" or a cluster address);
    `prune` drops the files that have disappeared. Setting `cancel` stops soon after: the
    files in flight are dropped, the finished ones are kept."""
    library = PoseLibrary.open_or_create(directory, model)
    files = media_files(paths)
    todo = library.pending(files)
    cancelled = False
    with closing(library.update(files, model, detector, stride, workers=workers,
                                ray=ray)) as steps:
        for step in steps:
            if progress is not None:
                progress(step)
            if cancel is not None and cancel.is_set():
                cancelled = True  # the files in flight are dropped; the others are committed
                break
    moved = library.moves
    pruned = library.prune() if prune and not cancelled else []
    library.keep_search_index()
    still = set(library.pending([f for f in todo if f.exists()]))
    failed = {f: error for f in todo if (error := library.files.get(str(f), {}).get("error"))}
    return Report([f for f in todo if f not in still and f not in moved.values()],
                  [f for f in files if f not in todo], failed, cancelled, len(library),
                  library.missing(), moved, pruned)


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
