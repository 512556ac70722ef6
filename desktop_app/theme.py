"""Light or dark: the app follows the system's colour scheme, unless View → Theme picks one.

The choice goes to Qt's style hints (Qt 6.8+: platforms that can, switch their own widgets) and to the palette, so
that every platform, the Fusion style included, draws the same scheme; "system" re-applies it when the system's
scheme changes."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark"))
_SCHEMES = {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}


def scheme_for(theme: str) -> Qt.ColorScheme:
    """The colour scheme a theme choice means now: the system's for "system" (Unknown counts as light)."""
    if theme in _SCHEMES:
        return _SCHEMES[theme]
    return QGuiApplication.styleHints().colorScheme()


def apply_theme(theme: str) -> Qt.ColorScheme:
    """Switch the running application to `theme` ("system", "light" or "dark"); returns the scheme applied."""
    app = QApplication.instance()
    hints = QGuiApplication.styleHints()
    hints.setColorScheme(_SCHEMES.get(theme, Qt.ColorScheme.Unknown))
    scheme = scheme_for(theme)
    app.setPalette(dark_palette() if scheme == Qt.ColorScheme.Dark else app.style().standardPalette())
    for widget in app.allWidgets():  # style sheets that name palette colours resolved them once: again
        if widget.styleSheet():
            widget.setStyleSheet(widget.styleSheet())
    return scheme


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def dark_palette() -> QPalette:
    """A dark palette for the Fusion-like styles (Qt's own dark colours where a platform supplies none)."""
    colours = {
        QPalette.ColorRole.Window: "#2b2d30", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f2023", QPalette.ColorRole.AlternateBase: "#2a2c2f",
        QPalette.ColorRole.ToolTipBase: "#3a3d41", QPalette.ColorRole.ToolTipText: "#f0f0f0",
        QPalette.ColorRole.PlaceholderText: "#9a9da3", QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#35373b", QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.BrightText: "#ff6b6b", QPalette.ColorRole.Light: "#4a4d52",
        QPalette.ColorRole.Midlight: "#404347", QPalette.ColorRole.Mid: "#5a5d63", QPalette.ColorRole.Dark: "#18191b",
        QPalette.ColorRole.Shadow: "#000000", QPalette.ColorRole.Highlight: "#3d7bd9",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.Link: "#7fb2ff",
        QPalette.ColorRole.LinkVisited: "#b69cff",
    }
    palette = QPalette()
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7c7f85"))
    return palette
