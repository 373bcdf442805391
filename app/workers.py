"""Long work (detection, model loading, search) in worker threads, with progress and cancel.

One job per name: starting a job replaces the running one of that name, whose result is then
dropped, so a slow old answer never overwrites a newer one; the new job starts once the old one
has stopped, so the two never work on the same files at once. A job function that takes a
``cancel`` keyword gets a `threading.Event` set when the job is cancelled or replaced, and one
that takes ``progress`` gets a ``progress(done, total)`` callback: such a job stops at its next
check and leaves through its own ``finally``/``with`` blocks, in its own thread, so files and
detectors are always closed and finished work saved. Other functions cannot be interrupted;
cancelling one only drops its result.
"""
from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from superqt.utils import FunctionWorker, create_worker


class Jobs(QObject):
    busyChanged = Signal(str)  # what is running ("" when idle)
    progress = Signal(int, int)  # done, total (0 = unknown)
    failed = Signal(str, object)  # label, exception
    _reported = Signal(object, int, int)  # from a worker thread: (its worker, done, total)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: dict[str, tuple[FunctionWorker, str, threading.Event]] = {}
        self._quiet: set[str] = set()  # running jobs the busy indicator does not show
        self._stopping: dict[str, FunctionWorker] = {}  # cancelled, still running
        self._waiting: dict[str, FunctionWorker] = {}  # to start when that one has stopped
        self._busy = ""
        self._reported.connect(self._forward_progress)

    @property
    def idle(self) -> bool:
        """Nothing running, not even a cancelled job's cleanup."""
        return not self._running and not self._stopping

    @property
    def labels(self) -> list[str]:
        """What the running jobs do, but the quiet ones."""
        return [label for name, (_, label, _) in self._running.items() if name not in self._quiet]

    def label(self, name: str) -> str | None:
        """What the job `name` is doing, None when it is not running."""
        running = self._running.get(name)
        return running[1] if running else None

    def start(
        self, name: str, label: str, fn: Callable[..., Any], *args: Any,
        on_result: Callable[[Any], None], quiet: bool = False,
    ) -> FunctionWorker:
        """`quiet`: a short job that runs again and again (a search per slider move) and
        would only flash the busy indicator, repainting the window each time."""
        self.cancel(name)
        cancel = threading.Event()
        accepted = inspect.signature(fn).parameters
        kwargs: dict[str, Any] = {}
        if "cancel" in accepted:
            kwargs["cancel"] = cancel
        if "progress" in accepted:
            kwargs["progress"] = lambda done, total: self._reported.emit(worker, done, total)
        # Errors go to `failed` (shown in the window), not re-raised in the event loop.
        worker = create_worker(fn, *args, **kwargs, _start_thread=False, _ignore_errors=True)

        def current() -> bool:
            return self._running.get(name, (None,))[0] is worker

        def finish() -> None:
            if current():
                del self._running[name]
                self._announce()
            if self._stopping.get(name) is worker:
                del self._stopping[name]
                waiting = self._waiting.pop(name, None)
                if waiting is not None:
                    waiting.start()

        worker.returned.connect(lambda result: current() and on_result(result))
        worker.errored.connect(lambda error: current() and self.failed.emit(label, error))
        worker.finished.connect(finish)
        self._running[name] = (worker, label, cancel)
        (self._quiet.add if quiet else self._quiet.discard)(name)
        self._announce()
        if name in self._stopping:
            self._waiting[name] = worker
        else:
            worker.start()
        return worker

    def cancel(self, name: str | None = None) -> list[str]:
        """Cancel one job, or all of them; returns the labels of those that were running."""
        stopped = []
        for key in [name] if name else list(self._running):
            running = self._running.pop(key, None)
            if running is None:
                continue
            running[2].set()
            stopped.append(running[1])
            if self._waiting.get(key) is running[0]:  # never started: nothing to stop
                del self._waiting[key]
            else:
                self._stopping[key] = running[0]
        self._announce()
        return stopped

    def _announce(self) -> None:
        busy = ", ".join(self.labels)
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    def _forward_progress(self, worker: FunctionWorker, done: int, total: int) -> None:
        if any(worker is running[0] for running in self._running.values()):
            self.progress.emit(done, total)
