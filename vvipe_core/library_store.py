"""The pose library on disk: one SQLite database (WAL), one row per processed file holding that
file's stamp, its sources and its embeddings together.

A file's row is written in one transaction, so embeddings and sources can never disagree and a
crash (kill -9, power loss) loses at most the file in flight: SQLite rolls an unfinished
transaction back when the database is next opened. A file processed again replaces its row.

    files(path TEXT PRIMARY KEY, size, mtime_ns, rows, error, sources BLOB, embeddings BLOB)
    meta(key TEXT PRIMARY KEY, value TEXT)   format, embedding_dim, checkpoint, generation

`sources` is a packed numpy array of SOURCE_DTYPE (frame, time, box, person) and `embeddings`
float32 (rows, D): opening a library of a million poses reads a few thousand blobs, not a
million rows. Opening validates every row and raises LibraryError naming what is wrong.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vvipe_core.errors import VVIPEError

FORMAT = 2
DATABASE = "library.sqlite"
SOURCE_DTYPE = np.dtype([("frame", "<i8"), ("time_s", "<f8"), ("box", "<f4", (4,)),
                         ("person", "<i4")])

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    rows INTEGER NOT NULL, error TEXT, sources BLOB NOT NULL, embeddings BLOB NOT NULL);
"""


class LibraryError(VVIPEError):
    """A library directory that cannot be read, or that belongs to another model."""


@dataclass(frozen=True)
class FileStamp:
    """A processed file as opening lists it: its stamp, its number of rows, its error."""

    path: str
    size: int
    mtime_ns: int
    rows: int
    error: str | None


@dataclass(frozen=True)
class FileRecord:
    """One processed file: its stamp when processed and what came out of it."""

    path: str
    size: int
    mtime_ns: int
    error: str | None
    sources: np.ndarray  # (rows,) SOURCE_DTYPE
    embeddings: np.ndarray  # (rows, D) float32


class LibraryStore:
    """The SQLite database of one library directory. Not thread-safe: one writer at a time."""

    def __init__(self, connection: sqlite3.Connection, path: Path, embedding_dim: int,
                 checkpoint: str, generation: int, notes: dict[str, str]) -> None:
        self._db = connection
        self.path = path
        self.embedding_dim = embedding_dim
        self.checkpoint = checkpoint
        self.generation = generation  # +1 with every change of the files table
        self.notes = notes  # the other meta values (e.g. which generation a cache is of)

    @classmethod
    def exists(cls, directory: Path) -> bool:
        return (directory / DATABASE).is_file()

    @classmethod
    def create(cls, directory: Path, embedding_dim: int, checkpoint: str) -> LibraryStore:
        """A new, empty library. The database is made whole under a temporary name and then
        linked into place, so that no one ever opens a half-made one (a cancelled run that
        is still starting, a second run beside it); if another run got there first, its
        library is the one opened."""
        path = directory / DATABASE
        try:
            directory.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=directory, prefix=f".{DATABASE}.", suffix=".tmp")
            os.close(handle)
            try:
                with closing(sqlite3.connect(name)) as db, db:
                    db.executescript(_SCHEMA)
                    db.executemany("INSERT INTO meta VALUES (?, ?)", [
                        ("format", str(FORMAT)), ("embedding_dim", str(embedding_dim)),
                        ("checkpoint", checkpoint), ("generation", "0")])
                with contextlib.suppress(FileExistsError):
                    os.link(name, path)  # atomic, and never over an existing library
            finally:
                os.remove(name)
        except (OSError, sqlite3.Error) as error:
            raise LibraryError(path, f"cannot create the library ({error})") from None
        return cls.open(directory)

    @classmethod
    def open(cls, directory: Path) -> LibraryStore:
        path = directory / DATABASE
        if not path.is_file():
            raise LibraryError(directory, f"not a pose library ({DATABASE} is missing)")
        if path.stat().st_size == 0:
            raise LibraryError(path, "empty file: not a pose library")
        try:
            db = _connect(path)
            meta = dict(db.execute("SELECT key, value FROM meta"))
        except sqlite3.Error as error:
            raise LibraryError(path, f"not a readable pose library ({error})") from None
        if meta.get("format") != str(FORMAT):
            db.close()
            raise LibraryError(path, f"not a pose library of format {FORMAT} "
                               f"(format {meta.get('format')})")
        try:
            embedding_dim = int(meta.pop("embedding_dim"))
            checkpoint = meta.pop("checkpoint")
            generation = int(meta.pop("generation"))
        except (KeyError, ValueError):
            db.close()
            raise LibraryError(path, "damaged: no embedding size, checkpoint or generation"
                               ) from None
        return cls(db, path, embedding_dim, checkpoint, generation, meta)

    def close(self) -> None:
        self._db.close()

    def load(self) -> tuple[list[FileStamp], np.ndarray, np.ndarray]:
        """Every file in the order it was (last) processed, and all their sources (N,) and
        embeddings (N, D) in that order, each read in one piece (a copy per blob would double
        the time at a million poses). LibraryError on a row that does not hold what it says."""
        try:
            rows = self._db.execute("SELECT path, size, mtime_ns, rows, error, sources, "
                                    "embeddings FROM files ORDER BY rowid").fetchall()
        except sqlite3.Error as error:
            raise LibraryError(self.path, f"damaged ({error})") from None
        for path, _, _, count, _, sources, embeddings in rows:
            if (not isinstance(sources, bytes) or not isinstance(embeddings, bytes)
                    or len(sources) != count * SOURCE_DTYPE.itemsize
                    or len(embeddings) != count * self.embedding_dim * 4):
                raise LibraryError(self.path, f"damaged: the row of {path} does not hold "
                                   f"{count} sources and {count} embeddings")
        stamps = [FileStamp(*row[:5]) for row in rows]
        sources = np.frombuffer(b"".join(row[5] for row in rows), SOURCE_DTYPE)
        embeddings = np.frombuffer(b"".join(row[6] for row in rows), "<f4")
        return stamps, sources, embeddings.reshape(len(sources), self.embedding_dim)

    def put(self, record: FileRecord) -> None:
        """Commit one file (replacing an earlier row of the same path) in one transaction."""
        with self._writing():
            # DELETE then INSERT: the row gets a new rowid, so the file moves to the end.
            self._db.execute("DELETE FROM files WHERE path = ?", (record.path,))
            self._insert(record)

    def _insert(self, record: FileRecord) -> None:
        sources = np.ascontiguousarray(record.sources, SOURCE_DTYPE)
        embeddings = np.ascontiguousarray(record.embeddings, "<f4")
        if embeddings.shape != (len(sources), self.embedding_dim):
            raise ValueError(f"{len(sources)} sources for embeddings of shape {embeddings.shape}")
        self._db.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", (
            record.path, record.size, record.mtime_ns, len(sources), record.error,
            sources.tobytes(), embeddings.tobytes()))

    def replace_all(self, records: list[FileRecord]) -> None:
        """Every file at once, in one transaction (a migration)."""
        with self._writing():
            self._db.execute("DELETE FROM files")
            for record in records:
                self._insert(record)

    def remove(self, paths: list[str]) -> None:
        with self._writing():
            self._db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])

    def rename(self, old: str, new: str) -> None:
        with self._writing():
            self._db.execute("UPDATE files SET path = ? WHERE path = ?", (new, old))

    def note(self, key: str, value: str) -> None:
        """Keep a meta value that is not part of the library (the generation stays)."""
        try:
            with self._db:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        except sqlite3.Error as error:
            raise LibraryError(self.path, f"cannot write ({error})") from None
        self.notes[key] = value

    @contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            with self._db:  # one transaction: committed on success, rolled back on error
                yield
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'generation'",
                                 (str(self.generation + 1),))
        except sqlite3.Error as error:
            raise LibraryError(self.path, f"cannot write ({error})") from None
        self.generation += 1


def _connect(path: Path) -> sqlite3.Connection:
    # No integrity check here (it reads the whole file, seconds at a million poses): opening
    # reads every row anyway, and SQLite reports a damaged page when it meets one.
    db = sqlite3.connect(path, isolation_level="DEFERRED", check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        # FULL: a committed file survives a power loss too, not only a killed process.
        db.execute("PRAGMA synchronous = FULL")
    except sqlite3.Error:
        db.close()
        raise
    return db
