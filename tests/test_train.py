import os
import signal
import threading

import numpy as np
import pytest

from tests.helpers import tiny_config
from vvipe_core import checkpoint
from vvipe_core.train import Trainer, TrainingCancelled, select_device, stop_on_signals


def _assert_same_weights(a: dict, b: dict, atol: float) -> None:
    """Two state dicts hold the same tensors (bit for bit with atol=0)."""
    assert a.keys() == b.keys()
    for k, tensor in a.items():
        np.testing.assert_allclose(tensor.numpy(), b[k].numpy(), rtol=0, atol=atol)


def test_a_tiny_training_run_lowers_the_losses(tmp_path):
    cfg = tiny_config(vae_epochs=3, mapper_epochs=3, steps_per_epoch=8)
    events = []
    Trainer(cfg, tmp_path / "m.pt").run(callback=events.append)
    epochs = [e for e in events if e.val is not None]
    vae = [e for e in epochs if e.stage == "vae"]
    mapper = [e for e in epochs if e.stage == "mapper"]
    assert len(vae) == 3 and len(mapper) == 3
    assert vae[-1].losses["recon"] < vae[0].losses["recon"]
    assert vae[-1].val["recon_mpjpe_mm"] < vae[0].val["recon_mpjpe_mm"]
    assert mapper[-1].losses["embed"] < 0.7 * mapper[0].losses["embed"]
    assert 0.0 <= mapper[-1].val["hit@1"] <= 1.0
    assert 0 < events[0].progress < events[-1].progress == 1.0
    assert "triplet_active" in vae[0].losses


def test_training_is_reproducible_per_seed(tmp_path):
    a = checkpoint.load(Trainer(tiny_config(), tmp_path / "a.pt").run())
    b = checkpoint.load(Trainer(tiny_config(), tmp_path / "b.pt").run())
    _assert_same_weights(a["mapper"], b["mapper"], atol=0)


def test_cancel_saves_a_checkpoint_and_resume_continues_from_its_step(tmp_path):
    cfg = tiny_config()
    out = tmp_path / "run.pt"
    cancel = threading.Event()

    def stop_in_mapper(event):
        if event.stage == "mapper" and event.step >= 1:
            cancel.set()

    with pytest.raises(TrainingCancelled) as err:
        Trainer(cfg, out).run(callback=stop_in_mapper, cancel=cancel)
    saved = checkpoint.load(err.value.checkpoint_path)
    position = saved["train_state"]["position"]
    assert position["stage"] == "mapper" and position["epoch"] == 0 and position["step"] >= 1
    assert len(saved["train_state"]["history"]) == cfg.vae_epochs

    events = []
    Trainer(cfg, out, resume=out).run(callback=events.append)
    assert events[0].stage == "mapper" and events[0].step > position["step"]
    final = checkpoint.load(out)
    assert final["train_state"] is None  # finished: nothing left to resume
    assert [h["stage"] for h in final["metrics"]["history"]] == ["vae"] * 2 + ["mapper"] * 2


def test_resumed_run_matches_an_uninterrupted_one(tmp_path):
    cfg = tiny_config()
    whole = checkpoint.load(Trainer(cfg, tmp_path / "whole.pt").run())
    Trainer(cfg, tmp_path / "part.pt").run(stages=("vae",))
    resumed = checkpoint.load(Trainer(cfg, tmp_path / "part.pt", resume=tmp_path / "part.pt").run())
    _assert_same_weights(resumed["mapper"], whole["mapper"], atol=0)


class StopBefore:
    """A cancel flag (what Trainer.run checks before each step) set before global step `step`."""

    def __init__(self, trainer: Trainer, step: int) -> None:
        self.trainer, self.step = trainer, step

    def is_set(self) -> bool:
        p, cfg = self.trainer.position, self.trainer.cfg
        epochs_before = cfg.vae_epochs if p["stage"] == "mapper" else 0
        return (epochs_before + p["epoch"]) * cfg.steps_per_epoch + p["step"] == self.step


def test_a_run_stopped_at_random_steps_and_resumed_is_bit_identical(tmp_path):
    """Dropout and the VAE's sampling draw from torch's generator, the batches from numpy: every
    weight (BatchNorm's counts too) and the whole history must come out the same."""
    cfg = tiny_config(model={"dropout": 0.3}, steps_per_epoch=3)
    whole = checkpoint.load(Trainer(cfg, tmp_path / "whole.pt").run())
    total = (cfg.vae_epochs + cfg.mapper_epochs) * cfg.steps_per_epoch
    stops = sorted(np.random.default_rng().choice(np.arange(1, total), 4, replace=False).tolist())
    out = tmp_path / "part.pt"
    for n, step in enumerate(stops):
        trainer = Trainer(cfg, out, resume=out if n else None)
        with pytest.raises(TrainingCancelled):
            trainer.run(cancel=StopBefore(trainer, step))
        assert sorted(os.listdir(tmp_path)) == ["part.pt", "whole.pt"]  # no temporary left
    Trainer(cfg, out, resume=out).run()
    part = checkpoint.load(out)
    for net in ("vae", "mapper"):
        _assert_same_weights(part[net], whole[net], atol=0)
    assert part["metrics"] == whole["metrics"], stops


def test_ctrl_c_in_the_middle_of_a_step_lets_it_finish_then_saves(tmp_path):
    cfg = tiny_config(steps_per_epoch=3)
    whole = checkpoint.load(Trainer(cfg, tmp_path / "whole.pt").run())
    out = tmp_path / "part.pt"
    trainer = Trainer(cfg, out)

    def ctrl_c_in_the_second_mapper_step(module, inputs):
        if trainer.position == {"stage": "mapper", "epoch": 0, "step": 1}:
            os.kill(os.getpid(), signal.SIGINT)

    trainer.mapper.members[0].register_forward_pre_hook(ctrl_c_in_the_second_mapper_step)
    with stop_on_signals(threading.Event()) as cancel, pytest.raises(TrainingCancelled):
        trainer.run(cancel=cancel)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back
    saved = checkpoint.load(out)
    assert saved["train_state"]["position"] == {"stage": "mapper", "epoch": 0, "step": 2}
    tracked = [v for k, v in saved["mapper"].items() if k.endswith("num_batches_tracked")]
    assert tracked and all(int(v) == 2 for v in tracked)  # that step applied once
    Trainer(cfg, out, resume=out).run()
    _assert_same_weights(checkpoint.load(out)["mapper"], whole["mapper"], atol=0)


def test_resume_refuses_another_config_naming_what_differs(tmp_path):
    out = tmp_path / "run.pt"
    Trainer(tiny_config(), out).run(stages=("vae",))
    with pytest.raises(checkpoint.CheckpointError, match="trained with other batch_size, seed"):
        Trainer(tiny_config(seed=3, batch_size=32), out, resume=out)
    Trainer(tiny_config(mapper_epochs=1), out, resume=out).run()  # how long it runs may change


def test_mapper_alone_needs_a_trained_vae(tmp_path):
    with pytest.raises(ValueError, match="trained VAE"):
        Trainer(tiny_config(), tmp_path / "m.pt").run(stages=("mapper",))


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in {"cpu", "cuda", "mps"}


def test_a_new_mapper_can_reuse_a_trained_vae(tmp_path, tiny_checkpoint):
    events = []
    out = Trainer(tiny_config(noise_px=3.0), tmp_path / "m.pt", vae_from=tiny_checkpoint).run(
        callback=events.append)
    assert {e.stage for e in events} == {"mapper"}
    new, old = checkpoint.load(out), checkpoint.load(tiny_checkpoint)
    _assert_same_weights(new["vae"], old["vae"], atol=0)
    assert [h["stage"] for h in new["metrics"]["history"]] == ["vae"] * 2 + ["mapper"] * 2
    with pytest.raises(checkpoint.CheckpointError, match="model size"):
        Trainer(tiny_config(model={"width": 32}), tmp_path / "x.pt", vae_from=tiny_checkpoint)


def test_reusing_a_vae_trains_the_mapper_a_run_from_scratch_would(tmp_path):
    cfg = tiny_config(model={"dropout": 0.2})
    scratch = checkpoint.load(Trainer(cfg, tmp_path / "a.pt").run())
    Trainer(cfg, tmp_path / "vae.pt").run(stages=("vae",))
    reused = checkpoint.load(Trainer(cfg, tmp_path / "b.pt", vae_from=tmp_path / "vae.pt").run())
    _assert_same_weights(reused["mapper"], scratch["mapper"], atol=1e-6)


def test_cosine_schedule_decays_the_learning_rate_to_zero(tmp_path):
    lrs = []
    trainer = Trainer(tiny_config(lr_schedule="cosine", mapper_epochs=1), tmp_path / "c.pt")
    trainer.run(callback=lambda e: lrs.append((e.stage, trainer.opt.param_groups[0]["lr"])))
    vae = [lr for stage, lr in lrs if stage == "vae"]
    assert vae[0] > 0.9 * 1e-3 and vae[-1] < 0.05 * 1e-3 and vae == sorted(vae, reverse=True)
    with pytest.raises(ValueError, match="lr_schedule"):
        Trainer(tiny_config(lr_schedule="linear"), tmp_path / "x.pt").run()


def test_the_mappers_cross_view_triplet_pulls_two_views_of_a_pose_together(tmp_path, tiny_checkpoint):
    cfg = tiny_config(mapper_triplet_weight=1.0, triplet_margin=0.2, mapper_epochs=3, steps_per_epoch=8)
    events = []
    Trainer(cfg, tmp_path / "m.pt", vae_from=tiny_checkpoint).run(callback=events.append)
    epochs = [e.losses for e in events if e.val is not None]
    assert all(0.0 <= e["triplet_active"] <= 1.0 for e in epochs)
    assert epochs[-1]["triplet"] < 0.8 * epochs[0]["triplet"]
    plain = []
    Trainer(cfg.replace(mapper_triplet_weight=0.0), tmp_path / "p.pt", vae_from=tiny_checkpoint).run(
        callback=plain.append)
    assert "triplet" not in plain[-1].losses


def test_an_ensemble_of_mappers_trains_each_member_and_averages_them(tmp_path, tiny_checkpoint):
    import torch

    from vvipe_core import VVIPE
    from vvipe_core.cameras import keypoint_features
    from vvipe_core.skeleton import H36M17

    trainer = Trainer(tiny_config(model={"mappers": 2}), tmp_path / "e.pt", vae_from=tiny_checkpoint)
    initial = [m.net.net[0].weight.detach().clone() for m in trainer.mapper.members]
    model = VVIPE.load(trainer.run(), device="cpu")  # on the VAE of a one-mapper checkpoint
    first, second = model.mapper.members
    for start, member in zip(initial, (first, second), strict=True):
        assert not torch.allclose(start, member.net.net[0].weight)
    assert not torch.equal(first.net.net[0].weight, second.net.net[0].weight)
    kp = np.random.default_rng(0).uniform(0, 500, (5, 17, 2))
    with torch.no_grad():
        members = [m(torch.as_tensor(keypoint_features(kp, H36M17)[0])).numpy() for m in (first, second)]
    np.testing.assert_allclose(model.embed_2d(kp), np.mean(members, axis=0), atol=1e-5)
    # One mapper keeps the weight names older checkpoints were saved with.
    assert "net.net.0.weight" in checkpoint.load(tiny_checkpoint)["mapper"]
    with pytest.raises(ValueError, match="model.mappers = 0: must be between 1 and 16"):
        Trainer(tiny_config(model={"mappers": 0}), tmp_path / "none.pt")


TUNE = {"tune_epochs": 1, "tune": {"mapper_lr": 3e-4, "lr_schedule": "cosine", "detector_errors": 1.0}}


def test_the_tune_stage_continues_the_mappers_with_its_own_fields(tmp_path):
    events = []
    out = Trainer(tiny_config(**TUNE), tmp_path / "t.pt").run(callback=events.append)
    stages = [e.stage for e in events if e.val is not None]
    assert stages == ["vae", "vae", "mapper", "mapper", "tune"]
    ckpt = checkpoint.load(out)
    assert ckpt["train_state"] is None  # finished after the tune stage
    assert ckpt["config"]["tune"] == TUNE["tune"] and ckpt["config"]["mapper_lr"] == 1e-3
    assert [h["stage"] for h in ckpt["metrics"]["history"]][-1] == "tune"


def test_tuning_a_finished_checkpoint_gives_the_weights_of_one_full_run(tmp_path):
    """The tune stage starts with a fresh optimiser, so tuning a shipped model reproduces the
    one-command run that trains all three stages."""
    base = Trainer(tiny_config(), tmp_path / "base.pt").run()
    tuned = Trainer(tiny_config(**TUNE), tmp_path / "tuned.pt", mapper_from=base).run(stages=("tune",))
    full = Trainer(tiny_config(**TUNE), tmp_path / "full.pt").run()
    _assert_same_weights(checkpoint.load(tuned)["mapper"], checkpoint.load(full)["mapper"], atol=0)
    assert not np.array_equal(checkpoint.load(base)["mapper"]["net.net.0.weight"].numpy(),
                              checkpoint.load(full)["mapper"]["net.net.0.weight"].numpy())


def test_the_tune_stage_refuses_untrained_mappers_and_bad_fields(tmp_path, tiny_checkpoint):
    with pytest.raises(ValueError, match="tune stage needs trained mapping networks"):
        Trainer(tiny_config(**TUNE), tmp_path / "x.pt", vae_from=tiny_checkpoint).run(stages=("tune",))
    with pytest.raises(ValueError, match="unknown field.*mapper_rate"):
        Trainer(tiny_config(tune_epochs=1, tune={"mapper_rate": 1.0}), tmp_path / "y.pt")
    with pytest.raises(ValueError, match="not the model"):
        Trainer(tiny_config(tune_epochs=1, tune={"model": {"width": 8}}), tmp_path / "z.pt")
    with pytest.raises(checkpoint.CheckpointError, match="another model"):
        Trainer(tiny_config(model={"mappers": 2}, **TUNE), tmp_path / "w.pt", mapper_from=tiny_checkpoint)
