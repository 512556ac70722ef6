"""Runs one job through the batch engine on a pool thread and re-emits each engine event as a Qt signal.

The same calls as the CLI (`load_model`, `Cartoonizer`, `plan_batch`, `run_batch`), made on the worker thread, so
model loading never blocks the GUI. Pause stops pulling events from the engine's generator (it then waits at its
next yield: between tiles, frames or files); cancel sets the engine's CancelToken, which stops it between tiles
and frames and leaves no partial file.
"""
from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Signal

from core.batch import BatchRequestError, plan_batch, run_batch
from core.cancel import CancelToken
from core.cartoonizer import Cartoonizer
from core.devices import DeviceError
from core.model_file import ModelFileError
from core.segmenter import SegmenterFileError
from core.model_registry import default_model_name, load_model

from desktop_app.job_options import JobOptions

from core.video import VideoError, check_video_encoder, output_is_frame_folder


class NoModelError(Exception):
    """No model was chosen and none is installed."""


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
    errored = Signal(int, str, str)  # job id, message, traceback: the job could not run at all
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
            model_name = options.model or default_model_name()
            if model_name is None:
                raise NoModelError("no model is installed: import one with Models → Import model…")
            cartoonizer = Cartoonizer(load_model(model_name), options.device, options.precision,
                                      tile_size=options.tile_size_px, strength=options.strength,
                                      region_strength=options.region_strength())
            batch_options = options.batch_options(self.request.output_dir)
            plan = plan_batch(list(self.request.inputs), batch_options)
            _check_video_encoder(plan, batch_options)
            for event in run_batch(plan, cartoonizer, batch_options, self._cancel):
                self.signals.event.emit(job_id, event)
                self._running.wait()  # paused: the engine stays suspended at this yield
        except Exception as exc:  # the job fails with a reason; the app and the queue go on
            self.signals.errored.emit(job_id, _reason(exc), traceback.format_exc())
        finally:
            self.signals.finished.emit(job_id)


def _check_video_encoder(plan, batch_options) -> None:
    """As the CLI does: a missing video encoder (e.g. NVENC without an NVIDIA GPU) is one clear error before the
    batch, not one failure per video."""
    encodes = any(item.kind != "image"
                  and not output_is_frame_folder(item.kind == "frames", batch_options.video) for item in plan.runnable)
    if encodes:
        check_video_encoder(batch_options.video.codec)


def _reason(exc: Exception) -> str:
    """Our own errors already read as sentences; anything else keeps its type so that it can be looked up."""
    known = (NoModelError, DeviceError, ModelFileError, VideoError, BatchRequestError, SegmenterFileError)
    if isinstance(exc, known):
        return str(exc)
    return f"{exc.__class__.__name__}: {exc}"
