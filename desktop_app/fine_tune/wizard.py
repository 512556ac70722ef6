"""Tools → Fine-tune a model…: a four-page wizard (pictures, settings, training, name) that fills the trainer's
finetune preset, runs `cartoonize-train finetune` in its own process and adds the result to the user's models.

Not modal: training takes a while and the main window stays usable. Closing it while the trainer runs asks first,
then stops the trainer (which saves a checkpoint) and closes when it has exited. A wizard closed before training
started removes its run folder (it holds at most extracted key-frames); once training started, the folder stays, so
the run can be resumed from a terminal.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QWidget, QWizard

from core.devices import AUTO

from desktop_app.fine_tune.data_page import DataPage
from desktop_app.fine_tune.finish_page import FinishPage
from desktop_app.fine_tune.plan import new_run_dir, resume_command
from desktop_app.fine_tune.session import FineTuneSession
from desktop_app.fine_tune.settings_page import SettingsPage
from desktop_app.fine_tune.training_page import TrainingPage

log = logging.getLogger("desktop_app.fine_tune")
SHUTDOWN_WAIT_MS = 60_000
DEFAULT_SIZE = (980, 760)


class FineTuneWizard(QWizard):
    model_added = Signal(str)  # the new user model's name

    def __init__(self, base_model: str | None = None, device: str = AUTO, parent: QWidget | None = None,
                 trainer_command: Sequence[str] | None = None, run_dir: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Fine-tune a model")
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, False)
        self.resize(*DEFAULT_SIZE)
        command = list(trainer_command) if trainer_command else None
        self.session = FineTuneSession(run_dir=run_dir or new_run_dir(), base_model=base_model, device=device)
        self.data_page = DataPage(self.session)
        self.settings_page = SettingsPage(self.session, command)
        self.training_page = TrainingPage(self.session, command)
        self.finish_page = FinishPage(self.session)
        for page in (self.data_page, self.settings_page, self.training_page, self.finish_page):
            self.addPage(page)
        self.finish_page.imported.connect(self.model_added)
        self._close_when_stopped = False
        self.training_page.process.finished.connect(self._on_training_finished)

    @property
    def training_running(self) -> bool:
        return self.training_page.process.running

    def confirm_stop(self) -> bool:
        """Asked when the wizard is closed during training; tests replace it."""
        answer = QMessageBox.question(
            self, "Stop training?",
            "Training is still running. Stop it and close? A checkpoint is saved first, and the run can be "
            f"continued later from a terminal:\n{resume_command(self.session.run_dir)}")
        return answer == QMessageBox.StandardButton.Yes

    def reject(self) -> None:
        """Cancel, Esc or the window's close button."""
        if self.training_running:
            if not self.confirm_stop():
                return
            self._close_when_stopped = True
            self.training_page.stop()
            return
        self.settings_page.speed_test.process.kill()
        if self.data_page.extracting:  # the folder goes once the extractor has let go of it
            self.data_page.extraction_finished.connect(self._discard_unused_run_dir)
            self.data_page.cancel_extraction()
        else:
            self._discard_unused_run_dir()
        super().reject()

    def shutdown(self) -> None:
        """The app is quitting: stop the trainer (checkpoint first), waiting a bounded time, then kill it."""
        for process in (self.training_page.process, self.settings_page.speed_test.process):
            if process.running:
                process.stop()
                if not process.wait(SHUTDOWN_WAIT_MS):
                    process.kill()
                    process.wait(5_000)
        self.data_page.wait_for_workers()

    def _on_training_finished(self, _result) -> None:
        if self._close_when_stopped:
            self._close_when_stopped = False
            super().reject()

    def _discard_unused_run_dir(self) -> None:
        if not self.session.training_started and self.session.run_dir.is_dir():
            log.info("removing the unused run folder %s", self.session.run_dir)
            shutil.rmtree(self.session.run_dir, ignore_errors=True)
