"""The drop zone: the visible place to drop photos, folders and videos (the whole window accepts drops too), with
the two buttons that do the same by dialog."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

HINT = "<b>Drop photos, folders or videos here</b> — or anywhere on this window"


class DropZone(QFrame):
    add_files_clicked = Signal()
    add_folder_clicked = Signal()

    def __init__(self, icon: QIcon, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("drop_zone")
        self.setStyleSheet(
            "#drop_zone { border: 2px dashed palette(mid); border-radius: 10px; background: palette(base); }"
            "#drop_zone[hover=\"true\"] { border-color: palette(highlight); background: palette(alternate-base); }")
        logo = QLabel()
        logo.setPixmap(icon.pixmap(36, 36))
        self.logo = logo
        text = QLabel(HINT)
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setWordWrap(True)
        self.add_files_button = QPushButton("Add files…")
        self.add_folder_button = QPushButton("Add folder…")
        self.add_files_button.clicked.connect(self.add_files_clicked)
        self.add_folder_button.clicked.connect(self.add_folder_clicked)
        layout = QHBoxLayout(self)
        self._layout = layout
        layout.setContentsMargins(14, 10, 14, 10)
        layout.addWidget(logo)
        layout.addWidget(text, 1)
        layout.addWidget(self.add_files_button)
        layout.addWidget(self.add_folder_button)

    def set_hover(self, hover: bool) -> None:
        """Highlight while a drag that the window accepts is over it."""
        self.setProperty("hover", hover)
        self.style().unpolish(self)
        self.style().polish(self)

    def set_compact(self, compact: bool) -> None:
        """Once the queue has jobs the zone shrinks to one slim row, leaving the room to the queue."""
        self.logo.setVisible(not compact)
        self._layout.setContentsMargins(*((10, 3, 6, 3) if compact else (14, 10, 14, 10)))
