"""The wizard's third page: runs the fine-tune in the trainer process and follows its events: progress, images/s,
time left, a live loss plot and the latest sample grid. Stop asks the trainer to save a checkpoint and exit;
Resume starts it again with --resume. A failed or crashed trainer leaves the app running and says why here, with
the trainer's last messages.
"""
from __future__ import annotations

import logging
import shlex
import time
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox, QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QPushButton, QSplitter, QVBoxLayout, QWidget,
    QWizardPage,
)

from trainer.checkpoint import list_checkpoints
from trainer.events import (
    CheckpointSaved, ModelExported, SampleWritten, TrainerEvent, TrainerFailed, TrainingProgress, TrainingStarted,
    TrainingStopped,
)
from trainer.export import export_checkpoint

from desktop_app.fine_tune.estimate import SpeedRecords, format_duration, mean_step_seconds, speed_from_steps
from desktop_app.fine_tune.plan import resume_command, trainer_arguments
from desktop_app.fine_tune.training_process import Outcome, RunResult, TrainingProcess
from desktop_app.fine_tune.sample_view import SampleView
from desktop_app.fine_tune.loss_plot import LossPlot
from desktop_app.fine_tune.session import FineTuneSession
from desktop_app.function_worker import run_in_background
from desktop_app.log_panel import details
from desktop_app.settings_store import config_dir

log = logging.getLogger("desktop_app.fine_tune")
LOG_LINES = 2000
ERROR_STYLE = "color: #b3261e;"
NOTE_STYLE = "color: palette(placeholder-text);"


class TrainingPage(QWizardPage):
    def __init__(self, session: FineTuneSession, trainer_command: list[str] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setTitle("Training")
        self.setSubTitle("Stop whenever you like: a checkpoint is saved, and Resume carries on from it. "
                         "The main window stays usable meanwhile.")
        self.process = TrainingProcess(trainer_command, self)
        self.total_steps = 0
        self.step = 0
        self._rates: list[float] = []  # images/s of the adversarial log lines, for the speed records
        self._logs_seen = 0
        self._started_at = 0.0
        self._first_log_s: float | None = None   # from the trainer's start to its first log line
        self._first_log_steps = 1                # how many steps that first log line covered
        self._start_step = 0
        self.exporting = False
        self._model_from_checkpoint = False      # the model is a stopped run's checkpoint: Resume stays possible

        self.status_label = QLabel("Starting…")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.status_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.status_label.setFont(font)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.step_label = QLabel()
        self.speed_label = QLabel()
        self.eta_label = QLabel()
        stats = QHBoxLayout()
        for label in (self.step_label, self.speed_label, self.eta_label):
            stats.addWidget(label)
            stats.addSpacing(18)
        stats.addStretch(1)

        self.plot = LossPlot()
        self.log_scale_box = QCheckBox("Log scale")
        self.log_scale_box.setChecked(self.plot.log_scale)
        self.log_scale_box.toggled.connect(self.plot.set_log_scale)
        plot_header = QHBoxLayout()
        plot_header.addWidget(QLabel("<b>Losses</b>"))
        plot_header.addWidget(QLabel("click a name to show or hide it", styleSheet=NOTE_STYLE), 1)
        plot_header.addWidget(self.log_scale_box)
        plot_area = QWidget()
        plot_layout = QVBoxLayout(plot_area)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        plot_layout.addLayout(plot_header)
        plot_layout.addWidget(self.plot, 1)
        self.sample_view = SampleView()
        self.sample_caption = QLabel("<b>Latest sample</b>")
        sample_area = QWidget()
        sample_layout = QVBoxLayout(sample_area)
        sample_layout.setContentsMargins(0, 0, 0, 0)
        sample_layout.addWidget(self.sample_caption)
        sample_layout.addWidget(self.sample_view, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(plot_area)
        self.splitter.addWidget(sample_area)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(LOG_LINES)
        self.log_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log_view.setPlaceholderText("The trainer's messages appear here.")
        self.log_view.setFixedHeight(90)

        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Finish the current step, save a checkpoint and stop")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue from the last checkpoint")
        self.use_checkpoint_button = QPushButton("Use the last checkpoint")
        self.use_checkpoint_button.setToolTip("Make a model of the newest checkpoint, so that Next can name it")
        self.folder_button = QPushButton("Open run folder")
        self.folder_button.setToolTip("Checkpoints, sample grids and the trainer's config")
        buttons = QHBoxLayout()
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.use_checkpoint_button)
        buttons.addStretch(1)
        buttons.addWidget(self.folder_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addWidget(self.progress)
        layout.addLayout(stats)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.log_view)
        layout.addLayout(buttons)

        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume)
        self.use_checkpoint_button.clicked.connect(self.use_latest_checkpoint)
        self.folder_button.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.session.run_dir))))
        self.process.started.connect(self._on_started)
        self.process.event.connect(self.handle_event)
        self.process.stderr_line.connect(self._append_log)
        self.process.garbage_line.connect(self._append_log)
        self.process.finished.connect(self._on_finished)
        self._update_buttons()

    # --- control -------------------------------------------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        if not self.session.training_started:
            self.start()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.session.model_path is not None and not self.process.running and not self.exporting

    def start(self, resume: bool = False) -> None:
        """Run the config the settings page wrote; `resume` continues the run folder's last checkpoint."""
        if self.process.running or self.session.config_file is None:
            return
        self.session.training_started = True
        self.session.model_path = None
        self._model_from_checkpoint = False
        self._first_log_s = None
        self._set_status("Resuming…" if resume else "Starting the trainer…")
        arguments = trainer_arguments(self.session.config_file, resume)  # the full command goes to the app's log
        self._append_log("trainer started: " + shlex.join(arguments))
        self.process.start(arguments, working_dir=self.session.run_dir)
        self._update_buttons()
        self.completeChanged.emit()

    def stop(self) -> None:
        if self.process.running:
            self.process.stop()
            self._set_status("Stopping: finishing the current step and saving a checkpoint…")
            self._update_buttons()

    def resume(self) -> None:
        self.start(resume=self.has_checkpoint())

    def has_checkpoint(self) -> bool:
        return bool(list_checkpoints(self.session.run_dir))

    def use_latest_checkpoint(self) -> None:
        """Make a model of the newest checkpoint (on a worker), so that a stopped run can be named and used."""
        if self.process.running or self.exporting or not self.has_checkpoint():
            return
        self.exporting = True
        self._set_status(self.status_label.text().split("\n")[0] + "\nMaking a model of the last checkpoint…")
        run_in_background(export_checkpoint, self.session.run_dir, on_returned=self._on_exported,
                          on_errored=self._on_export_failed)
        self._update_buttons()

    def _on_exported(self, answer: tuple[Path, int]) -> None:
        path, step = answer
        self.exporting = False
        self.session.model_path = path
        self._model_from_checkpoint = True
        self.session.model_step = step
        self._append_log(f"model of the checkpoint at step {step}: {path}")
        self._set_status(f"Stopped at step {step:,} of {self.total_steps:,}. Its model is ready: Next names it, "
                         "or Resume trains on.")
        self._update_buttons()
        self.completeChanged.emit()

    def _on_export_failed(self, message: str, trace: str) -> None:
        self.exporting = False
        log.error("could not make a model of the checkpoint: %s", message, extra=details(trace))
        self._set_status(f"The checkpoint could not be made into a model: {message}", error=True)
        self._update_buttons()
        self.completeChanged.emit()

    def _on_started(self) -> None:
        self._started_at = time.monotonic()
        self._set_status("The trainer is starting (loading the models)…")

    # --- events --------------------------------------------------------------------------------------------------
    def handle_event(self, event: TrainerEvent) -> None:
        """One trainer event (`trainer.events`): update the numbers, the plot, the sample or the log."""
        if isinstance(event, TrainingStarted):
            self.total_steps = event.total_steps
            self.step = self._start_step = event.step
            self._logs_seen = 0
            self.progress.setRange(0, max(1, self.total_steps))
            self.progress.setValue(self.step)
            self.step_label.setText(f"Step {self.step:,} of {self.total_steps:,}")
            resumed = f", resumed at step {self.step:,}" if event.resumed_from else ""
            self._set_status(f"Training on {event.device}: {event.photos} photos, {event.cartoons} cartoons{resumed}.")
            self._append_log(f"training on {event.device} ({event.precision}), "
                             f"step {self.step} of {self.total_steps}{resumed}")
        elif isinstance(event, TrainingProgress):
            self._on_log(event)
        elif isinstance(event, SampleWritten):
            self.session.last_sample = event.path
            self.sample_view.show_file(event.path)
            self.sample_caption.setText(f"<b>Latest sample</b>, step {event.step:,}: "
                                        "each row is a photo and its cartoon")
        elif isinstance(event, CheckpointSaved):
            self._append_log(f"checkpoint saved at step {event.step}: {event.path}")
        elif isinstance(event, TrainingStopped):
            self._append_log(f"stopped at step {event.step} ({event.reason})")
        elif isinstance(event, ModelExported):
            self.session.model_path, self.session.model_step = event.model, event.step
            self._append_log(f"model exported: {event.model}")
        elif isinstance(event, TrainerFailed):
            self._append_log(f"error: {event.message}")
        else:  # cartoon-target progress, or a kind from a newer trainer
            log.debug("trainer event: %s", event.to_line())

    def _on_log(self, event: TrainingProgress) -> None:
        self.step = event.step
        self.progress.setValue(min(self.step, self.progress.maximum()))
        self.step_label.setText(f"Step {self.step:,} of {self.total_steps:,}" + (
            " (pre-training)" if event.phase == "pretrain" else ""))
        self.speed_label.setText(f"{event.images_per_s:.3g} images/s")
        if event.phase == "train" and self._logs_seen:  # the first interval includes the set-up
            self._rates.append(event.images_per_s)
        if self._first_log_s is None and self._started_at:
            self._first_log_s = time.monotonic() - self._started_at
            self._first_log_steps = max(1, self.step - self._start_step)
        self.eta_label.setText(f"{format_duration(event.eta_s)} left" if event.eta_s > 0 else "finishing")
        self._logs_seen += 1
        self.plot.add_point(self.step, event.losses)

    def _on_finished(self, result: RunResult) -> None:
        self._remember_speed()
        if result.outcome == Outcome.DONE and self.session.model_path is not None:
            self.progress.setValue(self.progress.maximum())
            self.eta_label.setText("")
            self._set_status("Done: the model is ready. Next, give it a name.")
        else:
            error = result.outcome in (Outcome.FAILED, Outcome.CRASHED)
            hint = ""
            if error:
                hint = ("\nResume continues from the last checkpoint." if self.has_checkpoint()
                        else "\nStart again tries once more from the beginning.")
            self._set_status(result.message + hint, error=error)
            self._append_log(f"to continue from a terminal: {resume_command(self.session.run_dir)}"
                             if self.has_checkpoint() else "")
        self._update_buttons()
        self.completeChanged.emit()
        if result.outcome == Outcome.STOPPED and self.has_checkpoint():
            self.use_latest_checkpoint()   # a stopped run can become a model right away

    def _remember_speed(self) -> None:
        """A real run's step time (the mean over its log intervals after the first) and start-up, for the next
        estimates."""
        plan, name, batch = self.session.plan, self.session.device_name, self.session.batch_size
        if self._rates and plan is not None and name and batch:
            step_s = mean_step_seconds(self._rates, batch)
            records = SpeedRecords(config_dir())
            known = records.speed(name, plan.backbone)
            startup_s = (max(0.0, self._first_log_s - self._first_log_steps * step_s) if self._first_log_s is not None
                         else known.startup_s if known else 0.0)
            records.remember(name, plan.backbone, speed_from_steps(step_s, batch, plan.crop_size_px, startup_s))
        self._rates.clear()

    # --- display -------------------------------------------------------------------------------------------------
    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")

    def _append_log(self, line: str) -> None:
        if line:
            self.log_view.appendPlainText(line)

    def _update_buttons(self) -> None:
        running = self.process.running
        finished_model = self.session.model_path is not None
        self.stop_button.setEnabled(running and not self.process.stopping)
        self.resume_button.setEnabled(not running and not self.exporting and self.session.training_started
                                      and (not finished_model or self._model_from_checkpoint))
        self.use_checkpoint_button.setVisible(not running and not finished_model and self.has_checkpoint()
                                              and self.session.training_started)
        self.use_checkpoint_button.setEnabled(not self.exporting)
        self.resume_button.setText("Resume" if running or self.has_checkpoint() else "Start again")
