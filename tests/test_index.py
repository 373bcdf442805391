"""PoseIndex: exact search equals brute force, save/load round-trips, HNSW recall, errors."""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from vvipe_core.errors import VVIPEError
from vvipe_core.index import IndexFileError, PoseIndex

# Two cores are shared by the whole suite: no oversubscription (as conftest does for torch).
faiss.omp_set_num_threads(1)

DIM = 16


def _random(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def _brute_force(gallery: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Squared L2 in float64, stable sort: the reference the index must reproduce."""
    d = ((queries[:, None, :].astype(np.float64) - gallery[None, :, :]) ** 2).sum(-1)
    ids = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, ids, axis=1), ids


@pytest.fixture
def gallery_index() -> tuple[PoseIndex, np.ndarray]:
    gallery = _random(500, seed=0)
    index = PoseIndex(DIM)
    index.add(gallery[:200], payloads=[{"frame": i, "clip": "a"} for i in range(200)])
    index.add(gallery[200:], payloads=[{"frame": i, "clip": "b"} for i in range(300)])
    return index, gallery


def test_exact_search_matches_brute_force(gallery_index: tuple[PoseIndex, np.ndarray]) -> None:
    index, gallery = gallery_index
    queries = _random(40, seed=1)
    distances, ids = index.search(queries, k=10)
    ref_distances, ref_ids = _brute_force(gallery, queries, k=10)
    assert ids.dtype == np.int64 and distances.dtype == np.float32
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(distances, ref_distances, rtol=1e-4, atol=1e-4)
    assert (np.diff(distances, axis=1) >= 0).all()


def test_ids_follow_insertion_order_and_map_to_payloads(
    gallery_index: tuple[PoseIndex, np.ndarray],
) -> None:
    index, gallery = gallery_index
    assert len(index) == 500
    _, ids = index.search(gallery[[3, 250]], k=1)
    assert ids[:, 0].tolist() == [3, 250]
    assert index.payloads(ids[:, 0]) == [{"frame": 3, "clip": "a"}, {"frame": 50, "clip": "b"}]
    assert index.add(_random(2, seed=5)).tolist() == [500, 501]
    assert index.payloads([500, -1]) == [None, None]


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_save_load_round_trip(kind: str, tmp_path: Path) -> None:
    index = PoseIndex(DIM, kind=kind, ef_search=40, nlist=8)
    payloads = [{"name": f"p{i}", "tags": [i, None]} for i in range(300)]
    index.add(_random(300, seed=2), payloads=payloads)
    queries = _random(20, seed=3)
    before = index.search(queries, k=7)

    loaded = PoseIndex.load(index.save(tmp_path / "gallery"))
    after = loaded.search(queries, k=7)
    assert (loaded.kind, loaded.dim, len(loaded)) == (kind, DIM, 300)
    assert loaded.ef_search == index.ef_search
    np.testing.assert_array_equal(after[1], before[1])
    np.testing.assert_array_equal(after[0], before[0])
    assert loaded.payloads(after[1][0]) == index.payloads(before[1][0])


def test_hnsw_recall_at_10() -> None:
    gallery, queries = _random(3000, seed=4, dim=32), _random(200, seed=5, dim=32)
    exact, approx = PoseIndex(32), PoseIndex(32, kind="hnsw")
    exact.add(gallery)
    approx.add(gallery)
    _, true_ids = exact.search(queries, k=10)
    _, found_ids = approx.search(queries, k=10)
    hits = sum(len(set(t) & set(f)) for t, f in zip(true_ids, found_ids))
    assert hits / true_ids.size > 0.9


def test_ivf_scanning_every_cell_is_exact_and_for_size_switches_to_it(monkeypatch) -> None:
    gallery, queries = _random(2000, seed=4), _random(50, seed=5)
    exact, ivf = PoseIndex(DIM), PoseIndex(DIM, kind="ivf", nlist=16, nprobe=16)
    exact.add(gallery)
    ivf.add(gallery[:1000])
    ivf.add(gallery[1000:])  # trained on the first add, grown by the second
    np.testing.assert_array_equal(ivf.search(queries, k=10)[1], exact.search(queries, k=10)[1])
    monkeypatch.setattr("vvipe_core.index.EXACT_UP_TO", 1000)
    assert PoseIndex.for_size(DIM, 1000).kind == "flat"
    assert PoseIndex.for_size(DIM, 1001).kind == "ivf"


def test_ivf_tuned_on_near_duplicates_still_finds_queries_from_elsewhere() -> None:
    """A video library is clusters of near-identical frames: its own rows find each other in
    one cell, which once tuned nprobe to 1 (recall@10 0.73 here, 0.51 in bench_store)."""
    rng = np.random.default_rng(8)
    centres = rng.standard_normal((300, DIM)).astype(np.float32)
    gallery = np.repeat(centres, 30, axis=0) + 1e-3 * rng.standard_normal((9000, DIM))
    queries = centres[:100] + 0.7 * rng.standard_normal((100, DIM))  # new poses near the old
    exact, ivf = PoseIndex(DIM), PoseIndex(DIM, kind="ivf", nlist=94, nprobe=0)  # 0: tune
    exact.add(gallery)
    ivf.add(gallery)
    assert int(ivf.describe().rsplit(" ", 1)[1]) >= 16  # "ivf, 94 cells, nprobe N"
    true_ids, found_ids = exact.search(queries, k=10)[1], ivf.search(queries, k=10)[1]
    assert np.mean([len(set(t) & set(f)) / 10 for t, f in zip(true_ids, found_ids)]) >= 0.95


def test_k_larger_than_size_is_clipped() -> None:
    index = PoseIndex(DIM)
    index.add(_random(5, seed=6))
    distances, ids = index.search(_random(2, seed=7), k=50)
    assert distances.shape == ids.shape == (2, 5)
    assert sorted(ids[0].tolist()) == [0, 1, 2, 3, 4]


def test_input_errors() -> None:
    index = PoseIndex(DIM)
    with pytest.raises(ValueError, match="empty index"):
        index.search(_random(1, seed=8), k=1)
    with pytest.raises(ValueError, match=r"shape \(N, 16\)"):
        index.add(_random(3, seed=8, dim=DIM + 1))
    with pytest.raises(ValueError, match="2 payloads for 3"):
        index.add(_random(3, seed=8), payloads=[{}, {}])
    assert len(index) == 0  # a refused add leaves the index untouched
    index.add(_random(3, seed=8))
    with pytest.raises(ValueError, match=r"x\[None\]"):
        index.search(np.zeros(DIM, dtype=np.float32), k=1)
    with pytest.raises(ValueError, match="NaN"):
        index.search(np.full((1, DIM), np.nan), k=1)
    with pytest.raises(ValueError, match="k must be"):
        index.search(_random(1, seed=8), k=0)
    with pytest.raises(IndexError, match="out of range"):
        index.payloads([3])
    with pytest.raises(ValueError, match="unknown index kind"):
        PoseIndex(DIM, kind="lsh")  # type: ignore[arg-type]


def test_unserialisable_payload_fails_before_writing(tmp_path: Path) -> None:
    index = PoseIndex(DIM)
    index.add(_random(1, seed=9), payloads=[{"z": np.float32(1.0)}])
    with pytest.raises(TypeError, match="JSON"):
        index.save(tmp_path / "bad")
    assert not (tmp_path / "bad" / "index.faiss").exists()


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match="no such index directory") as err:
        PoseIndex.load(tmp_path / "missing")
    assert err.value.path == tmp_path / "missing"
    assert isinstance(err.value, VVIPEError)  # the CLI and GUI report these as they are

    index = PoseIndex(DIM)
    index.add(_random(4, seed=10))
    saved = index.save(tmp_path / "gallery")

    (saved / "index.faiss").write_bytes(b"not a faiss index")
    with pytest.raises(IndexFileError, match="not a readable faiss index") as err:
        PoseIndex.load(saved)
    assert err.value.path == saved / "index.faiss"

    (saved / "meta.json").write_text("{truncated", encoding="utf-8")
    with pytest.raises(IndexFileError, match="meta.json: unreadable JSON"):
        PoseIndex.load(saved)

    (saved / "meta.json").unlink()
    with pytest.raises(IndexFileError, match="meta.json: file is missing"):
        PoseIndex.load(saved)


def test_load_rejects_mismatched_files(tmp_path: Path) -> None:
    small, large = PoseIndex(DIM), PoseIndex(DIM)
    small.add(_random(2, seed=11))
    large.add(_random(3, seed=12))
    small.save(tmp_path / "small")
    large.save(tmp_path / "large")
    (tmp_path / "large" / "index.faiss").replace(tmp_path / "small" / "index.faiss")
    with pytest.raises(IndexFileError, match="size disagrees"):
        PoseIndex.load(tmp_path / "small")
