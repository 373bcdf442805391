"""Retrieval index over pose embeddings: nearest neighbours by L2 distance, with payloads.

:class:`PoseIndex` wraps a faiss index (exact ``IndexFlatL2`` by default, approximate HNSW for
large galleries) and keeps one *payload* per embedding: any JSON-serialisable value, typically a
small dict such as ``{"video": "walk.mp4", "frame": 12}``, or ``None`` when there is nothing to
attach. Payloads live in a plain Python list aligned with the faiss ids, so id ``i`` is the i-th
embedding ever added and ``index.payloads(ids)`` maps search results back to their metadata.
They go through JSON when saved, so tuples come back as lists and numpy scalars are refused.

Distances are **squared** Euclidean (faiss' convention); take ``np.sqrt`` for plain L2.

On disk an index is a directory holding ``index.faiss`` (``faiss.write_index``) and
``meta.json`` (format version, kind, dimension, payloads). No pickle anywhere.

    idx = PoseIndex(dim=32)                      # or PoseIndex(32, kind="hnsw")
    idx.add(z, payloads=[{"frame": i} for i in range(len(z))])
    dist, ids = idx.search(queries, k=5)         # (Q, k) float32 ascending, (Q, k) int64
    idx.payloads(ids[0])                         # metadata of the first query's neighbours
    idx.save("gallery.idx"); idx = PoseIndex.load("gallery.idx")
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np

from vvipe_core.atomic import write_bytes, write_text
from vvipe_core.errors import VVIPEError

Kind = Literal["flat", "hnsw", "ivf"]
KINDS: tuple[str, ...] = ("flat", "hnsw", "ivf")
_CLASSES = {"flat": faiss.IndexFlatL2, "hnsw": faiss.IndexHNSWFlat, "ivf": faiss.IndexIVFFlat}
# Exact search up to this many embeddings, IVF above (bench/bench_store.py measured the
# crossing and the recall on real pose embeddings; docs/BENCHMARKS.md).
EXACT_UP_TO = 200_000
IVF_NPROBE = 16
# nprobe is tuned to this recall@10 on the index's own rows (see add), never below IVF_NPROBE.
# Queries from other cameras are harder: 0.97 here gave 0.950 on validation queries
# (bench_store), 0.99 gives margin. The floor is for libraries of near-duplicates (a video's
# consecutive frames): their own rows find each other in one cell, and a library of 30k real
# embeddings tiled to 1M tuned to nprobe 1 gave recall@10 0.51 on validation queries.
IVF_RECALL = 0.99
FORMAT_VERSION = 1
INDEX_FILE = "index.faiss"
META_FILE = "meta.json"


class IndexFileError(VVIPEError):
    """An index directory or one of its files is missing, unreadable or inconsistent."""


class PoseIndex:
    """Nearest-neighbour search over float32 embeddings (N, D), each carrying a payload.

    ``kind="flat"`` is exact brute force. ``kind="ivf"`` (faiss ``IndexIVFFlat``) clusters the
    embeddings into ``nlist`` cells on the first add and scans the ``nprobe`` nearest cells. ``kind="hnsw"`` builds a graph (faiss ``IndexHNSWFlat``
    with ``hnsw_m`` links per node) that answers much faster on large galleries at the price of
    occasionally missing a true neighbour; raise ``ef_search`` for better recall. ``hnsw_m``,
    ``ef_construction`` and ``ef_search`` are ignored by the exact index.
    """

    def __init__(
        self,
        dim: int,
        kind: Kind = "flat",
        *,
        hnsw_m: int = 32,
        ef_construction: int = 40,
        ef_search: int = 128,
        nlist: int = 1024,
        nprobe: int = IVF_NPROBE,
    ) -> None:
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        if kind == "flat":
            index: faiss.Index = faiss.IndexFlatL2(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
        elif kind == "ivf":
            # Trained (k-means of `nlist` cells) on the first add; a search scans `nprobe`.
            index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, nlist)
            index.nprobe = nprobe
        else:
            raise ValueError(f"unknown index kind {kind!r}; expected one of {KINDS}")
        self._kind: Kind = kind
        self._index = index
        self._payloads: list[Any] = []

    @classmethod
    def for_size(cls, dim: int, size: int, force: Kind | None = None) -> PoseIndex:
        """Exact up to EXACT_UP_TO embeddings, IVF (sqrt(size) cells, nprobe tuned on the
        first add) above; `force` picks the kind whatever the size."""
        if (force or ("flat" if size <= EXACT_UP_TO else "ivf")) == "flat":
            return cls(dim)
        return cls(dim, "ivf", nlist=max(1, int(np.sqrt(size))), nprobe=0)

    def describe(self) -> str:
        if self._kind == "ivf":
            return f"ivf, {self._index.nlist} cells, nprobe {self._index.nprobe}"
        return self._kind

    def to_bytes(self) -> bytes:
        """The faiss index alone (no payloads), e.g. to cache a built IVF index."""
        return faiss.serialize_index(self._index).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> PoseIndex:
        """An index written by to_bytes (payloads None); ValueError if it is not one."""
        try:
            index = faiss.deserialize_index(np.frombuffer(data, np.uint8))
        except RuntimeError as err:
            raise ValueError(f"not a faiss index ({err})") from err
        kind = next((k for k, c in _CLASSES.items() if type(index) is c), None)
        if kind is None:
            raise ValueError(f"not an index of kind {KINDS}: {type(index).__name__}")
        loaded = cls(index.d, kind, nlist=1)
        loaded._index = index
        loaded._payloads = [None] * index.ntotal
        return loaded

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def kind(self) -> Kind:
        return self._kind

    @property
    def ef_search(self) -> int | None:
        """HNSW search breadth (recall vs speed); ``None`` for exact indexes."""
        return int(self._index.hnsw.efSearch) if self._kind == "hnsw" else None

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        if self._kind != "hnsw":
            raise ValueError("ef_search only applies to kind='hnsw'")
        self._index.hnsw.efSearch = int(value)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def __repr__(self) -> str:
        return f"PoseIndex(dim={self.dim}, kind={self._kind!r}, size={len(self)})"

    def add(self, embeddings: np.ndarray, payloads: Sequence[Any] | None = None) -> np.ndarray:
        """Append embeddings (N, D); returns their new ids (N,) int64.

        ``payloads`` has one JSON-serialisable entry per row (``None`` everywhere if omitted).
        An IVF index is trained on its first add, which must hold at least ``nlist`` rows.
        """
        x = self._as_matrix(embeddings, "embeddings")
        if payloads is None:
            payloads = [None] * len(x)
        elif len(payloads) != len(x):
            raise ValueError(f"{len(payloads)} payloads for {len(x)} embeddings")
        start = len(self)
        tune = not self._index.is_trained and self._index.nprobe == 0
        if not self._index.is_trained:
            # k-means on a sample: faiss wants at least 39 points per cell.
            sample = np.random.default_rng(0).permutation(len(x))[: 64 * self._index.nlist]
            self._index.train(x[sample])
        self._index.add(x)
        if tune:
            self._index.nprobe = _tune_nprobe(self._index, x)
        self._payloads.extend(payloads)
        return np.arange(start, start + len(x), dtype=np.int64)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest embeddings of each query (Q, D).

        Returns ``(distances, ids)``, both (Q, min(k, len(self))): squared L2 distances (float32,
        ascending along each row) and int64 ids. ``k`` larger than the index is clipped to its
        size. HNSW may find fewer than k neighbours; those slots hold id -1 and distance inf.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if len(self) == 0:
            raise ValueError("cannot search an empty index; add embeddings first")
        q = self._as_matrix(queries, "queries")
        distances, ids = self._index.search(q, min(k, len(self)))
        distances[ids < 0] = np.inf  # faiss marks missing results with FLT_MAX
        return distances, ids

    def payloads(self, ids: Sequence[int] | np.ndarray) -> list[Any]:
        """Payloads of a 1-D run of ids (e.g. one row of ``search``'s ids); -1 gives ``None``."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {ids.shape}; pass one row at a time")
        bad = ids[(ids < -1) | (ids >= len(self))]
        if bad.size:
            raise IndexError(f"ids out of range for an index of size {len(self)}: {bad[:5]}")
        return [None if i < 0 else self._payloads[i] for i in ids]

    def save(self, directory: str | Path) -> Path:
        """Write ``index.faiss`` and ``meta.json`` into ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT_VERSION,
            "kind": self._kind,
            "dim": self.dim,
            "size": len(self),
            "payloads": self._payloads,
        }
        # Serialise first so a non-JSON payload fails before any file is touched.
        try:
            text = json.dumps(meta)
        except (TypeError, ValueError) as err:
            raise TypeError(f"payloads must be JSON-serialisable: {err}") from err
        write_bytes(directory / INDEX_FILE, self.to_bytes())
        write_text(directory / META_FILE, text)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> PoseIndex:
        """Read an index written by :meth:`save`; raises :class:`IndexFileError` naming the file."""
        directory = Path(directory)
        if not directory.is_dir():
            raise IndexFileError(directory, "no such index directory")
        meta = _read_meta(directory / META_FILE)
        index_path = directory / INDEX_FILE
        if not index_path.is_file():
            raise IndexFileError(index_path, "file is missing")
        try:
            index = faiss.read_index(str(index_path))
        except RuntimeError as err:  # faiss reports every read failure as RuntimeError
            raise IndexFileError(index_path, f"not a readable faiss index ({err})") from err
        if not isinstance(index, _CLASSES[meta["kind"]]) or index.d != meta["dim"]:
            raise IndexFileError(index_path, f"does not match {META_FILE} (kind, dim)")
        if index.ntotal != meta["size"] or len(meta["payloads"]) != meta["size"]:
            raise IndexFileError(index_path, f"size disagrees with {META_FILE}")
        loaded = cls(meta["dim"], meta["kind"])
        loaded._index = index  # carries its own HNSW parameters, ef_search included
        loaded._payloads = meta["payloads"]
        return loaded

    def _as_matrix(self, x: np.ndarray, name: str) -> np.ndarray:
        """Check shape and values, and give faiss the C-contiguous float32 it requires."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.dim:
            hint = " (use x[None] for a single vector)" if x.ndim == 1 else ""
            raise ValueError(f"{name} must have shape (N, {self.dim}), got {x.shape}{hint}")
        if not np.isfinite(x).all():
            raise ValueError(f"{name} contain NaN or inf")
        return x


def _tune_nprobe(index: faiss.IndexIVFFlat, x: np.ndarray, queries: int = 200) -> int:
    """The fewest cells to scan, from IVF_NPROBE up, for IVF_RECALL recall@10 on `queries` of
    the index's own rows (each query's own row left out of both lists), against exact search."""
    rows = np.random.default_rng(0).permutation(len(x))[:queries]
    _, truth = faiss.knn(x[rows], x, 11)
    nprobe = min(IVF_NPROBE, index.nlist)
    while nprobe < index.nlist:
        index.nprobe = nprobe
        _, found = index.search(x[rows], 11)
        recall = np.mean([len(set(t) & set(f) - {r}) / 10
                          for t, f, r in zip(truth, found, rows)])
        if recall >= IVF_RECALL:
            break
        nprobe *= 2
    return min(nprobe, index.nlist)


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise IndexFileError(path, "file is missing")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise IndexFileError(path, f"unreadable JSON ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        raise IndexFileError(path, f"not an index metadata file of format {FORMAT_VERSION}")
    if meta.get("kind") not in KINDS or not isinstance(meta.get("payloads"), list):
        raise IndexFileError(path, "missing or invalid 'kind' / 'payloads'")
    if not isinstance(meta.get("dim"), int) or not isinstance(meta.get("size"), int):
        raise IndexFileError(path, "missing or invalid 'dim' / 'size'")
    return meta
