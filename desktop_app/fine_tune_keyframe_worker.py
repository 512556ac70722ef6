"""Builds the cartoon folder from the user's videos on a pool thread (`fine_tune_data.prepare_cartoon_folder`),
in the manner of superqt's GeneratorWorker: each yielded progress becomes a signal, the result and any exception
arrive as signals, and `cancel()` sets the CancelToken the extractor checks between frames."""
from __future__ import annotations

import traceback
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from core.cancel import CancelToken, Cancelled

from desktop_app.fine_tune_data import FolderScan, prepare_cartoon_folder


class KeyframeSignals(QObject):
    progress = Signal(object)        # trainer.keyframes.KeyframeProgress
    returned = Signal(object)        # fine_tune_data.PreparedCartoons
    cancelled = Signal()
    errored = Signal(str, str)       # message, traceback
    finished = Signal()              # always last


class KeyframeWorker(QRunnable):
    def __init__(self, scan: FolderScan, output_dir: Path):
        super().__init__()
        self.setAutoDelete(False)  # the page owns it until `finished`
        self.scan, self.output_dir = scan, output_dir
        self.signals = KeyframeSignals()
        self._cancel = CancelToken()

    def cancel(self) -> None:
        self._cancel.cancel()

    def start(self, pool: QThreadPool | None = None) -> "KeyframeWorker":
        (pool or QThreadPool.globalInstance()).start(self)
        return self

    def run(self) -> None:
        steps = prepare_cartoon_folder(self.scan, self.output_dir, cancel=self._cancel)
        try:
            while True:
                try:
                    progress = next(steps)
                except StopIteration as finished:
                    self.signals.returned.emit(finished.value)
                    break
                self.signals.progress.emit(progress)
        except Cancelled:
            self.signals.cancelled.emit()
        except Exception as exc:  # reported on the page; the wizard goes on
            self.signals.errored.emit(str(exc) or exc.__class__.__name__, traceback.format_exc())
        finally:
            self.signals.finished.emit()
