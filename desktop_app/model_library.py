"""Importing and removing user models from the GUI, through the engine's registry (`import_model`,
`remove_model`). Converting a file (a White-box TFLite graph, a state dict) takes seconds, so it runs on a worker."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMessageBox, QWidget

from core.model_file import ModelFileError
from core.model_registry import ModelEntry, import_model, remove_model

from desktop_app.function_worker import run_in_background
from desktop_app.log_panel import details

log = logging.getLogger("desktop_app.models")
IMPORT_FILTER = "Model files (*.safetensors *.tflite *.pt *.pth);;All files (*)"


def suggested_model_name(path: Path) -> str:
    """A registry-valid name from a file name: letters, digits, '.', '_' and '-', at most 64."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._") or "model"
    return name[:64]


class ModelLibrary(QObject):
    imported = Signal(str)          # model name
    removed = Signal(str)
    failed = Signal(str)            # message
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.busy = False

    # --- with dialogs ----------------------------------------------------------------------------------------
    def ask_and_import(self, parent: QWidget, start_folder: str = "") -> None:
        path, _filter = QFileDialog.getOpenFileName(parent, "Import model", start_folder, IMPORT_FILTER)
        if not path:
            return
        name, accepted = QInputDialog.getText(parent, "Import model", "Name for the imported model:",
                                              QLineEdit.EchoMode.Normal, suggested_model_name(Path(path)))
        if accepted and name.strip():
            self.import_file(Path(path), name.strip())

    def ask_and_remove(self, parent: QWidget, name: str | None, bundled: bool) -> None:
        if not name:
            return
        if bundled:
            QMessageBox.information(parent, "Remove model", f"“{name}” is bundled with the app and cannot be removed.")
            return
        answer = QMessageBox.question(parent, "Remove model", f"Delete your model “{name}”? This cannot be undone.")
        if answer == QMessageBox.StandardButton.Yes:
            self.remove(name)

    # --- without ---------------------------------------------------------------------------------------------
    def import_file(self, path: Path, name: str) -> None:
        """Convert `path` into the user's model folder as `name`; `imported` or `failed` follows."""
        self._set_busy(True)
        log.info("importing model %s from %s", name, path)
        run_in_background(import_model, path, name, on_returned=self._imported, on_errored=self._import_failed)

    def remove(self, name: str) -> None:
        try:
            remove_model(name)
        except (ModelFileError, OSError) as exc:
            self.failed.emit(str(exc))
            return
        log.info("removed model %s", name)
        self.removed.emit(name)

    def _imported(self, entry: ModelEntry) -> None:
        self._set_busy(False)
        log.info("imported model %s", entry.name)
        self.imported.emit(entry.name)

    def _import_failed(self, message: str, trace: str) -> None:
        self._set_busy(False)
        log.error("model import failed: %s", message, extra=details(trace))
        self.failed.emit(message)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.busy_changed.emit(busy)
