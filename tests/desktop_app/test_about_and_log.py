"""The About box (versions and model licences) and the log panel (records from any thread)."""
from __future__ import annotations

import logging
import threading

from PySide6 import __version__ as pyside_version

from core import __version__ as app_version
from desktop_app.about_dialog import AboutDialog, about_html


def test_about_lists_versions_and_every_models_licence(window, qtbot):
    text = about_html()
    assert app_version in text and pyside_version in text and "torch" in text
    assert "Tiny test model" in text and "MIT" in text
    dialog = AboutDialog(window.icon, window)
    qtbot.addWidget(dialog)
    assert "Tiny test model" in dialog.body.toPlainText()


def test_the_log_panel_shows_records_from_worker_threads(window, qtbot):
    logger = logging.getLogger("desktop_app.test")
    thread = threading.Thread(target=lambda: logger.warning("from a worker thread"))
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: "from a worker thread" in window.log_panel.plain_text(), timeout=5_000)
    window.shutdown()
    logger.warning("after the window closed")  # no handler left behind: nothing raises
    assert "after the window closed" not in window.log_panel.plain_text()
