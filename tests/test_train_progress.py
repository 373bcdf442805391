"""Training curves and time left, from live events and from a checkpoint's history."""
import threading

import pytest

from tests.helpers import tiny_config
from vvipe_core.train import Trainer, TrainingCancelled
from vvipe_core.train_progress import TrainingCurves, read_saved_run


def test_events_give_loss_points_per_step_and_val_points_per_epoch(tmp_path):
    cfg = tiny_config()
    curves = TrainingCurves(cfg, steps_per_epoch=6)
    etas = []

    def on_event(event):
        curves.add(event)
        etas.append(curves.eta_s(event))

    Trainer(cfg, tmp_path / "run.pt").run(callback=on_event)
    assert curves.total_steps == 24
    assert set(curves.losses) >= {"vae recon", "vae kl", "mapper pose"}
    assert curves.losses["mapper pose"].x[0] > curves.losses["vae recon"].x[-1]  # one axis
    assert curves.val["vae recon_mpjpe_mm"].x == [6, 12]
    assert curves.val["mapper hit@1"].x == [18, 24]
    assert etas[0] is None and etas[-1] == pytest.approx(0.0)


def test_the_tune_stage_follows_the_mapper_on_the_same_axis(tmp_path):
    cfg = tiny_config(tune_epochs=1, tune={"mapper_lr": 3e-4, "steps_per_epoch": 4})
    curves = TrainingCurves(cfg, steps_per_epoch=6)
    Trainer(cfg, tmp_path / "run.pt").run(callback=curves.add)
    assert curves.total_steps == 28  # 2 VAE + 2 mapper epochs of 6 steps, then 4 tune steps
    assert curves.val["mapper hit@1"].x == [18, 24]
    assert curves.val["tune hit@1"].x == [28]
    assert curves.losses["tune pose"].x[0] > curves.losses["mapper pose"].x[-1]
    saved = TrainingCurves(cfg)
    saved.add_history(read_saved_run(tmp_path / "run.pt").history)
    saved.steps_per_epoch = 6
    saved.add_history([])
    assert saved.val["tune hit@1"].x == [28]


def test_a_resumed_run_continues_the_saved_curves(tmp_path):
    cfg = tiny_config()
    cancel = threading.Event()

    def stop_in_the_mapper(event):
        if event.stage == "mapper" and event.val is not None:
            cancel.set()

    out = tmp_path / "run.pt"
    with pytest.raises(TrainingCancelled):
        Trainer(cfg, out).run(callback=stop_in_the_mapper, cancel=cancel)
    saved = read_saved_run(out)
    assert saved.position == {"stage": "mapper", "epoch": 1, "step": 0}
    curves = TrainingCurves(saved.config)
    curves.add_history(saved.history)
    assert not curves.val  # the epoch length comes with the first event
    curves.steps_per_epoch = 6
    curves.add_history([])
    assert curves.val["vae recon_mpjpe_mm"].x == [6, 12] and curves.val["mapper hit@1"].x == [18]
    assert curves.losses["vae recon"].x == [6, 12]
    Trainer(saved.config, out, resume=out).run(callback=curves.add)
    assert curves.val["mapper hit@1"].x == [18, 24]
    assert read_saved_run(out).position is None  # finished
