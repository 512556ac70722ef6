"""The one way the GUI runs work off its thread, in the manner of superqt's `GeneratorWorker`: a generator runs on a
thread pool and each value it yields arrives on the GUI thread as a signal; its return value, a cancel and any
exception arrive as signals too, so that the GUI never blocks and never crashes on a worker's error.

The work is a callable run on the pool thread. It returns a generator (the engine's steps: each `yield` becomes
`yielded`, the generator's return value `returned`) or, for one blocking call, a plain value (`returned`).
`pause()` stops pulling from the generator (it waits at its next yield); `cancel()` sets the `CancelToken` the work
is given to check, and a `core.cancel.Cancelled` it raises becomes `cancelled`. A worker cancelled before it starts
does no work.
"""
from __future__ import annotations

import threading
import traceback
from collections.abc import Generator
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from core.cancel import CancelToken, Cancelled
from core.steps import drain


class WorkerSignals(QObject):
    """Created on the GUI thread and emitted from the pool thread, so connected slots run on the GUI thread."""

    yielded = Signal(object)            # each value the generator yields, in order
    returned = Signal(object)           # the generator's return value, or the plain call's result
    cancelled = Signal()                # the work stopped on its CancelToken (it raised Cancelled)
    errored = Signal(str, str, object)  # message for people, traceback for the log, the exception
    finished = Signal()                 # always last, after returned, cancelled or errored


class GeneratorWorker(QRunnable):
    """Runs `work()` once on a pool thread. `pause()`, `resume()` and `cancel()` are safe to call from any thread.

    Subclasses set the work and, where their errors need it, say what a person reads (`describe_failure`)."""

    _alive: set[GeneratorWorker] = set()  # Python owns a started worker until its `finished` reached the GUI thread

    def __init__(self, work: Callable[[], Any], cancel: CancelToken | None = None):
        super().__init__()
        self.setAutoDelete(False)
        self.signals = WorkerSignals()
        self.cancel_token = cancel or CancelToken()
        self._work = work
        self._running = threading.Event()
        self._running.set()
        self._control = threading.Lock()  # a pause racing a cancel must not leave the worker asleep

    # --- control (any thread) ------------------------------------------------------------------------------
    def start(self, pool: QThreadPool | None = None) -> GeneratorWorker:
        """Queue the work on `pool` (the global pool by default)."""
        GeneratorWorker._alive.add(self)
        self.signals.finished.connect(lambda: GeneratorWorker._alive.discard(self))
        (pool or QThreadPool.globalInstance()).start(self)
        return self

    def pause(self) -> None:
        with self._control:
            if not self.cancel_token.cancelled:
                self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def cancel(self) -> None:
        with self._control:
            self.cancel_token.cancel()
            self._running.set()  # a paused worker wakes up to see the cancel

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_token.cancelled

    def describe_failure(self, exc: Exception) -> str:
        """The message `errored` carries for `exc`."""
        return str(exc) or exc.__class__.__name__

    # --- the run (pool thread) -----------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._running.wait()
            self.cancel_token.raise_if_cancelled()
            outcome = self._work()
            if isinstance(outcome, Generator):
                outcome = drain(outcome, self._emit_yielded)
        except Cancelled:
            self.signals.cancelled.emit()
        except Exception as exc:  # reported to whoever started the work; the app goes on
            self.signals.errored.emit(self.describe_failure(exc), traceback.format_exc(), exc)
        else:
            self.signals.returned.emit(outcome)
        finally:
            self.signals.finished.emit()

    def _emit_yielded(self, value: Any) -> None:
        self.signals.yielded.emit(value)
        self._running.wait()  # paused: the generator stays suspended at this yield
