"""A bar above the queue for things that need a decision (retry a GPU failure on the CPU, restore the queue after
a crash) or attention (a job that could not start). Unlike a modal dialog it never stops the queue or the tests."""
from __future__ import annotations

import html
from typing import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

NoticeAction = tuple[str, Callable[[], None]]
MAX_NOTICE_CHARS = 240
_STYLES = {  # light backgrounds with dark text, in the light and the dark theme alike
    "info": ("background: #e8f0fb; border: 1px solid #9bb7e0;", "#17324d"),
    "warning": ("background: #fff4d6; border: 1px solid #e0b64a;", "#4d3a00"),
    "error": ("background: #fde8e6; border: 1px solid #e39a93;", "#5c1410"),
}


class NoticeBar(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("notice_bar")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(10, 6, 6, 6)
        self._layout.addWidget(self.label, 1)
        self.buttons: list[QPushButton] = []
        self.hide()

    def show_notice(self, text: str, actions: Sequence[NoticeAction] = (), level: str = "info") -> None:
        """Show `text` with one button per action (each also closes the bar) and a Dismiss button."""
        for button in self.buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        frame, text_colour = _STYLES.get(level, _STYLES["info"])
        self.setStyleSheet(f"#notice_bar {{ {frame} border-radius: 6px; }} "
                           f"#notice_bar QLabel {{ color: {text_colour}; }}")
        self.label.setText(shortened(text))
        self.label.setToolTip(text if self.label.text() != text else "")
        for label, callback in [*actions, ("Dismiss", lambda: None)]:
            button = QPushButton(label)
            button.clicked.connect(lambda _checked=False, cb=callback: self._run(cb))
            self._layout.addWidget(button)
            self.buttons.append(button)
        self.show()

    def button(self, text: str) -> QPushButton | None:
        return next((b for b in self.buttons if b.text() == text), None)

    def _run(self, callback: Callable[[], None]) -> None:
        self.hide()
        callback()


def shortened(text: str, limit: int = MAX_NOTICE_CHARS) -> str:
    """A notice short enough for two or three lines, so that the queue under it keeps its room: a long one (an
    encoder's error, say) becomes its plain text cut at a word with "…"; the tooltip and the log have it whole."""
    document = QTextDocument()
    document.setHtml(text)
    plain = " ".join(document.toPlainText().split())
    if len(plain) <= limit:
        return text
    return html.escape(plain[:limit].rsplit(" ", 1)[0]) + " …"
