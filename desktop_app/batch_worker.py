"""Runs one job through the batch engine on a pool thread and re-emits each engine event as a Qt signal.

The same entry point as the CLI (`core.batch_setup.prepare_batch`, then the ready batch's events), called on the
worker thread, so model loading never blocks the GUI. A job that cannot start is reported with the kind of failure
(`core.failures.FailureKind`: model, device, encoder …), so that the queue can offer a retry on the CPU.

Pause stops pulling events from the engine's generator (it then waits at its next yield: between tiles, frames or
files); cancel sets the engine's CancelToken, which stops it between tiles and frames and leaves no partial file.
"""
from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Signal

from core import batch_setup
from core.cancel import CancelToken
from core.failures import FailureKind, failure_kind, failure_message

from desktop_app.job_options import JobOptions

NO_MODEL_MESSAGE = "no model is installed: import one with Models → Import model…"


@dataclass(frozen=True)
class BatchRequest:
    """Everything the worker needs, copied from the job so the GUI may edit the job while it runs."""

    job_id: int
    inputs: tuple[Path, ...]
    output_dir: Path
    options: JobOptions


class BatchSignals(QObject):
    """Lives on the GUI thread; connected slots run there."""

    event = Signal(int, object)      # job id, a core.batch event (BatchStarted, ItemStarted, TileProgress, …)
    errored = Signal(int, str, object, str)  # job id, message, FailureKind, traceback: the job could not run at all
    finished = Signal(int)           # job id; always last


class BatchWorker(QRunnable):
    """One job, one run. `pause()`, `resume()` and `cancel()` are safe to call from the GUI thread."""

    def __init__(self, request: BatchRequest):
        super().__init__()
        self.setAutoDelete(False)  # the controller owns it until `finished`
        self.request = request
        self.signals = BatchSignals()
        self._cancel = CancelToken()
        self._running = threading.Event()
        self._running.set()
        self._control = threading.Lock()  # a pause racing a cancel must not leave the worker asleep

    # --- control (any thread) ------------------------------------------------------------------------------
    def pause(self) -> None:
        with self._control:
            if not self._cancel.cancelled:
                self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def cancel(self) -> None:
        with self._control:
            self._cancel.cancel()
            self._running.set()  # a paused worker wakes up to see the cancel

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.cancelled

    # --- the run (pool thread) -----------------------------------------------------------------------------
    def run(self) -> None:
        job_id, options = self.request.job_id, self.request.options
        try:
            self._running.wait()
            request = batch_setup.BatchRequest(self.request.inputs, options.batch_options(self.request.output_dir),
                                               options.engine_settings())
            for event in batch_setup.prepare_batch(request).run(self._cancel):
                self.signals.event.emit(job_id, event)
                self._running.wait()  # paused: the engine stays suspended at this yield
        except batch_setup.NoModelError:
            self.signals.errored.emit(job_id, NO_MODEL_MESSAGE, FailureKind.MODEL, traceback.format_exc())
        except batch_setup.BatchSetupError as exc:
            self.signals.errored.emit(job_id, str(exc), exc.kind, traceback.format_exc())
        except Exception as exc:  # the job fails with a reason; the app and the queue go on
            self.signals.errored.emit(job_id, failure_message(exc), failure_kind(exc), traceback.format_exc())
        finally:
            self.signals.finished.emit(job_id)
