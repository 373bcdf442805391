"""What a training run looks like while it runs: curves to plot and the time left.

Built from Trainer's TrainEvents, or from a checkpoint's per-epoch history when a run is resumed
in a fresh session. Every point sits on one x axis, the step counted across both stages (the
mapper's steps follow the VAE's), so the curves of a resumed run continue the old ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vvipe_core import checkpoint
from vvipe_core.config import TrainConfig
from vvipe_core.train import TrainEvent

# Epoch-end records repeat the epoch's mean losses; val metrics come prefixed with "val_".
VAL_PREFIX = "val_"


@dataclass
class Series:
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)

    def add(self, x: float, y: float) -> None:
        self.x.append(x)
        self.y.append(y)


@dataclass(frozen=True)
class SavedRun:
    """A checkpoint's training facts: its config, where it stopped, its per-epoch history."""

    config: TrainConfig
    position: dict | None  # None when the run finished (nothing left to resume)
    history: list[dict]


def read_saved_run(path: str | Path) -> SavedRun:
    ckpt = checkpoint.load(path)
    state = ckpt.get("train_state") or {}
    return SavedRun(TrainConfig.from_dict(ckpt["config"]), state.get("position"),
                    list(ckpt.get("metrics", {}).get("history", [])))


class TrainingCurves:
    """Loss points per logged step and validation points per epoch, keyed "stage name"."""

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int | None = None) -> None:
        """`steps_per_epoch`: None until the first event says it (it depends on the data)."""
        self.cfg = cfg
        self.steps_per_epoch = steps_per_epoch
        self.losses: dict[str, Series] = {}
        self.val: dict[str, Series] = {}
        self._history: list[dict] = []  # waiting for steps_per_epoch to be known
        self._run_start: tuple[float, float] | None = None  # (step, elapsed) of a run's start

    def offset(self, stage: str) -> int:
        """Steps before `stage` on the shared axis (no VAE stage without a frozen VAE)."""
        per_epoch = self.steps_per_epoch or 0
        vae_steps = self.cfg.vae_epochs * per_epoch if self.cfg.pretrained_vae else 0
        before = {"vae": 0, "mapper": vae_steps, "tune": vae_steps + self.cfg.mapper_epochs * per_epoch}
        return before[stage]

    @property
    def total_steps(self) -> int:
        per_epoch = self.steps_per_epoch or 0
        tune = self.cfg.stage_config("tune")
        tune_per_epoch = min(per_epoch, tune.steps_per_epoch) if tune.steps_per_epoch else per_epoch
        return self.offset("tune") + self.cfg.tune_epochs * tune_per_epoch

    def step_of(self, event: TrainEvent) -> int:
        return self.offset(event.stage) + event.epoch * event.steps_per_epoch + event.step

    def add(self, event: TrainEvent) -> None:
        """One event: a loss point per logged step, validation points at an epoch's end."""
        if event.stage != "tune":  # the tune stage may take fewer steps per epoch
            self.steps_per_epoch = event.steps_per_epoch
        self.add_history([])
        x = self.step_of(event)
        if self._run_start is None:
            self._run_start = (x, event.elapsed_s)
        if event.val is not None:
            for name, value in event.val.items():
                self.val.setdefault(f"{event.stage} {name}", Series()).add(x, value)
            return  # its losses are the epoch's means, already drawn step by step
        for name, value in event.losses.items():
            self.losses.setdefault(f"{event.stage} {name}", Series()).add(x, value)

    def add_history(self, history: list[dict]) -> None:
        """Per-epoch records of a checkpoint: epoch-mean losses and val metrics at epoch ends
        (kept until the steps per epoch are known)."""
        self._history += history
        if self.steps_per_epoch is None:
            return
        history, self._history = self._history, []
        for record in history:
            per_epoch = self.steps_per_epoch
            if record["stage"] == "tune":
                tune = self.cfg.stage_config("tune").steps_per_epoch
                per_epoch = min(per_epoch, tune) if tune else per_epoch
            x = self.offset(record["stage"]) + (record["epoch"] + 1) * per_epoch
            for name, value in record.items():
                if name in ("stage", "epoch"):
                    continue
                target = self.val if name.startswith(VAL_PREFIX) else self.losses
                key = f"{record['stage']} {name.removeprefix(VAL_PREFIX)}"
                target.setdefault(key, Series()).add(x, float(value))

    def new_run(self) -> None:
        """The next event starts the clock of the time-left estimate (a start or a resume)."""
        self._run_start = None

    def eta_s(self, event: TrainEvent) -> float | None:
        """Seconds left at this run's pace so far; None before any step was timed."""
        if self._run_start is None:
            return None
        start_step, start_s = self._run_start
        done = self.step_of(event) - start_step
        if done <= 0:
            return None
        return (event.elapsed_s - start_s) / done * max(0, self.total_steps - self.step_of(event))
