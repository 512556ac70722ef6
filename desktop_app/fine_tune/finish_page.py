"""The wizard's last page: name the fine-tuned model; Finish adds it to the user's models through the engine's
registry (`import_model`, on the thread pool) and the main window's model list shows it."""
from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget, QWizardPage

from core.model_registry import is_valid_model_name
from core.model_registry import ModelEntry, import_model, list_models

from desktop_app.fine_tune.sample_view import SampleView
from desktop_app.fine_tune.session import FineTuneSession
from desktop_app.function_worker import run_in_background
from desktop_app.log_panel import details
from desktop_app.model_library import suggested_model_name

log = logging.getLogger("desktop_app.fine_tune")
PROBLEM_STYLE = "color: #b3261e;"
NOTE_STYLE = "color: palette(placeholder-text);"


def model_name_problem(name: str, taken: set[str]) -> str | None:
    """Why `name` cannot name a new user model (the registry's own rule, and no clash); None when it can."""
    if not name:
        return "Give the model a name."
    if not is_valid_model_name(name):
        return ("Use letters, digits, '.', '_' or '-' (no spaces), starting with a letter or digit, "
                "at most 64 characters.")
    if name in taken:
        return f"A model named “{name}” exists already; choose another name."
    return None


def unique_name(stem: str, taken: set[str]) -> str:
    name, number = stem, 1
    while name in taken:
        number += 1
        suffix = f"-{number}"
        name = stem[:64 - len(suffix)] + suffix
    return name


class FinishPage(QWizardPage):
    imported = Signal(str)  # the new model's name

    def __init__(self, session: FineTuneSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setTitle("Name your model")
        self.setSubTitle("It joins your models and can be chosen in the main window's model list.")
        self.setFinalPage(True)
        self._taken: set[str] = set()
        self._importing = False
        self._imported_name: str | None = None

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(64)
        self.name_edit.setPlaceholderText("e.g. my-comic-style")
        self.display_edit = QLineEdit()
        self.display_edit.setPlaceholderText("shown in the model list; the name if empty")
        form = QFormLayout()
        form.addRow("Name:", self.name_edit)
        form.addRow("Shown as:", self.display_edit)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(PROBLEM_STYLE)
        self.sample_view = SampleView()
        self.sample_view.placeholder = "No sample grid was written."
        self.folder_note = QLabel()
        self.folder_note.setWordWrap(True)
        self.folder_note.setStyleSheet(NOTE_STYLE)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.sample_view, 1)
        layout.addWidget(self.folder_note)
        self.name_edit.textChanged.connect(self._update)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        session = self.session
        self._taken = {entry.name for entry in list_models()}
        base = suggested_model_name(session.plan.base_model) if session.plan else "model"
        self.name_edit.setText(unique_name(f"{base}-tuned"[:64], self._taken))
        self.display_edit.setText(f"{session.base_display_name or base}, fine-tuned")
        self.summary.setText(
            f"Fine-tuned from {session.base_display_name or base}"
            + (f" for {session.model_step:,} steps" if session.model_step is not None else "")
            + (f" on {len(session.photos.images)} photos" if session.photos else "") + ".")
        if session.last_sample is not None:
            self.sample_view.show_file(session.last_sample)
        self.folder_note.setText(f"The run folder keeps the checkpoints and samples: {session.run_dir}")
        self._update()

    def problem(self) -> str | None:
        if self._importing:
            return "Adding the model…"
        return model_name_problem(self.name_edit.text().strip(), self._taken)

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.problem() is None and self.session.model_path is not None

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        """Finish: import the exported model first (on a worker); the wizard closes when it is in the list."""
        if self._imported_name is not None:
            return True
        if self._importing or self.session.model_path is None:
            return False
        name = self.name_edit.text().strip()
        display = self.display_edit.text().strip() or name
        self._importing = True
        self._update()
        log.info("adding the fine-tuned model %s from %s", name, self.session.model_path)
        run_in_background(import_model, self.session.model_path, name, display_name=display,
                          on_returned=self._imported, on_errored=self._import_failed)
        return False

    def _imported(self, entry: ModelEntry) -> None:
        self._importing = False
        self._imported_name = entry.name
        self.imported.emit(entry.name)
        wizard = self.wizard()
        if wizard is not None:
            wizard.accept()  # validatePage now agrees

    def _import_failed(self, message: str, trace: str) -> None:
        self._importing = False
        log.error("adding the fine-tuned model failed: %s", message, extra=details(trace))
        self._update()
        self.problem_label.setText(f"The model could not be added: {message}")

    def _update(self) -> None:
        problem = self.problem()
        self.problem_label.setText(problem if problem and not problem.endswith("…") else "")
        self.name_edit.setEnabled(not self._importing)
        self.display_edit.setEnabled(not self._importing)
        self.completeChanged.emit()
