import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.helpers import SMALL_POSES
from vvipe_core.canonical import canonicalize
from vvipe_core.cli import app
from vvipe_core.evaluation import EvalOptions, Keypoints2DMethod, camera_views, evaluate


class _TruthMethod:
    """Embeds each 2D view by its own pose's true canonical 3D: the perfect embedding."""

    name = "truth"

    def __init__(self, poses):
        self.canonical = canonicalize(poses)

    def embed(self, kp2d):
        return self.canonical.reshape(len(kp2d), -1)

    def lift(self, kp2d):
        return self.canonical

    def embed_3d(self, poses3d):
        return canonicalize(poses3d).reshape(len(poses3d), -1)


class _ShuffledGalleryMethod(_TruthMethod):
    """Perfect 2D embeddings, but the 3D gallery's rows belong to other poses."""

    def embed_3d(self, poses3d):
        return np.roll(super().embed_3d(poses3d), 37, axis=0)


def test_true_canonical_poses_as_embedding_give_perfect_scores(small_poses):
    poses = small_poses.poses[:300]
    result = evaluate(poses, _TruthMethod(poses), EvalOptions(views=3))
    for cams in ("seen", "unseen"):
        assert result["retrieval"][cams] == {"hit@1": 1.0, "hit@10": 1.0, "hit@20": 1.0}
        assert result["lifting"][cams]["mpjpe_mm"] < 1e-3
        assert result["lifting"][cams]["np_mpjpe"] < 1e-6


def test_against_3d_queries_every_view_against_the_3d_embeddings(small_poses):
    poses = small_poses.poses[:300]
    result = evaluate(poses, _TruthMethod(poses), EvalOptions(views=3, against="3d"))
    assert result["against"] == "3d"
    for cams in ("seen", "unseen"):
        assert result["retrieval"][cams] == {"hit@1": 1.0, "hit@10": 1.0, "hit@20": 1.0}
    # The gallery side is really used: misaligned 3D embeddings lose the hits.
    shuffled = evaluate(poses, _ShuffledGalleryMethod(poses), EvalOptions(views=3, against="3d"))
    assert shuffled["retrieval"]["seen"]["hit@1"] < 0.5


def test_verification_finds_the_pictured_pose_wherever_the_embedding_put_it(small_poses):
    poses = small_poses.poses[:300]
    opts = EvalOptions(views=2, cameras=("unseen",), against="3d", verify=len(poses))
    result = evaluate(poses, _ShuffledGalleryMethod(poses), opts)
    assert result["verify"] == len(poses) and result["verify_blend"] == 0.0
    assert result["retrieval"]["unseen"]["hit@1"] > 0.95
    assert result["verify_ms_per_query"]["unseen"] > 0
    # Checking only the embedding's top 5 cannot find what the embedding missed.
    few = evaluate(poses, _ShuffledGalleryMethod(poses), EvalOptions(
        views=2, cameras=("unseen",), against="3d", verify=5))
    assert few["retrieval"]["unseen"]["hit@1"] < 0.5


def test_verification_needs_a_3d_gallery(small_poses):
    with pytest.raises(ValueError, match="needs against 3d"):
        evaluate(small_poses.poses, _TruthMethod(small_poses.poses), EvalOptions(verify=10))


def test_against_3d_needs_a_3d_encoder(small_poses):
    with pytest.raises(ValueError, match="no 3D embedding"):
        evaluate(small_poses.poses, Keypoints2DMethod(), EvalOptions(against="3d"))


def test_2d_baseline_is_better_than_chance_and_worse_than_perfect(small_poses):
    result = evaluate(small_poses.poses, Keypoints2DMethod(), EvalOptions(cameras=("seen",)))
    hits = result["retrieval"]["seen"]
    assert 0.05 < hits["hit@1"] < 0.95 and hits["hit@1"] <= hits["hit@10"] <= hits["hit@20"]
    assert "lifting" not in result


def test_rescaled_bodies_are_judged_strictly_and_by_pose_alone(small_poses):
    opts = EvalOptions(cameras=("seen",), bone_scale=0.3)
    result = evaluate(small_poses.poses, Keypoints2DMethod(), opts, sequences=small_poses.sequence)
    strict, same_pose = result["retrieval"]["seen"], result["retrieval_same_pose"]["seen"]
    # Other bodies' near-duplicates count only when judged by the pose before rescaling.
    assert same_pose["hit@20"] > strict["hit@20"]
    clean = evaluate(small_poses.poses, Keypoints2DMethod(), EvalOptions(cameras=("seen",)))
    assert "retrieval_same_pose" not in clean


def test_views_are_seeded_noisy_and_missing_as_asked(small_poses):
    poses = small_poses.poses[:50]
    clean = camera_views(poses, "unseen", EvalOptions(views=2))
    assert clean.shape == (2, 50, 17, 2)
    np.testing.assert_array_equal(clean, camera_views(poses, "unseen", EvalOptions(views=2)))
    noisy = camera_views(poses, "unseen", EvalOptions(views=2, noise_px=5.0))
    assert 3.0 < np.abs(noisy - clean).mean() < 5.0  # E|N(0, 5)| = 4
    dropped = camera_views(poses, "unseen", EvalOptions(views=2, drop_joints=2))
    assert (np.isnan(dropped).all(-1).sum(-1) == 2).all()


def test_too_few_poses_is_a_clear_error(small_poses):
    with pytest.raises(ValueError, match="at least 20 poses"):
        evaluate(small_poses.poses[:10], Keypoints2DMethod(), EvalOptions())


def test_eval_command_writes_the_documented_json(tmp_path, tiny_checkpoint):
    out = tmp_path / "r.json"
    args = ["eval", "--data", str(SMALL_POSES), "--checkpoint", str(tiny_checkpoint), "--views", "2",
            "--max-poses", "100", "--json", str(out), "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Hit@1" in result.output
    r = json.loads(out.read_text())
    assert r["n_poses"] == 100 and r["seed"] == 0 and r["checkpoint"] == str(tiny_checkpoint)
    for cams in ("seen", "unseen"):
        assert set(r["retrieval"][cams]) == {"hit@1", "hit@10", "hit@20"}
        assert all(0.0 <= v <= 1.0 for v in r["retrieval"][cams].values())
        assert set(r["lifting"][cams]) == {"mpjpe_mm", "pa_mpjpe_mm", "np_mpjpe"}
    only_seen = CliRunner().invoke(app, args[:-4] + ["--cameras", "seen", "--json", str(out)])
    assert only_seen.exit_code == 0 and list(json.loads(out.read_text())["retrieval"]) == ["seen"]


def test_eval_command_against_3d(tmp_path, tiny_checkpoint):
    out = tmp_path / "r.json"
    args = ["eval", "--data", str(SMALL_POSES), "--checkpoint", str(tiny_checkpoint), "--views", "2",
            "--max-poses", "100", "--cameras", "seen", "--against", "3d", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3D gallery" in result.output
    r = json.loads(out.read_text())
    assert r["against"] == "3d" and set(r["retrieval"]["seen"]) == {"hit@1", "hit@10", "hit@20"}
    assert 0.0 < r["retrieval"]["seen"]["hit@20"] <= 1.0
    wrong = CliRunner().invoke(app, args[:-2] + ["--method", "2d"])
    assert wrong.exit_code == 2 and "--against 3d" in wrong.output


def test_eval_command_verify(tmp_path, tiny_checkpoint):
    out = tmp_path / "r.json"
    args = ["eval", "--data", str(SMALL_POSES), "--checkpoint", str(tiny_checkpoint), "--views", "2",
            "--max-poses", "100", "--cameras", "seen", "--against", "3d", "--verify", "30",
            "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "top 30 verified" in result.output and "ms per query" in result.output
    r = json.loads(out.read_text())
    assert r["verify"] == 30 and r["verify_ms_per_query"]["seen"] > 0
    for bad in (["--against", "2d"], ["--verify", "-1"], ["--verify-blend", "-1"]):
        wrong = CliRunner().invoke(app, args[:-2] + bad)
        assert wrong.exit_code == 2 and "verify" in wrong.output


def test_eval_command_refine_lifts_with_a_fitted_latent(tmp_path, tiny_checkpoint):
    out = tmp_path / "r.json"
    args = ["eval", "--data", str(SMALL_POSES), "--checkpoint", str(tiny_checkpoint), "--views", "2",
            "--max-poses", "40", "--cameras", "seen", "--json", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    plain = json.loads(out.read_text())
    result = CliRunner().invoke(app, args + ["--refine", "20"])
    assert result.exit_code == 0, result.output
    refined = json.loads(out.read_text())
    assert refined["refine"] == 20 and "refine" not in plain
    assert refined["retrieval"] == plain["retrieval"]  # the embedding is not refined
    assert refined["lifting"]["seen"] != plain["lifting"]["seen"]
    wrong = CliRunner().invoke(app, args + ["--refine", "5", "--method", "2d"])
    assert wrong.exit_code == 2 and "--refine" in wrong.output


def test_eval_command_reports_rescaled_bodies_both_ways(tmp_path, tiny_checkpoint):
    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, [
        "eval", "--data", str(SMALL_POSES), "--checkpoint", str(tiny_checkpoint), "--views", "2",
        "--max-poses", "100", "--cameras", "seen", "--bone-scale", "0.15", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "seen, by pose" in result.output
    r = json.loads(out.read_text())
    assert r["bone_scale"] == 0.15 and set(r["retrieval_same_pose"]["seen"]) == {"hit@1", "hit@10", "hit@20"}


def test_eval_command_reports_a_bad_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    result = CliRunner().invoke(app, ["eval", "--data", str(SMALL_POSES), "--checkpoint", str(bad)])
    assert result.exit_code == 2 and "bad.pt" in result.output


@pytest.mark.parametrize("args, message", [
    (["--max-poses", "0"], "max-poses = 0: must be at least 1"),
    (["--noise-px", "-1"], "noise-px = -1.0: must be a number ≥ 0"),
    (["--noise-px", "nan"], "noise-px = nan: must be a number ≥ 0"),
    (["--drop-joints", "16"], "drop-joints = 16: must be between 0 and 15"),
    (["--drop-joints", "-1"], "drop-joints = -1: must be between 0 and 15"),
    (["--bone-scale", "1.5"], "bone-scale = 1.5: must be in [0, 1)"),
    (["--views", "1"], "views = 1: must be at least 2"),
    (["--device", "bogus"], "device 'bogus': use auto, cpu, cuda, cuda:N or mps"),
    (["--json", "/proc/r.json"], "/proc/r.json: this folder takes no new files"),
])
def test_eval_options_are_checked_before_evaluating(tiny_checkpoint, args, message):
    result = CliRunner().invoke(app, ["eval", "--data", str(SMALL_POSES), "--checkpoint",
                                      str(tiny_checkpoint), "--max-poses", "40", *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "cameras…" not in result.output  # nothing was evaluated


def test_evaluate_needs_at_least_one_camera_set(small_poses):
    with pytest.raises(ValueError, match="no camera set"):
        evaluate(small_poses.poses[:40], Keypoints2DMethod(), EvalOptions(cameras=()))


def test_detector_corruption_in_the_views_is_seeded_and_worse_than_clean(small_poses):
    poses = small_poses.poses[:200]
    clean = camera_views(poses, "seen", EvalOptions(views=2))
    opts = EvalOptions(views=2, corrupt="detector")
    corrupted = camera_views(poses, "seen", opts)
    np.testing.assert_array_equal(corrupted, camera_views(poses, "seen", opts))
    assert np.isnan(corrupted).any() and not np.isnan(clean).any()
    assert np.nanmean(np.abs(corrupted - clean)) > 3.0
    result = evaluate(poses, Keypoints2DMethod(), EvalOptions(cameras=("seen",), corrupt="detector"))
    assert result["corrupt"] == "detector"


def test_eval_command_flips_and_corrupts_and_refuses_unknown_values(tmp_path, tiny_checkpoint):
    out = tmp_path / "r.json"
    base = ["eval", "--data", str(SMALL_POSES), "--checkpoint", str(tiny_checkpoint), "--views", "2",
            "--max-poses", "60", "--cameras", "seen", "--device", "cpu"]
    result = CliRunner().invoke(app, base + ["--flip", "--corrupt", "detector", "--json", str(out)])
    assert result.exit_code == 0, result.output
    r = json.loads(out.read_text())
    assert r["flip"] is True and r["corrupt"] == "detector"
    assert CliRunner().invoke(app, base + ["--corrupt", "blur"]).exit_code == 2
    assert CliRunner().invoke(app, base + ["--flip", "--method", "2d"]).exit_code == 2
