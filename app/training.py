"""Training from the window: Trainer in a QThread, its events turned into curves and text.

Training is not one of the controller's Jobs: it runs for minutes to hours, reports through
Trainer's callback rather than a generator, and a cancel must let Trainer save its checkpoint
(Jobs drop a cancelled job's result). The curves and the time left come from vvipe_core.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from vvipe_core.checkpoint import CheckpointError
from vvipe_core.config import TrainConfig
from vvipe_core.train import Trainer, TrainEvent, TrainingCancelled
from vvipe_core.train_progress import TrainingCurves, read_saved_run

STOP_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class Outcome:
    checkpoint: Path
    cancelled: bool


class TrainingThread(QThread):
    """One Trainer.run; signals cross to the window's thread by Qt's queued connections."""

    event = Signal(object)  # TrainEvent
    done = Signal(object)  # Outcome
    failed = Signal(object)  # the exception

    def __init__(self, cfg: TrainConfig, out: Path, stages: tuple[str, ...],
                 resume: Path | None) -> None:
        super().__init__()
        self.cfg, self.out, self.stages, self.resume = cfg, out, stages, resume
        self.cancel = threading.Event()

    def run(self) -> None:
        try:
            trainer = Trainer(self.cfg, self.out, resume=self.resume)
            path = trainer.run(self.stages, callback=self.event.emit, cancel=self.cancel)
            self.done.emit(Outcome(path, cancelled=False))
        except TrainingCancelled as stopped:
            self.done.emit(Outcome(stopped.checkpoint_path, cancelled=True))
        except Exception as error:  # noqa: BLE001 - any failure goes to the log, the window lives on
            self.failed.emit(error)


class Training(QObject):
    """Start / cancel / resume one run at a time and keep its curves."""

    runningChanged = Signal(bool)
    curvesChanged = Signal()
    progress = Signal(float, object)  # fraction done, seconds left (None = unknown yet)
    log = Signal(str)
    finished = Signal(object)  # Outcome
    failed = Signal(str)  # why a run stopped with an error (the window shows it)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.curves: TrainingCurves | None = None
        self.result: Outcome | None = None
        self._thread: TrainingThread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def thread(self) -> TrainingThread | None:
        """The run in progress (None when idle)."""
        return self._thread

    def start(self, cfg: TrainConfig, out: Path, stages: tuple[str, ...]) -> None:
        """A new run from scratch into `out`; its curves start empty."""
        self.curves = TrainingCurves(cfg)
        self.curvesChanged.emit()
        self.log.emit(f"training {', '.join(stages)} into {out}")
        self._launch(TrainingThread(cfg, out, stages, resume=None))

    def resume(self, out: Path, stages: tuple[str, ...]) -> None:
        """Continue the run saved in `out` with its own config. Curves of this session are
        kept; in a fresh session they are rebuilt from the checkpoint's per-epoch history."""
        try:
            saved = read_saved_run(out)
        except (CheckpointError, ValueError) as error:  # ValueError: an outdated config
            self.log.emit(f"cannot resume: {error}")
            return
        if saved.position is None:
            self.log.emit(f"{out}: that run is finished, nothing to resume")
            return
        if self.curves is None:  # drawn with the first event, which says the epoch length
            self.curves = TrainingCurves(saved.config)
            self.curves.add_history(saved.history)
        where = saved.position
        self.log.emit(f"resuming {out} at {where['stage']} epoch {where['epoch'] + 1}, "
                      f"step {where['step']}")
        self._launch(TrainingThread(saved.config, out, stages, resume=out))

    def cancel(self) -> None:
        """Ask the run to stop; Trainer saves its checkpoint, then `finished` follows."""
        if self._thread is not None:
            self._thread.cancel.set()
            self.log.emit("cancelling: saving the checkpoint…")

    def shutdown(self) -> None:
        """Cancel and wait (the window is closing)."""
        thread = self._thread
        if thread is not None:
            thread.cancel.set()
            thread.wait(STOP_TIMEOUT_MS)

    def _launch(self, thread: TrainingThread) -> None:
        self.result = None
        self.curves.new_run()
        thread.event.connect(self._event)
        thread.done.connect(self._done)
        thread.failed.connect(self._failed)
        thread.finished.connect(self._thread_finished)
        self._thread = thread
        self.runningChanged.emit(True)
        thread.start()

    def _event(self, event: TrainEvent) -> None:
        self.curves.add(event)
        self.curvesChanged.emit()
        self.progress.emit(self.curves.step_of(event) / max(1, self.curves.total_steps),
                           self.curves.eta_s(event))
        if event.val is not None:
            values = ", ".join(f"{k} {v:.3g}" for k, v in event.val.items())
            self.log.emit(f"{event.stage} epoch {event.epoch + 1}/{event.epochs}: {values}")

    def _done(self, outcome: Outcome) -> None:
        self.result = outcome
        verb = "cancelled; resumable checkpoint" if outcome.cancelled else "finished"
        self.log.emit(f"{verb}: {outcome.checkpoint}")

    def _failed(self, error: Exception) -> None:
        self.log.emit(f"training failed: {type(error).__name__}: {error}")
        self.failed.emit(f"training failed: {error}")

    def _thread_finished(self) -> None:
        self._thread.deleteLater()
        self._thread = None
        self.runningChanged.emit(False)
        if self.result is not None:
            self.finished.emit(self.result)

