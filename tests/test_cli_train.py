import os
import signal
import subprocess
import sys
import time

import pytest
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
