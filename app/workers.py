"""Long work (detection, model loading, search) in worker threads, with progress and cancel.

One job per name: starting a job replaces the running one of that name, whose result is then
dropped, so a slow old answer never overwrites a newer one. Generator jobs yield
``(done, total)`` progress and stop at their next yield when cancelled; plain functions cannot
be interrupted, so cancelling one only drops its result.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from superqt.utils import GeneratorWorker, WorkerBase, create_worker


class Jobs(QObject):
    busyChanged = Signal(str)  # what is running ("" when idle)
    progress = Signal(int, int)  # done, total (0 = unknown)
    failed = Signal(str, object)  # label, exception

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: dict[str, tuple[WorkerBase, str]] = {}

    @property
    def idle(self) -> bool:
        return not self._running

    @property
    def labels(self) -> list[str]:
        return [label for _, label in self._running.values()]

    def start(
        self, name: str, label: str, fn: Callable[..., Any], *args: Any,
        on_result: Callable[[Any], None],
    ) -> WorkerBase:
        self.cancel(name)
        # Errors go to `failed` (shown in the window), not re-raised in the event loop.
        worker = create_worker(fn, *args, _start_thread=False, _ignore_errors=True)

        def current() -> bool:
            return self._running.get(name, (None,))[0] is worker

        def finish() -> None:
            if current():
                del self._running[name]
                self.busyChanged.emit(", ".join(self.labels))

        worker.returned.connect(lambda result: current() and on_result(result))
        worker.errored.connect(lambda error: current() and self.failed.emit(label, error))
        if isinstance(worker, GeneratorWorker):
            worker.yielded.connect(lambda p: current() and self.progress.emit(*p))
        worker.finished.connect(finish)
        self._running[name] = (worker, label)
        self.busyChanged.emit(", ".join(self.labels))
        worker.start()
        return worker

    def cancel(self, name: str | None = None) -> None:
        """Cancel one job, or all of them."""
        for key in [name] if name else list(self._running):
            worker, _ = self._running.pop(key, (None, ""))
            if isinstance(worker, GeneratorWorker):
                worker.quit()
        self.busyChanged.emit(", ".join(self.labels))
