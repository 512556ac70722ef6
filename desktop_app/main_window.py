"""The main window: builds the widgets, actions and menus and connects them to the controllers (queue, preview,
model library, settings). Behaviour lives in the controllers; this module is wiring.

Tools → "Fine-tune a model…" opens the fine-tuning wizard (`desktop_app.fine_tune`), which fills the trainer's
config, runs the trainer in its own process and adds the result to the model list.
"""
from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Iterable

from PySide6.QtCore import QByteArray, QSignalBlocker, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QCloseEvent, QDesktopServices, QDragEnterEvent, QDragLeaveEvent, QDropEvent, QGuiApplication, QIcon,
)
from PySide6.QtWidgets import (
    QDockWidget, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QScrollArea, QSlider, QSplitter,
    QToolButton, QVBoxLayout, QWidget,
)

from core.video import VIDEO_CODECS
from desktop_app.about_dialog import AboutDialog
from desktop_app.desktop_notifications import DesktopNotifier
from desktop_app.app_icon import load_app_icon
from desktop_app.before_after_view import BeforeAfterView
from desktop_app.drop_zone import DropZone
from desktop_app.fine_tune.wizard import FineTuneWizard
from desktop_app.function_worker import run_in_background
from desktop_app.job import ACTIVE_STATUSES, FINISHED_STATUSES, Job, JobStatus
from desktop_app.job_queue_model import JobQueueModel
from desktop_app.job_table_view import JobTableView
from desktop_app.log_panel import LogPanel
from desktop_app.model_library import ModelLibrary
from desktop_app.notice_bar import NoticeBar
from desktop_app.options_panel import OptionsPanel
from desktop_app.job_options import usable_video_codecs
from desktop_app.preview import PreviewController, format_clock
from desktop_app.queue_controller import RETRY_TILE_SIZE_PX, QueueController
from desktop_app.settings_store import THEME_CHOICES, AppSettings, SettingsStore
from desktop_app.theme import apply_theme
from desktop_app.window_actions import WindowActions

log = logging.getLogger("desktop_app")
SAVE_DELAY_MS = 1000
DEFAULT_SIZE = (1280, 820)
TIME_SLIDER_STEPS = 1000
MIN_QUEUE_ROWS = 3
PREVIEW_HINT = "The preview uses the options on the left; drag the line to compare, wheel to zoom."


class MainWindow(QMainWindow):
    def __init__(self, store: SettingsStore | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store or SettingsStore()
        self.settings: AppSettings = self.store.load_settings()
        self.icon: QIcon = load_app_icon()
        self.setWindowTitle("Cartoonizer")
        self.setWindowIcon(self.icon)
        self.setAcceptDrops(True)
        self.resize(*DEFAULT_SIZE)

        self.queue_model = JobQueueModel(self)
        self.queue = QueueController(self.queue_model, self)
        self.preview = PreviewController(self)
        self.models = ModelLibrary(self)
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_queue)
        self._shut_down = False
        self.fine_tune_wizard: FineTuneWizard | None = None
        self.notifier = DesktopNotifier(self, self.icon)
        self.last_notification: tuple[str, str] | None = None   # how and what the last "queue finished" said
        self._run_job_ids: set[int] = set()     # the jobs of the current run of the queue, for the window title
        self.usable_codecs: set[str] | None = None              # None until the encoders have been tried
        self._shown_once = False

        self._build_widgets()
        self.commands = WindowActions(self)
        self.commands.build_menus(self.options_dock, self.log_dock)
        self.addToolBar(self.commands.build_toolbar())
        self.table.addActions(self.commands.job_actions())
        for action in (self.commands.zoom_fit, self.commands.zoom_actual, self.commands.side_by_side,
                       self.commands.previous_picture, self.commands.next_picture):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            self.preview_caption_row.addWidget(button)
        self._connect()
        self._restore_settings()
        self.options_panel.model_combo.refresh()
        self.options_panel.device_combo.refresh()
        self._restore_queue()
        self.store.mark_session_started()
        run_in_background(usable_video_codecs, on_returned=self._on_codecs_checked,
                          on_errored=lambda message, _trace: log.warning("could not check the video encoders: %s",
                                                                         message))
        self._update_actions()

    # --- building ------------------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.drop_zone = DropZone(self.icon)
        self.notice_bar = NoticeBar()
        self.table = JobTableView()
        self.table.setModel(self.queue_model)
        self.preview_view = BeforeAfterView()
        self.preview_caption = QLabel(PREVIEW_HINT)
        self.preview_caption.setStyleSheet("color: palette(placeholder-text);")
        self.preview_caption.setMinimumWidth(80)
        self.zoom_label = QLabel()
        self.zoom_label.setStyleSheet("color: palette(placeholder-text);")
        self.time_slider = QSlider(Qt.Orientation.Horizontal)
        self.time_slider.setRange(0, TIME_SLIDER_STEPS)
        self.time_slider.setToolTip("Which frame of the video to preview")
        self.time_label = QLabel()
        self.time_label.setMinimumWidth(self.time_label.fontMetrics().horizontalAdvance("0:00:00.0 of 0:00:00.0"))

        queue_area = QWidget()
        queue_layout = QVBoxLayout(queue_area)
        queue_layout.setContentsMargins(8, 8, 8, 0)
        queue_layout.addWidget(self.drop_zone)
        queue_layout.addWidget(self.notice_bar)
        queue_layout.addWidget(self.table, 1)
        preview_area = QWidget()
        preview_layout = QVBoxLayout(preview_area)
        preview_layout.setContentsMargins(8, 0, 8, 4)
        preview_layout.addWidget(self.preview_view, 1)
        self.timeline = QWidget()
        timeline_layout = QHBoxLayout(self.timeline)
        timeline_layout.setContentsMargins(0, 0, 0, 0)
        timeline_layout.addWidget(QLabel("Frame at"))
        timeline_layout.addWidget(self.time_slider, 1)
        timeline_layout.addWidget(self.time_label)
        self.timeline.hide()
        preview_layout.addWidget(self.timeline)
        self.preview_caption_row = QHBoxLayout()
        self.preview_caption_row.addWidget(self.preview_caption, 1)
        self.preview_caption_row.addWidget(self.zoom_label)
        preview_layout.addLayout(self.preview_caption_row)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(queue_area)
        self.splitter.addWidget(preview_area)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.table.setMinimumHeight(self.table.verticalHeader().defaultSectionSize() * MIN_QUEUE_ROWS
                                    + self.table.horizontalHeader().sizeHint().height() + 4)
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        self.options_panel = OptionsPanel()
        scroll = QScrollArea()
        scroll.setWidget(self.options_panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the panel wraps to the width
        self.options_scroll = scroll
        self.options_dock = QDockWidget("Options", self)
        self.options_dock.setObjectName("options_dock")
        self.options_dock.setWidget(scroll)
        self.options_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.options_dock.setMinimumWidth(self.options_panel.minimumSizeHint().width()
                                          + scroll.verticalScrollBar().sizeHint().width() + 4)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)  # options: full height
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.options_dock)

        self.log_panel = LogPanel()
        self.log_panel.attach()
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("log_dock")
        self.log_dock.setWidget(self.log_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.resizeDocks([self.log_dock], [110], Qt.Orientation.Vertical)
        self.queue_summary = QLabel()
        self.statusBar().addPermanentWidget(self.queue_summary)
        self.statusBar().showMessage("Ready")

    def _connect(self) -> None:
        commands, queue = self.commands, self.queue
        for action, slot in (
                (commands.add_files, self.ask_add_files), (commands.add_folder, self.ask_add_folder),
                (commands.start_all, queue.start_all), (commands.pause_all, queue.pause_all),
                (commands.cancel_all, queue.cancel_all),
                (commands.start, lambda: queue.start(self.selected_job_ids())),
                (commands.pause, lambda: queue.pause(self.selected_job_ids())),
                (commands.cancel, lambda: queue.cancel(self.selected_job_ids())),
                (commands.rerun, self.rerun_failed), (commands.remove, lambda: queue.remove(self.selected_job_ids())),
                (commands.move_up, lambda: self.move_selected(-1)), (commands.move_down, lambda: self.move_selected(1)),
                (commands.open_output, self.open_output_folder), (commands.set_output, self.ask_output_folder),
                (commands.remove_finished, queue.remove_finished), (commands.import_model, self.ask_import_model),
                (commands.remove_model, self.ask_remove_model), (commands.fine_tune, self.open_fine_tune_wizard),
                (commands.previous_picture, lambda: self.preview.step_picture(-1)),
                (commands.next_picture, lambda: self.preview.step_picture(1)),
                (commands.about, self.show_about), (commands.quit, self.close)):
            action.triggered.connect(slot)
        self.drop_zone.add_files_clicked.connect(self.ask_add_files)
        self.drop_zone.add_folder_clicked.connect(self.ask_add_folder)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.doubleClicked.connect(lambda _index: self.open_output_folder())
        self.queue_model.dataChanged.connect(lambda *_: self._update_actions())
        self.queue_model.rowsInserted.connect(lambda *_: self._update_actions())
        self.queue_model.rowsRemoved.connect(lambda *_: self._update_actions())
        self.queue_model.rowsMoved.connect(lambda *_: self._update_actions())
        queue.queue_changed.connect(self._save_timer.start)
        queue.running_changed.connect(lambda _busy: self._update_actions())
        queue.job_finished.connect(self._on_job_finished)
        queue.device_problem.connect(self._offer_device_retry)
        queue.job_errored.connect(self._on_job_errored)
        queue.queue_finished.connect(self._on_queue_finished)
        for action in commands.theme_actions.values():
            action.triggered.connect(lambda _checked=False, a=action: self.set_theme(a.data()))
        QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _scheme: self._follow_system_scheme())
        self.options_panel.options_changed.connect(self._on_options_changed)
        self.options_panel.import_model_requested.connect(self.ask_import_model)
        self.options_panel.remove_model_requested.connect(self.ask_remove_model)
        self.preview.rendered.connect(self._show_preview)
        self.preview.message.connect(self._show_preview_message)
        self.preview.position_changed.connect(self._show_preview_position)
        self.time_slider.valueChanged.connect(lambda value: self.preview.set_position(value / TIME_SLIDER_STEPS))
        self.preview_view.zoom_changed.connect(self._show_zoom)
        commands.zoom_fit.triggered.connect(self.preview_view.fit)
        commands.zoom_actual.triggered.connect(lambda: self.preview_view.zoom_to(1.0))
        commands.side_by_side.toggled.connect(self.preview_view.set_side_by_side)
        self.models.imported.connect(self._on_model_imported)
        self.models.removed.connect(lambda _name: self.options_panel.model_combo.refresh())
        self.models.failed.connect(lambda message: self.notice_bar.show_notice(message, level="error"))
        self.models.busy_changed.connect(lambda busy: self.statusBar().showMessage(
            "Importing model…" if busy else "Ready"))

    # --- adding inputs -------------------------------------------------------------------------------------
    def add_paths(self, paths: Iterable[str | Path]) -> list[Job]:
        """Add jobs for dropped or chosen paths with the current options; select the first new one."""
        jobs, ignored = self.queue.add_inputs(paths, self.settings.options)
        for job in jobs:
            self.settings.remember_folder(job.inputs[0] if job.inputs[0].is_dir() else job.inputs[0].parent)
        self._fill_recent_menu()
        if jobs:
            self.table.selectRow(self.queue_model.row_of(jobs[0].id))
        message = f"Added {len(jobs)} job(s)" + (f"; ignored {len(ignored)} unsupported item(s)" if ignored else "")
        self.statusBar().showMessage(message, 5000)
        return jobs

    def ask_add_files(self) -> None:
        files, _filter = QFileDialog.getOpenFileNames(
            self, "Add photos or videos", self.settings.last_dialog_folder,
            "Photos and videos (*.jpg *.jpeg *.png *.webp *.bmp *.tif *.tiff *.mp4 *.mov *.mkv *.webm *.avi *.m4v);;"
            "All files (*)")
        if files:
            self.settings.last_dialog_folder = str(Path(files[0]).parent)
            self.add_paths(files)

    def ask_add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder", self.settings.last_dialog_folder)
        if folder:
            self.settings.last_dialog_folder = str(Path(folder).parent)
            self.add_paths([folder])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if _local_paths(event.mimeData()):
            event.acceptProposedAction()
            self.drop_zone.set_hover(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if _local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802 - Qt's name
        self.drop_zone.set_hover(False)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        self.drop_zone.set_hover(False)
        paths = _local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(paths)

    # --- commands on the selection -------------------------------------------------------------------------
    def selected_jobs(self) -> list[Job]:
        return [self.queue_model.job_at(row) for row in self.table.selected_rows()]

    def selected_job_ids(self) -> list[int]:
        return [job.id for job in self.selected_jobs()]

    def rerun_failed(self) -> None:
        """The selected failed jobs, or every failed job when none of the selection failed."""
        failed = [j.id for j in self.selected_jobs() if j.status in (JobStatus.FAILED, JobStatus.CANCELLED)]
        if failed:
            self.queue.rerun(failed)
        else:
            self.queue.rerun_all_failed()

    def move_selected(self, offset: int) -> None:
        jobs = self.selected_jobs()
        if len(jobs) != 1:
            return
        if self.queue.move(jobs[0].id, offset):
            self.table.selectRow(self.queue_model.row_of(jobs[0].id))

    def open_output_folder(self) -> None:
        jobs = self.selected_jobs()
        if not jobs:
            return
        folder = jobs[0].output_dir
        if not folder.is_dir():
            self.statusBar().showMessage(f"{folder} does not exist yet: it is created when the job runs", 5000)
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            log.warning("no file manager could open %s", folder)
            self.notice_bar.show_notice(
                f"No file manager could open the output folder. The outputs are in:<br><b>{html.escape(str(folder))}"
                "</b>", [("Copy path", lambda: QGuiApplication.clipboard().setText(str(folder)))], level="info")

    def ask_output_folder(self) -> None:
        jobs = self.selected_jobs()
        if not jobs:
            return
        folder = QFileDialog.getExistingDirectory(self, "Output folder for the selected jobs", str(jobs[0].output_dir))
        if folder:
            self.queue.set_output_dir([j.id for j in jobs], Path(folder))

    # --- models --------------------------------------------------------------------------------------------
    def ask_import_model(self) -> None:
        self.models.ask_and_import(self, self.settings.last_dialog_folder)

    def ask_remove_model(self) -> None:
        entry = self.options_panel.model_combo.current_entry()
        if entry is not None:
            self.models.ask_and_remove(self, entry.name, entry.bundled)

    def _on_model_imported(self, name: str) -> None:
        combo = self.options_panel.model_combo
        combo.refresh()
        combo.set_model_name(name)
        self.statusBar().showMessage(f"Imported model {name}", 5000)

    def open_fine_tune_wizard(self) -> FineTuneWizard:
        """Open the fine-tuning wizard (one at a time; it is not modal), starting from the current model and
        device; the model it makes is added to the model list and selected."""
        if self.fine_tune_wizard is not None:
            self.fine_tune_wizard.show()
            self.fine_tune_wizard.raise_()
            self.fine_tune_wizard.activateWindow()
            return self.fine_tune_wizard
        wizard = FineTuneWizard(self.options_panel.model_combo.model_name(),
                                self.options_panel.device_combo.spec(), self)
        wizard.model_added.connect(self._on_model_imported)
        wizard.finished.connect(lambda _result: self._forget_fine_tune_wizard(wizard))
        self.fine_tune_wizard = wizard
        wizard.show()
        return wizard

    def _forget_fine_tune_wizard(self, wizard: FineTuneWizard) -> None:
        if self.fine_tune_wizard is wizard:
            self.fine_tune_wizard = None
            wizard.deleteLater()

    def show_about(self) -> None:
        AboutDialog(self.icon, self).exec()

    # --- reactions -----------------------------------------------------------------------------------------
    def _on_selection_changed(self, *_args) -> None:
        jobs = self.selected_jobs()
        self.timeline.setVisible(bool(jobs) and jobs[0].kind.has_timeline)
        self.time_label.setText("")
        options = jobs[0].options if jobs else self.settings.options
        self.options_panel.set_options(options, emit=False)
        self._show_options_scope()
        self.preview.show_job(jobs[0] if jobs else None, options)
        self._update_actions()

    def _on_options_changed(self, options) -> None:
        """Edits go to the selected jobs (what runs is what the panel shows), or, with none selected, become the
        options for new jobs."""
        jobs = self.selected_jobs()
        if not jobs:
            self.settings.options = options
            return
        self.queue.set_job_options([job.id for job in jobs], options)
        self.preview.show_job(jobs[0], jobs[0].options)

    def _show_options_scope(self) -> None:
        jobs = self.selected_jobs()
        if not jobs:
            self.options_panel.set_scope(None)
            return
        title = jobs[0].title if len(jobs) == 1 else f"{len(jobs)} jobs (showing {jobs[0].title})"
        if self.queue.options_editable(jobs[0]):
            self.options_panel.set_scope(title)
        else:
            reason = "it is running" if jobs[0].status in ACTIVE_STATUSES else "it ran with these"
            self.options_panel.set_scope(title, editable=False, reason=reason)

    def _show_preview(self, before, after, caption: str) -> None:
        self.preview_view.set_images(before, after)
        self.preview_caption.setText(caption)
        self.preview_caption.setToolTip(caption)
        result = self.preview.last_result
        if result is not None and result.time_s is not None:
            length = f" of {format_clock(result.duration_s)}" if result.duration_s else ""
            self.time_label.setText(format_clock(result.time_s) + length)

    def _show_preview_message(self, text: str, keep_images: bool) -> None:
        """A message over the pictures (rendering), or instead of them: then the caption no longer names them."""
        self.preview_view.set_message(text, keep_images)
        if not keep_images:
            self.preview_caption.setText(PREVIEW_HINT)
            self.preview_caption.setToolTip("")

    def _show_preview_position(self, fraction: float) -> None:
        with QSignalBlocker(self.time_slider):
            self.time_slider.setValue(round(fraction * TIME_SLIDER_STEPS))

    def _show_zoom(self, zoom: float, fit: bool) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f} %" + (" (fit)" if fit else ""))

    def _on_queue_finished(self) -> None:
        """The last queued job is done: say so outside the window too, and take the progress off the title."""
        jobs = [job for job in self.queue_model.jobs() if job.id in self._run_job_ids]
        self._run_job_ids.clear()
        self._update_title()
        if not jobs:
            return
        counts = {status: sum(job.status == status for job in jobs) for status in JobStatus}
        text = f"{counts[JobStatus.DONE]} of {len(jobs)} job(s) done"
        if counts[JobStatus.FAILED]:
            text += f", {counts[JobStatus.FAILED]} failed"
        if counts[JobStatus.CANCELLED]:
            text += f", {counts[JobStatus.CANCELLED]} cancelled"
        self.last_notification = (self.notifier.notify("Cartoonizer: the queue has finished", text), text)
        self.statusBar().showMessage(f"Queue finished: {text}", 15000)

    def _update_title(self) -> None:
        """While the queue runs: its overall progress and the running job, so that it shows in the taskbar."""
        jobs = self.queue_model.jobs()
        self._run_job_ids.update(j.id for j in jobs if j.status in (JobStatus.QUEUED, *ACTIVE_STATUSES))
        self._run_job_ids &= {j.id for j in jobs}
        running = self.queue.running_job()
        if not self.queue.busy or not self._run_job_ids:
            self.setWindowTitle("Cartoonizer")
            return
        run = [j for j in jobs if j.id in self._run_job_ids]
        fraction = sum(1.0 if j.status == JobStatus.DONE else j.progress for j in run) / len(run)
        finished = sum(j.status in FINISHED_STATUSES for j in run)
        paused = " (paused)" if running is not None and running.status == JobStatus.PAUSED else ""
        name = f" · {running.title}" if running is not None else ""
        self.setWindowTitle(f"{fraction * 100:.0f} %{paused} · job {min(finished + 1, len(run))} of {len(run)}"
                            f"{name} — Cartoonizer")

    def _on_job_finished(self, job_id: int) -> None:
        job = self.queue_model.job_by_id(job_id)
        if job is not None:
            self.statusBar().showMessage(f"{job.title}: {job.status.label.lower()}", 8000)

    def _on_job_errored(self, job_id: int, message: str) -> None:
        job = self.queue_model.job_by_id(job_id)
        title = job.title if job else "A job"
        actions = [("Import model…", self.ask_import_model)] if "no model" in message.lower() else []
        self.notice_bar.show_notice(f"<b>{title}</b> could not run: {message}", actions, level="error")

    def _offer_device_retry(self, job_id: int, message: str) -> None:
        job = self.queue_model.job_by_id(job_id)
        if job is None:
            return
        self.notice_bar.show_notice(
            f"<b>{job.title}</b> failed on the GPU: {message}",
            [("Retry on CPU", lambda: self.queue.retry_with(job_id, device="cpu")),
             (f"Retry with {RETRY_TILE_SIZE_PX} px tiles",
              lambda: self.queue.retry_with(job_id, tile_size_px=RETRY_TILE_SIZE_PX))],
            level="warning")

    def _update_actions(self) -> None:
        jobs = self.queue_model.jobs()
        self.commands.update_enabled(self.selected_jobs(), jobs, self.queue.is_editable)
        running = self.queue.running_job()
        done = sum(j.status == JobStatus.DONE for j in jobs)
        running_text = f" · running: {running.title}" if running else ""
        self.queue_summary.setText(f"{len(jobs)} job(s), {done} done{running_text}")
        self.drop_zone.set_compact(bool(jobs))
        self._update_title()
        if self.selected_jobs():
            self._show_options_scope()

    # --- persistence ---------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        settings = self.settings
        if settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode("ascii")))
        if settings.window_state:
            self.restoreState(QByteArray.fromBase64(settings.window_state.encode("ascii")))
        if settings.splitter_state:
            self.splitter.restoreState(QByteArray.fromBase64(settings.splitter_state.encode("ascii")))
        self.fit_to_screen()
        self.options_panel.set_options(settings.options, emit=False)
        self._fill_recent_menu()
        self.set_theme(settings.theme)

    def fit_to_screen(self) -> None:
        """Keep the window on its screen's available area: a geometry saved on a larger screen, or at another
        scale factor (125 %, 150 %), must not put the log and the status bar off-screen."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        available = screen.availableGeometry()
        frame = self.frameGeometry()
        extra_w, extra_h = frame.width() - self.width(), frame.height() - self.height()
        if self.isMaximized() or self.isFullScreen():
            return
        width = min(self.width(), available.width() - extra_w)
        height = min(self.height(), available.height() - extra_h)
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
        left = min(max(frame.left(), available.left()), available.right() + 1 - width - extra_w)
        top = min(max(frame.top(), available.top()), available.bottom() + 1 - height - extra_h)
        if (left, top) != (frame.left(), frame.top()):
            self.move(left, top)

    def set_theme(self, theme: str) -> None:
        """View → Theme: follow the system, or light, or dark; remembered."""
        self.settings.theme = theme if theme in THEME_CHOICES else "system"
        self.commands.theme_actions[self.settings.theme].setChecked(True)
        apply_theme(self.settings.theme)

    def _follow_system_scheme(self) -> None:
        if self.settings.theme == "system":
            apply_theme("system")

    def _on_codecs_checked(self, codecs: set[str]) -> None:
        self.usable_codecs = codecs
        self.options_panel.set_available_codecs(codecs)
        missing = sorted(set(VIDEO_CODECS) - codecs)
        if missing:
            log.info("video encoders that do not open on this machine (not offered): %s", ", ".join(missing))

    def _restore_queue(self) -> None:
        saved = self.store.load_queue()
        if not saved:
            return
        if not self.store.previous_session_crashed():
            self.queue.add_jobs(saved)
            return
        self.notice_bar.show_notice(
            f"Cartoonizer did not close properly last time. Restore its {len(saved)} unfinished job(s)?",
            [("Restore queue", lambda: self.queue.add_jobs(saved))], level="warning")

    def _fill_recent_menu(self) -> None:
        self.commands.fill_recent(self.settings.recent_folders, lambda folder: self.add_paths([folder]))

    def save_queue(self) -> None:
        self.store.save_queue(self.queue_model.jobs())

    def save_settings(self) -> None:
        settings = self.settings
        if not self.selected_jobs():
            settings.options = self.options_panel.options()
        settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode("ascii")
        settings.window_state = bytes(self.saveState().toBase64()).decode("ascii")
        settings.splitter_state = bytes(self.splitter.saveState().toBase64()).decode("ascii")
        self.store.save_settings(settings)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Fit to the screen again once shown: only now are the window frame's margins known."""
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            QTimer.singleShot(0, self.fit_to_screen)

    # --- closing -------------------------------------------------------------------------------------------
    def confirm_quit(self) -> bool:
        """Asked only while a job runs; tests replace it."""
        answer = QMessageBox.question(self, "Quit Cartoonizer",
                                      "A job is running. Quit anyway? It stops cleanly (finished files are kept) "
                                      "and stays in the queue for next time.")
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.queue.busy and not self._shut_down and not self.confirm_quit():
            event.ignore()
            return
        wizard = self.fine_tune_wizard
        if wizard is not None and wizard.training_running and not self._shut_down and not wizard.confirm_stop():
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop workers, save settings and queue, and mark a clean exit. Safe to call twice."""
        if self._shut_down:
            return
        self._shut_down = True
        if self.fine_tune_wizard is not None:
            self.fine_tune_wizard.shutdown()
        self.queue.shutdown()
        self.preview.wait_for_done()
        self.save_settings()
        self._save_timer.stop()
        self.save_queue()
        self.store.mark_session_ended()
        self.log_panel.detach()


def _local_paths(mime) -> list[Path]:
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

