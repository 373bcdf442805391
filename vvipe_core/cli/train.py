"""`vvipe train`: train the 3D pose VAE and the 2D mapping network."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from tqdm import tqdm

from vvipe_core.checkpoint import CheckpointError
from vvipe_core.config import TrainConfig
from vvipe_core.data import DataFileError

console = Console(soft_wrap=True)


def _progress_bars():
    """A training callback drawing one progress bar per stage and epoch."""
    bars: dict[tuple[str, int], tqdm] = {}

    def report(event) -> None:
        key = (event.stage, event.epoch)
        if key not in bars:
            bars[key] = tqdm(total=event.steps_per_epoch, initial=event.step,
                             desc=f"{event.stage} {event.epoch + 1}/{event.epochs}")
        bar = bars[key]
        bar.update(event.step - bar.n)
        bar.set_postfix({k: f"{v:.3g}" for k, v in event.losses.items() if not k.startswith("val")})
        if event.val is not None:
            bar.close()
            console.print("  val: " + ", ".join(f"{k} {v:.4g}" for k, v in event.val.items()))

    return report


def train(
    out: Path = typer.Option(Path("runs/vvipe.pt"), "--out", "-o", help="Checkpoint to write."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML config file."),
    stage: str = typer.Option("all", help="vae, mapper, tune or all."),
    resume: Path | None = typer.Option(None, help="Continue from this checkpoint's saved state."),
    vae_from: Path | None = typer.Option(None, help="Reuse this checkpoint's VAE; train the mapper."),
    mapper_from: Path | None = typer.Option(
        None, help="Reuse this checkpoint's VAE and mapping networks; run the tune stage."),
    device: str | None = typer.Option(None, help="auto, cpu, cuda, mps (overrides config)."),
    train_data: Path | None = typer.Option(None, help="Training poses (our npz)."),
    val_data: Path | None = typer.Option(None, help="Validation poses (our npz)."),
    seed: int | None = typer.Option(None),
    vae_epochs: int | None = typer.Option(None),
    mapper_epochs: int | None = typer.Option(None),
    steps_per_epoch: int | None = typer.Option(None, help="Cap steps per epoch (0 = all)."),
    threads: int = typer.Option(0, min=0, help="CPU threads for torch (0 = torch's default)."),
) -> None:
    """Train V-VIPE: the 3D pose VAE, then the 2D mapping network on random virtual cameras.

    Ctrl-C lets the step under way finish, saves a resumable checkpoint and stops (a second
    Ctrl-C stops at once, keeping the last saved checkpoint). `--resume` continues with the
    checkpoint's own config; only --device, the data files and the epoch counts may change.
    Under `torchrun --nproc_per_node=N -m vvipe_core.cli train ...` the N processes share each
    batch (docs/SCALING.md); the first one saves and reports.
    """
    import threading

    import torch

    from vvipe_core import distributed
    from vvipe_core.atomic import WriteError, check_writable
    from vvipe_core.train import (
        RESUME_MAY_CHANGE,
        STAGES,
        Trainer,
        TrainingCancelled,
        stop_on_signals,
    )
    from vvipe_core.train_progress import read_saved_run

    if threads:
        torch.set_num_threads(threads)
    overrides = {
        "device": device, "train_data": train_data and str(train_data),
        "val_data": val_data and str(val_data), "seed": seed, "vae_epochs": vae_epochs,
        "mapper_epochs": mapper_epochs, "steps_per_epoch": steps_per_epoch,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    stages = STAGES if stage == "all" else (stage,)
    if not set(stages) <= set(STAGES):
        raise typer.BadParameter(f"stage must be one of vae, mapper, tune, all; got {stage}")
    try:
        if resume is not None:
            fixed = sorted(set(overrides) - RESUME_MAY_CHANGE) + (["config"] if config else [])
            if fixed:
                raise ValueError(f"--resume continues with {resume}'s own config: drop "
                                 + ", ".join(f"--{k.replace('_', '-')}" for k in fixed))
            cfg = read_saved_run(resume).config
        else:
            cfg = TrainConfig.from_file(config) if config else TrainConfig()
        check_writable(out)
        trainer = Trainer(cfg.replace(**overrides), out, resume=resume, vae_from=vae_from,
                          mapper_from=mapper_from)
        trainer.check(stages)
    except (DataFileError, CheckpointError, WriteError, ValueError) as e:
        console.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    leader = distributed.rank() == 0
    say = console.print if leader else lambda *_: None
    n = distributed.world_size()
    where = f"{n} processes ({trainer.device.type})" if n > 1 else trainer.device
    say(f"training on {where}, {len(trainer.train):,} poses -> {out}")
    try:
        with stop_on_signals(threading.Event()) as cancel:
            trainer.run(stages, callback=_progress_bars() if leader else None, cancel=cancel)
    except TrainingCancelled as e:
        say(f"stopped; resume with --resume {e.checkpoint_path}")
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        say(f"stopped at once; {out} holds the last saved state, if any")
        raise typer.Exit(130) from None
    except WriteError as e:
        console.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(1) from None
    say(f"saved {out}")


def train_baseline(
    kind: str = typer.Argument(..., help="lifter or prvipe."),
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint to write."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML config (cameras, "
                                       "mapper_epochs, steps_per_epoch, model size, ...)."),
    threads: int = typer.Option(0, min=0, help="CPU threads for torch (0 = torch's default)."),
) -> None:
    """Train an evaluation baseline on the same data and cameras as V-VIPE."""
    import torch

    from vvipe_core.baselines import KINDS
    from vvipe_core.baselines import train_baseline as run

    if kind not in KINDS:
        raise typer.BadParameter(f"kind must be one of {', '.join(KINDS)}")
    if threads:
        torch.set_num_threads(threads)
    try:
        cfg = TrainConfig.from_file(config) if config else TrainConfig()
        run(kind, cfg, out, callback=_progress_bars())
    except (DataFileError, ValueError) as e:
        console.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from None
    console.print(f"saved {out}")


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command("train-baseline")(train_baseline)
