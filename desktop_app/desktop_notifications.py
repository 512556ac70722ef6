"""Telling the user that the queue has finished while they look elsewhere: a system notification through the tray
where the platform has one, otherwise the taskbar's attention signal (Qt's `alert`)."""
from __future__ import annotations

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

NOTIFICATION_MS = 8000


class DesktopNotifier:
    """One tray icon, created on the first notification and hidden again after it (no lingering tray entry)."""

    def __init__(self, window: QWidget, icon: QIcon):
        self._window, self._icon = window, icon
        self._tray: QSystemTrayIcon | None = None

    def notify(self, title: str, text: str) -> str:
        """Show `title`/`text` the best way this platform allows; returns how: "notification" or "alert"."""
        if QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages():
            if self._tray is None:
                self._tray = QSystemTrayIcon(self._icon, self._window)
                self._tray.messageClicked.connect(self._bring_window_up)
            self._tray.show()
            self._tray.showMessage(title, text, self._icon, NOTIFICATION_MS)
            return "notification"
        QApplication.alert(self._window)
        return "alert"

    def _bring_window_up(self) -> None:
        self._window.showNormal()
        self._window.raise_()
        self._window.activateWindow()
