"""The log panel: Python `logging` records of the app and the engine, shown as they happen. Records may come from
any thread; a signal carries them to the GUI thread."""
from __future__ import annotations

import html
import logging
import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget

LOGGER_NAMES = ("desktop_app", "core")
MAX_LINES = 5000
_LEVEL_COLOURS = {logging.WARNING: "#8a5a00", logging.ERROR: "#b3261e", logging.CRITICAL: "#b3261e"}


class _RecordRelay(QObject):
    record = Signal(int, str)  # level, formatted text


class QtLogHandler(logging.Handler):
    """A logging handler that forwards formatted records through a Qt signal (queued to the GUI thread)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.relay = _RecordRelay()
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.relay.record.emit(record.levelno, self.format(record))
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

    def append_record(self, level: int, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        colour = _LEVEL_COLOURS.get(level)
        style = "white-space:pre-wrap" + (f";color:{colour}" if colour else "")
        body = html.escape(text).replace("\n", "<br>")
        self.appendHtml(f'<span style="color:#777">{stamp}</span> <span style="{style}">{body}</span>')

    def plain_text(self) -> str:
        return self.toPlainText()
