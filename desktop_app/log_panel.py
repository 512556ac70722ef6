"""The log panel: Python `logging` records of the app and the engine, shown as they happen, one line each. Records
may come from any thread; a signal carries them to the GUI thread.

A traceback never floods the panel: a record logged with `extra=details(trace)` (or with exc_info) shows its one-line
message marked "(details)", and double-clicking it (or "Show details" in its context menu) opens the traceback."""
from __future__ import annotations

import html
import logging
import time
import traceback
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QContextMenuEvent, QFontDatabase, QMouseEvent
from PySide6.QtWidgets import QMessageBox, QPlainTextEdit, QWidget

LOGGER_NAMES = ("desktop_app", "core")
MAX_LINES = 5000
MAX_DETAILS_KEPT = 200
DETAILS_FIELD = "details"
_LEVEL_COLOURS = {logging.WARNING: "#8a5a00", logging.ERROR: "#b3261e", logging.CRITICAL: "#b3261e"}


def details(text: str) -> dict[str, Any]:
    """`extra` for a log call whose long explanation (a traceback) belongs in the details view, not the line."""
    return {DETAILS_FIELD: text.rstrip()}


class _RecordRelay(QObject):
    record = Signal(int, str, str)  # level, one-line text, details ("" for none)


class QtLogHandler(logging.Handler):
    """A logging handler that forwards records through a Qt signal (queued to the GUI thread)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.relay = _RecordRelay()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            more = getattr(record, DETAILS_FIELD, "") or ""
            if record.exc_info and not more:
                more = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            self.relay.record.emit(record.levelno, text, more)
        except RuntimeError:  # the panel is already gone (window closing)
            pass


class LogPanel(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setPlaceholderText("What the app does shows here: jobs started and finished, files that failed, errors.")
        self._handler = QtLogHandler()
        self._handler.relay.record.connect(self.append_record)
        self._loggers: list[logging.Logger] = []
        self._details: dict[int, str] = {}   # by number, stored in the line's block as its user state
        self._next_details = 1

    def attach(self, names: tuple[str, ...] = LOGGER_NAMES) -> None:
        for name in names:
            logger = logging.getLogger(name)
            logger.addHandler(self._handler)
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)
            self._loggers.append(logger)

    def detach(self) -> None:
        for logger in self._loggers:
            logger.removeHandler(self._handler)
        self._loggers.clear()

    def append_record(self, level: int, text: str, more: str = "") -> None:
        """One line: the time and the message's first line; anything longer goes to the details view."""
        first, _newline, rest = text.partition("\n")
        more = "\n".join(part for part in (rest.strip(), more.strip()) if part)
        stamp = time.strftime("%H:%M:%S")
        colour = _LEVEL_COLOURS.get(level)
        style = "white-space:pre-wrap" + (f";color:{colour}" if colour else "")
        marker = ' <span style="color:#777">(details: double-click)</span>' if more else ""
        self.appendHtml(f'<span style="color:#777">{stamp}</span> <span style="{style}">{html.escape(first)}</span>'
                        f"{marker}")
        if more:
            number = self._next_details
            self._next_details += 1
            self._details[number] = f"{first}\n\n{more}"
            self.document().lastBlock().setUserState(number)
            for old in [key for key in self._details if key <= number - MAX_DETAILS_KEPT]:
                del self._details[old]

    def plain_text(self) -> str:
        return self.toPlainText()

    def details_at_line(self, line: int) -> str | None:
        """The details of the `line`-th line (0 = first), if it has any."""
        block = self.document().findBlockByNumber(line)
        return self._details.get(block.userState()) if block.isValid() else None

    def show_details(self, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Details", text.split("\n", 1)[0],
                          QMessageBox.StandardButton.Close, self)
        box.setDetailedText(text)
        box.open()
        self.details_box = box

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        text = self.details_at_line(self.cursorForPosition(event.position().toPoint()).blockNumber())
        if text:
            self.show_details(text)
        else:
            super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 - Qt's name
        menu = self.createStandardContextMenu(event.pos())
        text = self.details_at_line(self.cursorForPosition(event.pos()).blockNumber())
        action = menu.addAction("Show details")
        action.setEnabled(bool(text))
        action.triggered.connect(lambda: self.show_details(text))
        menu.exec(event.globalPos())
