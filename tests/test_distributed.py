"""Training over two processes (gloo on the CPU) against one process on the same global batch."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from tests.helpers import tiny_config
from vvipe_core import VVIPE, checkpoint, distributed
from vvipe_core.config import ConfigError
from vvipe_core.train import Trainer

ROOT = Path(__file__).parent.parent


def _layers_worker(rank: int, init_file: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    torch.manual_seed(0)
    # The MLPs' (N, C) and the graph network's (N, C, joints), a transposed view.
    for x in (torch.randn(12, 6), torch.randn(12, 5, 6).transpose(1, 2)):
        x, shape = x * 3 + 1, x.shape
        mine = distributed.share(x).clone().requires_grad_()
        whole = x.clone().requires_grad_()
        plain, synced = nn.BatchNorm1d(6), distributed.convert(nn.Sequential(nn.BatchNorm1d(6)))[0]
        assert type(synced) is distributed.SyncBatchNorm1d
        probe = torch.randn(shape)  # a loss that weighs every output differently
        expected = plain(whole)
        (expected * probe).sum().backward()
        out = synced(mine)
        (out * distributed.share(probe)).sum().backward()
        torch.testing.assert_close(out, distributed.share(expected.detach()))
        assert out.stride() == expected.stride()  # the layout dropout masks follow
        torch.testing.assert_close(mine.grad, distributed.share(whole.grad))
        for name in ("weight", "bias"):  # per-rank gradients add up to the whole batch's
            grad = getattr(synced, name).grad.clone()
            dist.all_reduce(grad)
            torch.testing.assert_close(grad, getattr(plain, name).grad)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            torch.testing.assert_close(getattr(synced, name), getattr(plain, name))

    # Dropout masks and the VAE's noise: those one process draws for the global batch.
    drop, global_drop = nn.Dropout(0.3), distributed.convert(nn.Sequential(nn.Dropout(0.3)))[0]
    for views in (1, 2):  # two camera views: rows [view 0 share; view 1 share] of [view 0; view 1]
        with distributed.views(views):
            rows = distributed.rows(12 * views // 2)
        # The MLPs' rows, and the graph network's (N, joints, C) features: a transposed view.
        for base, layout in ((torch.randn(12 * views, 6), lambda t: t),
                             (torch.randn(12 * views, 6, 5), lambda t: t.transpose(1, 2))):
            with torch.random.fork_rng():
                expected = drop(layout(base))
            with distributed.views(views):
                local = global_drop(layout(base[rows]))
            torch.testing.assert_close(local, expected[rows])
    x = torch.randn(12, 6)
    with torch.random.fork_rng():
        expected = torch.empty(12, 6).normal_()
    torch.testing.assert_close(distributed.standard_normal(distributed.share(x)),
                               distributed.share(expected))
    gathered = distributed.gather(distributed.share(x).requires_grad_())
    torch.testing.assert_close(gathered, x)

    assert distributed.any_rank(rank == 1) and not distributed.any_rank(False)
    with pytest.raises(ConfigError, match="batch_size = 63 does not split over 2 processes"):
        Trainer(tiny_config(batch_size=63), Path(init_file).with_suffix(".pt"))
    dist.destroy_process_group()


def test_synced_batch_norm_dropout_and_noise_match_one_process_on_the_whole_batch(tmp_path):
    mp.spawn(_layers_worker, args=(str(tmp_path / "rendezvous"),), nprocs=2)


def _step_gradients(trainer: Trainer, stage: str) -> dict[str, torch.Tensor]:
    """The gradients of the first step of `stage` (after DistributedDataParallel's averaging)."""
    trainer._set_modes(stage)
    step = trainer._step_function(stage)
    torch.manual_seed(1)  # dropout masks and the VAE's noise
    loss, _ = step(*trainer._batch(stage, 0, 0), 0)
    loss.backward()
    nets = {"vae": trainer.vae, "mapper": trainer.mapper}
    return {f"{net}.{name}": p.grad for net, module in nets.items()
            for name, p in module.named_parameters() if p.grad is not None}


def _steps_worker(rank: int, init_file: str, cfg) -> None:
    torch.set_num_threads(1)
    out = Path(init_file).with_suffix(".pt")
    one = {stage: _step_gradients(Trainer(cfg, out), stage) for stage in ("vae", "mapper")}
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    for stage in ("vae", "mapper"):
        two = _step_gradients(Trainer(cfg, out), stage)
        assert two.keys() == one[stage].keys() and len(two) > 10
        # Float rounding, against the largest gradient (a Linear's bias before batch norm has
        # a zero gradient: rounding noise on both sides).
        scale = max(float(g.abs().max()) for g in two.values())
        for name, grad in two.items():
            torch.testing.assert_close(grad, one[stage][name], rtol=1e-4, atol=1e-5 * scale)
    dist.destroy_process_group()


def test_two_processes_average_to_the_gradients_of_one_process(tmp_path):
    """The first step of each stage, with everything random (dropout, the VAE's noise, cameras,
    2D noise) and all three triplet losses: one process's gradients on the global batch."""
    cfg = CONFIG.replace(model={"dropout": 0.1, "mapper_arch": "gcn", "mapper_width": 16})
    mp.spawn(_steps_worker, args=(str(tmp_path / "rendezvous"), cfg), nprocs=2)


def _torchrun_command(*args: str) -> list[str]:
    """`torchrun --standalone --nproc_per_node=2 -m vvipe_core.cli train ARGS`."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
            "-m", "vvipe_core.cli", "train", *args]


ENV = os.environ | {"OMP_NUM_THREADS": "1"}


def _torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_torchrun_command(*args), cwd=ROOT, capture_output=True, text=True,
                          check=False, env=ENV, timeout=300)


# Dropout, both triplet losses mined in the batch, two camera views per pose: everything random.
CONFIG = tiny_config(model={"dropout": 0.1}, steps_per_epoch=1, vae_epochs=2, mapper_epochs=2,
                     mapper_triplet_weight=1.0, mapper_gallery_triplet_weight=0.5)


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("ddp")
    config, out = folder / "tiny.toml", folder / "two.pt"
    config.write_text(CONFIG.to_toml())
    result = _torchrun("--config", str(config), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("saved") == 1  # the first process reports, alone
    assert "training on 2 processes (cpu)" in result.stdout
    return config, out


@pytest.mark.slow
def test_two_processes_take_the_steps_one_process_takes(two_process_run, tmp_path):
    """One step per epoch: the history holds each step's losses, means over the global batch."""
    two = checkpoint.load(two_process_run[1])
    one = checkpoint.load(Trainer(CONFIG, tmp_path / "one.pt").run())
    history = [(a, b) for a, b in zip(one["metrics"]["history"], two["metrics"]["history"], strict=True)]
    for n, (a, b) in enumerate(history):
        assert a.keys() == b.keys() and {"triplet", "gallery_triplet"} <= history[-1][0].keys()
        # The first step starts from the same weights; later ones from Adam steps on gradients
        # that agree to float rounding.
        losses = [k for k in a if k not in ("stage", "epoch") and not k.startswith("val")]
        np.testing.assert_allclose([b[k] for k in losses], [a[k] for k in losses],
                                   rtol=1e-5 if n == 0 else 2e-3)
    model = VVIPE.load(two_process_run[1], device="cpu")
    kp = np.random.default_rng(0).uniform(300, 700, (4, 17, 2))
    assert model.lift(kp).shape == (4, 17, 3) and np.isfinite(model.lift(kp)).all()


@pytest.mark.slow
def test_a_two_process_run_resumed_under_torchrun_is_bit_identical(two_process_run, tmp_path):
    config, whole = two_process_run
    part = tmp_path / "part.pt"
    first = _torchrun("--config", str(config), "--out", str(part), "--stage", "vae")
    assert first.returncode == 0, first.stdout + first.stderr
    assert checkpoint.load(part)["train_state"]["position"]["stage"] == "vae"
    resumed = _torchrun("--resume", str(part), "--out", str(part))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    a, b = checkpoint.load(part), checkpoint.load(whole)
    for net in ("vae", "mapper"):
        for k, tensor in a[net].items():
            assert torch.equal(tensor, b[net][k]), k
    assert a["metrics"] == b["metrics"]


@pytest.mark.slow
def test_ctrl_c_under_torchrun_stops_every_process_after_the_same_step(tmp_path):
    config, out = tmp_path / "long.toml", tmp_path / "run.pt"
    config.write_text(tiny_config(vae_epochs=1000).to_toml())
    run = subprocess.Popen(_torchrun_command("--config", str(config), "--out", str(out)), cwd=ROOT,
                           env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while not out.exists() and run.poll() is None:  # the first epoch is saved
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)  # torchrun passes it on to both processes
    output, _ = run.communicate(timeout=120)  # a process left waiting for the other would hang
    assert output.count(f"stopped; resume with --resume {out}") == 1, output
    position = checkpoint.load(out)["train_state"]["position"]
    assert position["stage"] == "vae" and position["epoch"] >= 1
    assert sorted(os.listdir(tmp_path)) == ["long.toml", "run.pt"]  # no temporary left
