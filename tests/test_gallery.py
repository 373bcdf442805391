"""The retrieval gallery: diverse selection, storage without pickle, search, latent axes, CLI."""
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.helpers import SMALL_POSES
from vvipe_core.cameras import CameraRanges, project, sample_cameras
from vvipe_core.cli import app
from vvipe_core.gallery import (
    Gallery,
    GalleryFileError,
    build_gallery,
    embedding_distances,
    farthest_points,
    select_diverse,
    stratified_pool,
)
from vvipe_core.skeleton import H36M17


@pytest.fixture(scope="module")
def gallery(tiny_model, small_poses) -> Gallery:
    return build_gallery(tiny_model, small_poses, size=80, seed=0, source="small")


def test_build_keeps_sources_and_canonical_poses(gallery, tiny_model, small_poses):
    assert len(gallery) == 80 and gallery.dim == tiny_model.embedding_dim
    # Every gallery pose is one of the data's poses, with its sequence, frame and activity.
    canonical = tiny_model.canonicalize(small_poses.poses)
    for i in (0, 41, 79):
        row = np.flatnonzero(np.all(np.isclose(canonical, gallery.poses[i]), axis=(1, 2)))[0]
        assert gallery.sequence[i] == small_poses.sequence[row]
        assert gallery.frame[i] == small_poses.extra["frame"][row]
        assert gallery.activity[i] == small_poses.extra["activity"][row]
    np.testing.assert_allclose(gallery.embeddings, tiny_model.embed_3d(gallery.poses), atol=1e-5)


def test_selection_is_seeded_and_spreads_over_sequences(small_poses, tiny_model):
    canonical = tiny_model.canonicalize(small_poses.poses)
    a = select_diverse(canonical, small_poses.sequence, 50, seed=1)
    assert np.array_equal(a, select_diverse(canonical, small_poses.sequence, 50, seed=1))
    assert len(np.unique(a)) == 50
    pool = stratified_pool(small_poses.sequence, 120, np.random.default_rng(0))
    assert len(pool) >= 120
    _, per_sequence = np.unique(small_poses.sequence[pool], return_counts=True)
    assert per_sequence.max() <= 2 * np.median(per_sequence) + 1


def test_farthest_points_cover_better_than_random(small_poses, tiny_model):
    canonical = tiny_model.canonicalize(small_poses.poses)
    rng = np.random.default_rng(0)

    def cover_radius(idx):
        d = np.linalg.norm(canonical[:, None] - canonical[None, idx], axis=-1).mean(-1)
        return d.min(axis=1).max()

    fps = farthest_points(canonical, 30, rng)
    random = rng.choice(len(canonical), 30, replace=False)
    assert cover_radius(fps) < cover_radius(random)


def test_save_load_roundtrip_without_pickle(gallery, tmp_path):
    path = gallery.save(tmp_path / "g.npz")
    with np.load(path, allow_pickle=False) as d:
        assert d["poses"].dtype == np.float32
    loaded = Gallery.load(path)
    np.testing.assert_array_equal(loaded.embeddings, gallery.embeddings)
    assert list(loaded.sequence) == list(gallery.sequence) and loaded.source == "small"


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_bad_files_are_named(tmp_path, content):
    path = tmp_path / "bad.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(GalleryFileError, match="bad.npz"):
        Gallery.load(path)
    np.savez(tmp_path / "poses.npz", poses=np.zeros((2, 17, 3)))
    with pytest.raises(GalleryFileError, match="not a gallery file"):
        Gallery.load(tmp_path / "poses.npz")


def test_search_finds_itself_first_sorted_by_distance(gallery):
    hits = gallery.search(gallery.embeddings[7], k=5)
    assert len(hits) == 5 and hits[0].index == 7 and hits[0].distance == pytest.approx(0, abs=1e-3)
    distances = [h.distance for h in hits]
    assert distances == sorted(distances)
    expected = np.linalg.norm(gallery.embeddings - gallery.embeddings[7], axis=1)
    np.testing.assert_allclose(distances, np.sort(expected)[:5], atol=1e-3)
    assert hits[1].pose.shape == (17, 3)


def test_search_with_keypoints_puts_the_pictured_pose_first_and_lays_it_on_them(gallery):
    pose = 37
    cams = sample_cameras(np.zeros((1, 3)), CameraRanges(distance_m=(40.0, 40.0),
                                                         focal_px=(8000.0, 8000.0)), 3)
    kp = project(gallery.poses[pose:pose + 1] * 250.0, cams)[0]  # a far camera: orthographic
    kp[H36M17.index("l_wrist")] = np.nan  # missing joints are left out
    confidence = np.linspace(0.5, 1.0, 17)
    z = gallery.embeddings[(pose + 20) % len(gallery)]  # the embedding points elsewhere
    plain = gallery.search(z, k=5)
    assert plain[0].index != pose and not any(hit.verified for hit in plain)
    hits = gallery.search(z, k=5, keypoints=kp, confidence=confidence, verify=len(gallery))
    assert hits[0].index == pose and hits[0].fit < 1e-3
    fits = [hit.fit for hit in hits]
    assert fits == sorted(fits) and all(hit.verified for hit in hits)
    known = np.isfinite(kp).all(1)
    np.testing.assert_allclose(hits[0].projected[known], kp[known], atol=0.5)  # pixels
    assert np.isfinite(hits[0].projected).all()  # the missing wrist is drawn where it fits
    assert hits[0].distance == pytest.approx(
        float(np.linalg.norm(gallery.embeddings[pose] - z)), rel=1e-4)
    # Checking only the nearest 5 keeps the embedding's choice of poses.
    few = gallery.search(z, k=5, keypoints=kp, verify=5)
    assert {hit.index for hit in few} == {hit.index for hit in plain}


def test_latent_axes_are_orthonormal_and_move_along_them(gallery):
    axes = gallery.latent_axes(3)
    np.testing.assert_allclose(axes.directions @ axes.directions.T, np.eye(3), atol=1e-5)
    assert np.all(np.diff(axes.scale) <= 0)
    coords = axes.coordinates(gallery.embeddings)
    np.testing.assert_allclose(coords.std(axis=0, ddof=1), 1.0, atol=1e-4)
    assert np.all(axes.low < 0) and np.all(axes.high > 0)
    assert np.mean((coords >= axes.low) & (coords <= axes.high)) > 0.9
    base = gallery.embeddings[0]
    assert np.array_equal(axes.move_to(base, axes.coordinates(base)), base)
    target = axes.coordinates(base) + [2.0, 0, 0]
    moved = axes.move_to(base, target)
    np.testing.assert_allclose(axes.coordinates(moved), target, atol=1e-4)
    np.testing.assert_allclose(moved - base, 2 * axes.scale[0] * axes.directions[0], atol=1e-4)


def test_with_model_reembeds(gallery, tiny_model):
    zeroed = Gallery(gallery.poses, np.zeros_like(gallery.embeddings), gallery.sequence,
                     gallery.frame, gallery.activity)
    np.testing.assert_allclose(zeroed.with_model(tiny_model).embeddings, gallery.embeddings, atol=1e-5)


def test_embedding_distances():
    z = np.array([[0, 0], [3, 4], [0, 1]], dtype=np.float32)
    d = embedding_distances(z)
    assert d.shape == (3, 3) and d[0, 1] == pytest.approx(5) and np.allclose(d, d.T)


def test_cli_builds_a_gallery(tmp_path, tiny_checkpoint):
    out = tmp_path / "g.npz"
    result = CliRunner().invoke(app, ["gallery", "--data", str(SMALL_POSES), "--out", str(out),
                                      "--checkpoint", str(tiny_checkpoint), "--size", "40"])
    assert result.exit_code == 0, result.output
    assert len(Gallery.load(out)) == 40


def test_cli_reports_a_missing_data_file(tmp_path, tiny_checkpoint):
    result = CliRunner().invoke(app, ["gallery", "--data", str(tmp_path / "none.npz"),
                                      "--checkpoint", str(tiny_checkpoint)])
    assert result.exit_code == 2 and "none.npz: no such file" in result.output


def test_farthest_points_continue_from_a_given_start(small_poses, tiny_model):
    canonical = tiny_model.canonicalize(small_poses.poses)
    start = np.array([5, 17, 3])
    picked = farthest_points(canonical, 10, np.random.default_rng(0), start=start)
    assert list(picked[:3]) == [5, 17, 3] and len(set(picked)) == 10
    # The fourth pose is the one farthest from the three it starts with.
    d = np.linalg.norm(canonical[:, None] - canonical[None, start], axis=-1).mean(-1).min(1)
    assert picked[3] == np.argmax(d)
