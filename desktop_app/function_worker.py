"""Run one blocking call (import a model, list devices, count a folder) on a thread pool and hear back by signals,
in the manner of superqt's `thread_worker`: the result and any exception arrive as signals on the GUI thread."""
from __future__ import annotations

import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class WorkerSignals(QObject):
    """Lives on the GUI thread; emitted from the pool thread, so connected slots run on the GUI thread."""

    returned = Signal(object)
    errored = Signal(str, str)      # message for people, traceback for the log
    finished = Signal()             # always last, after returned or errored


class FunctionWorker(QRunnable):
    """Calls `function(*args, **kwargs)` once on a pool thread; exceptions become `errored`, never crashes."""

    _alive: set["FunctionWorker"] = set()  # Python owns the runnable until its `finished` reached the GUI thread

    def __init__(self, function: Callable[..., Any], *args: Any, **kwargs: Any):
        super().__init__()
        self.setAutoDelete(False)
        self.signals = WorkerSignals()
        self._call = (function, args, kwargs)
        FunctionWorker._alive.add(self)
        self.signals.finished.connect(lambda: FunctionWorker._alive.discard(self))

    def run(self) -> None:
        function, args, kwargs = self._call
        try:
            result = function(*args, **kwargs)
        except Exception as exc:  # reported to the caller; the app goes on
            self.signals.errored.emit(str(exc) or exc.__class__.__name__, traceback.format_exc())
        else:
            self.signals.returned.emit(result)
        finally:
            self.signals.finished.emit()


def run_in_background(function: Callable[..., Any], *args: Any,
                      on_returned: Callable[[Any], None] | None = None,
                      on_errored: Callable[[str, str], None] | None = None,
                      pool: QThreadPool | None = None, **kwargs: Any) -> FunctionWorker:
    """Start `function` on `pool` (the global pool by default) with the given result and error slots."""
    worker = FunctionWorker(function, *args, **kwargs)
    if on_returned:
        worker.signals.returned.connect(on_returned)
    if on_errored:
        worker.signals.errored.connect(on_errored)
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker
