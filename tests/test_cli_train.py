import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tests.helpers import tiny_config
from vvipe_core import checkpoint
from vvipe_core.cli import app

runner = CliRunner()


def test_train_command_writes_a_checkpoint_with_the_config(tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(tiny_config(vae_epochs=1, mapper_epochs=1, steps_per_epoch=3).to_toml())
    out = tmp_path / "m.pt"
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(out), "--seed", "5"])
    assert result.exit_code == 0, result.output
    ckpt = checkpoint.load(out)
    assert ckpt["config"]["seed"] == 5 and ckpt["config"]["model"]["width"] == 64
    assert "saved" in result.output


def test_train_command_reports_bad_data_clearly(tmp_path):
    result = runner.invoke(app, ["train", "--train-data", str(tmp_path / "none.npz"), "--out",
                                 str(tmp_path / "m.pt")])
    assert result.exit_code == 2
    assert "none.npz: no such file" in result.output


def test_stage_option_is_checked(tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(tiny_config().to_toml())
    result = runner.invoke(app, ["train", "--config", str(cfg), "--stage", "decoder"])
    assert result.exit_code != 0 and "stage" in result.output


def test_train_baseline_command_writes_a_baseline(tmp_path):
    from vvipe_core.baselines import BaselineModel

    cfg = tmp_path / "tiny.toml"
    cfg.write_text(tiny_config(mapper_epochs=2, steps_per_epoch=3).to_toml())
    out = tmp_path / "lifter.pt"
    result = runner.invoke(app, ["train-baseline", "lifter", "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert BaselineModel(out).kind == "lifter" and "saved" in result.output
    bad = runner.invoke(app, ["train-baseline", "regressor", "--out", str(out)])
    assert bad.exit_code != 0 and "lifter" in bad.output


@pytest.mark.slow
def test_ctrl_c_saves_at_a_step_boundary_and_resume_takes_the_checkpoints_config(tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(tiny_config(vae_epochs=1000).to_toml())
    out = tmp_path / "run.pt"
    run = subprocess.Popen([sys.executable, "-c", "from vvipe_core.cli import app; app()", "train", "--config", str(cfg),
                            "--out", str(out), "--threads", "1"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    while not out.exists() and run.poll() is None:  # the first epoch is saved
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=120)
    assert run.returncode == 130, output
    assert f"stopped; resume with --resume {out}" in output
    assert sorted(os.listdir(tmp_path)) == ["run.pt", "tiny.toml"]  # no temporary left
    position = checkpoint.load(out)["train_state"]["position"]
    assert position["stage"] == "vae" and position["epoch"] >= 1

    refused = runner.invoke(app, ["train", "--resume", str(out), "--out", str(out), "--seed", "3"])
    assert refused.exit_code == 2 and "own config: drop --seed" in refused.output
    # No --config: the tiny model of the checkpoint, not the default one (no size mismatch).
    result = runner.invoke(app, ["train", "--resume", str(out), "--out", str(out),
                                 "--vae-epochs", str(position["epoch"] + 1), "--mapper-epochs", "1"])
    assert result.exit_code == 0, result.output
    final = checkpoint.load(out)
    assert final["train_state"] is None and final["config"]["model"]["width"] == 64


@pytest.fixture
def tiny_toml(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(tiny_config(vae_epochs=1, mapper_epochs=1, steps_per_epoch=3).to_toml())
    return path


@pytest.mark.parametrize("args, message", [
    (["--steps-per-epoch", "-5"], "steps_per_epoch = -5: must be at least 0"),
    (["--vae-epochs", "-1"], "vae_epochs = -1: must be at least 0"),
    (["--mapper-epochs", "0"], "mapper_epochs = 0: the mapper stage would train nothing"),
    (["--device", "bogus"], "device = 'bogus': must be auto, cpu, cuda, cuda:N or mps"),
    (["--out", "/proc/x.pt"], "/proc/x.pt: this folder takes no new files"),
    (["--config", "missing.toml"], "missing.toml: no such config file"),
    (["--train-data", "five.npz"], "five.npz: 5 poses, fewer than one batch (batch_size = 64)"),
    (["--threads", "-1"], "greater than or equal to 0"),
])
def test_bad_options_are_one_line_before_any_training(tmp_path, tiny_toml, small_poses, args,
                                                      message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savez("five.npz", poses=small_poses.poses[:5], subject=np.zeros(5, np.int16),
             sequence=small_poses.sequence[:5])
    out = tmp_path / "m.pt"
    result = runner.invoke(app, ["train", "--config", str(tiny_toml), "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not out.exists() and "training on" not in result.output


def test_cuda_without_cuda_is_refused_before_training(tmp_path, tiny_toml):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = runner.invoke(app, ["train", "--config", str(tiny_toml), "--out", str(tmp_path / "m.pt"),
                                 "--device", "cuda"])
    assert result.exit_code == 2 and "device 'cuda': not available on this machine" in result.output


def test_a_malformed_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("batch_size = 0\n")
    for command in (["train"], ["train-baseline", "lifter"]):
        result = runner.invoke(app, [*command, "--config", str(bad), "--out", str(tmp_path / "m.pt")])
        assert result.exit_code == 2 and f"{bad}: batch_size = 0: must be at least 2" in result.output
    bad.write_text("[cameras]\nelevation = [1.0]\n")
    result = runner.invoke(app, ["train", "--config", str(bad)])
    assert "must be [low, high], low <= high" in result.output  # printed, not taken for markup
