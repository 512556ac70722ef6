"""The model chooser: bundled models first, then the user's, from the engine's registry (`list_models` reads only
the files' metadata, so it is quick); each item carries its description and licence. A long name is elided in the
closed box and shown whole in the popup and the tooltip (ElidedComboBox)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWidget

from core.model_registry import ModelEntry, default_model_name, list_models

from desktop_app.elided_combo import ElidedComboBox

NO_MODEL_TEXT = "No model installed: use Import model…"


class ModelComboBox(ElidedComboBox):
    model_changed = Signal(object)      # model name (str) or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, about="Hover an entry in the list for its description and licence.")
        self.entries: list[ModelEntry] = []
        self._wanted: str | None = None
        self.currentIndexChanged.connect(self._on_index_changed)

    def refresh(self) -> None:
        """Re-read the registry (after an import or removal), keeping the current choice where it still exists."""
        wanted = self._wanted
        self.blockSignals(True)
        self.clear()
        self.entries = list_models()
        default = default_model_name()
        for entry in self.entries:
            origin = "bundled" if entry.bundled else "yours"
            marker = ", default" if entry.name == default else ""
            self.addItem(f"{entry.metadata.display_name} ({origin}{marker})", entry.name)
            self.setItemData(self.count() - 1, model_card(entry), Qt.ItemDataRole.ToolTipRole)
        if not self.entries:
            self.addItem(NO_MODEL_TEXT, None)
        self.blockSignals(False)
        self.set_model_name(wanted if wanted and self.findData(wanted) >= 0 else default)
        self.model_changed.emit(self.model_name())

    def model_name(self) -> str | None:
        return self.currentData() if self.entries else None

    def current_entry(self) -> ModelEntry | None:
        name = self.model_name()
        return next((e for e in self.entries if e.name == name), None)

    def set_model_name(self, name: str | None) -> None:
        """Select `name`; before the list is read (or with nothing installed) the wish is kept for `refresh`."""
        index = self.findData(name) if name else -1
        self.setCurrentIndex(index if index >= 0 else 0)
        if index < 0 and not self.entries:
            self._wanted = name

    def _on_index_changed(self, _index: int) -> None:
        self._wanted = self.model_name()
        self.model_changed.emit(self._wanted)


def model_card(entry: ModelEntry) -> str:
    """Description, licence and origin of a model, as a person reads it."""
    meta = entry.metadata
    lines = [meta.display_name]
    if meta.description:
        lines.append(meta.description)
    lines.append(f"Licence: {meta.license}")
    lines.append(f"{'Bundled with the app' if entry.bundled else 'Your model'}: {entry.path}")
    return "\n".join(lines)
