"""The main window's commands as QActions (text, shortcut, icon, tip), the menus and toolbar that show them, and
which of them apply to the current selection. The window connects them to controllers; nothing here acts."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QStyle, QToolBar

from desktop_app.job import FINISHED_STATUSES, START_ALL_STATUSES, Job, JobStatus
from desktop_app.theme import THEMES

SP = QStyle.StandardPixmap
_WAITING = (JobStatus.PENDING, JobStatus.PAUSED, JobStatus.QUEUED)
_STARTABLE = (JobStatus.PENDING, JobStatus.PAUSED, JobStatus.FAILED, JobStatus.CANCELLED)
_RERUNNABLE = (JobStatus.FAILED, JobStatus.CANCELLED)


class WindowActions:
    """One QAction per command, owned by the window so that every shortcut works wherever the focus is."""

    def __init__(self, window: QMainWindow):
        self._window = window
        self.add_files = self._action("Add files…", "Ctrl+O", SP.SP_FileIcon, "Add photos or videos")
        self.add_folder = self._action("Add folder…", "Ctrl+Shift+O", SP.SP_DirIcon,
                                       "Add a folder of photos or a folder of video frames")
        self.start_all = self._action("Start all", "F5", SP.SP_MediaPlay,
                                      "Start (or resume) every waiting, paused or cancelled job")
        self.pause_all = self._action("Pause all", "F6", SP.SP_MediaPause, "Pause the running job and hold the queue")
        self.cancel_all = self._action("Cancel all", "Shift+F5", SP.SP_MediaStop,
                                       "Stop the running job (no half-written files) and unqueue the rest")
        self.start = self._action("Start", "Ctrl+Return", SP.SP_MediaPlay, "Start or resume the selected jobs")
        self.pause = self._action("Pause", "Ctrl+P", SP.SP_MediaPause, "Pause the selected jobs")
        self.cancel = self._action("Cancel", "Ctrl+.", SP.SP_MediaStop, "Cancel the selected jobs")
        self.rerun = self._action("Re-run failed", "Ctrl+Shift+R", SP.SP_BrowserReload,
                                  "Run failed or cancelled jobs again (finished outputs are kept)")
        self.remove = self._action("Remove", "Delete", SP.SP_TrashIcon,
                                   "Remove the selected jobs from the queue (their outputs stay)")
        self.move_up = self._action("Move up", "Ctrl+Up", SP.SP_ArrowUp, "Run the selected job earlier")
        self.move_down = self._action("Move down", "Ctrl+Down", SP.SP_ArrowDown, "Run the selected job later")
        self.open_output = self._action("Open output folder", "Ctrl+E", SP.SP_DirOpenIcon,
                                        "Open the selected job's output folder")
        self.set_output = self._action("Set output folder…", None, None,
                                       "Choose where the selected waiting jobs write")
        self.remove_finished = self._action("Remove finished", None, None, "Remove the jobs that are done")
        self.previous_picture = self._action("Previous photo", "Alt+Left", SP.SP_ArrowLeft,
                                             "Preview the job's previous photo (a video: 1 s back)")
        self.next_picture = self._action("Next photo", "Alt+Right", SP.SP_ArrowRight,
                                         "Preview the job's next photo (a video: 1 s on)")
        self.zoom_fit = self._action("Fit the preview", "Ctrl+0", None, "Show the whole picture in the preview")
        self.zoom_actual = self._action("Preview at 1:1", "Ctrl+1", None,
                                        "One preview pixel per screen pixel (the wheel zooms further)")
        self.side_by_side = self._action("Side by side", "Ctrl+B", None,
                                         "Before and after next to each other instead of the split line")
        self.side_by_side.setCheckable(True)
        for action, short in ((self.zoom_fit, "Fit"), (self.zoom_actual, "1:1"), (self.side_by_side, "Side by side")):
            action.setIconText(short)   # what the buttons under the preview say
        self.import_model = self._action("Import model…", "Ctrl+I", None,
                                         "Import a model file (.safetensors, White-box .tflite, .pt)")
        self.remove_model = self._action("Remove model…", None, None, "Delete the selected user model")
        self.fine_tune = self._action("Fine-tune a model…", "Ctrl+T", None,
                                      "Teach a model the style of your own cartoons")
        self.about = self._action("About Cartoonizer", "F1", None, "Versions and model licences")
        self.quit = self._action("Quit", "Ctrl+Q", None, "Quit (a running job stops cleanly and stays queued)")
        self.recent_menu = QMenu("Recent folders", window)
        self.theme_group = QActionGroup(window)
        self.theme_actions: dict[str, QAction] = {}
        for key, text in THEMES:
            action = QAction(text, window, checkable=True)
            action.setData(key)
            self.theme_group.addAction(action)
            self.theme_actions[key] = action

    def _action(self, text: str, shortcut: str | None, icon: QStyle.StandardPixmap | None, tip: str) -> QAction:
        action = QAction(text, self._window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            action.setIcon(self._window.style().standardIcon(icon))
        shortcut_text = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(tip + (f" ({shortcut_text})" if shortcut_text else ""))
        action.setStatusTip(tip)
        self._window.addAction(action)
        return action

    def job_actions(self) -> list[QAction]:
        """The commands on selected jobs (the queue's context menu)."""
        return [self.start, self.pause, self.cancel, self.rerun, self.move_up, self.move_down, self.remove,
                self.set_output, self.open_output]

    def build_menus(self, options_dock: QDockWidget, log_dock: QDockWidget) -> None:
        menu = self._window.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addActions([self.add_files, self.add_folder])
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        queue_menu = menu.addMenu("&Queue")
        queue_menu.addActions([self.start_all, self.pause_all, self.cancel_all])
        queue_menu.addSeparator()
        queue_menu.addActions([self.start, self.pause, self.cancel, self.rerun])
        queue_menu.addSeparator()
        queue_menu.addActions([self.move_up, self.move_down, self.remove, self.remove_finished])
        queue_menu.addSeparator()
        queue_menu.addActions([self.set_output, self.open_output])
        menu.addMenu("&Models").addActions([self.import_model, self.remove_model])
        menu.addMenu("&Tools").addAction(self.fine_tune)
        toggle_log = log_dock.toggleViewAction()
        toggle_log.setShortcut(QKeySequence("Ctrl+L"))
        view_menu = menu.addMenu("&View")
        view_menu.addActions([options_dock.toggleViewAction(), toggle_log])
        view_menu.addSeparator()
        view_menu.addActions([self.zoom_fit, self.zoom_actual, self.side_by_side])
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("Theme")
        theme_menu.addActions(list(self.theme_actions.values()))
        self.view_menu = view_menu
        menu.addMenu("&Help").addAction(self.about)

    def build_toolbar(self) -> QToolBar:
        toolbar = QToolBar("Queue", self._window)
        toolbar.setObjectName("queue_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addActions([self.add_files, self.add_folder])
        toolbar.addSeparator()
        toolbar.addActions([self.start_all, self.pause_all, self.cancel_all])
        toolbar.addSeparator()
        toolbar.addActions([self.rerun, self.open_output])
        return toolbar

    def fill_recent(self, folders: list[str], open_folder: Callable[[str], None]) -> None:
        self.recent_menu.clear()
        for folder in folders:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _checked=False, f=folder: open_folder(f))
        self.recent_menu.setEnabled(bool(folders))

    def update_enabled(self, selected: list[Job], jobs: list[Job], is_editable: Callable[[Job], bool]) -> None:
        """Enable what applies: queue-wide commands by the whole queue, the others by the selected jobs."""
        self.start_all.setEnabled(any(j.status in START_ALL_STATUSES for j in jobs))
        self.pause_all.setEnabled(any(j.status in (JobStatus.RUNNING, JobStatus.QUEUED) for j in jobs))
        self.cancel_all.setEnabled(any(j.status not in FINISHED_STATUSES for j in jobs))
        self.rerun.setEnabled(any(j.status in _RERUNNABLE for j in jobs))
        self.remove_finished.setEnabled(any(j.status == JobStatus.DONE for j in jobs))
        self.start.setEnabled(any(j.status in _STARTABLE for j in selected))
        self.pause.setEnabled(any(j.status in (JobStatus.RUNNING, JobStatus.QUEUED) for j in selected))
        self.cancel.setEnabled(any(j.status not in FINISHED_STATUSES for j in selected))
        editable = bool(selected) and all(is_editable(j) for j in selected)
        self.remove.setEnabled(editable)
        self.move_up.setEnabled(len(selected) == 1 and editable)
        self.move_down.setEnabled(len(selected) == 1 and editable)
        self.set_output.setEnabled(editable and all(j.status in _WAITING for j in selected))
        self.open_output.setEnabled(bool(selected))
