"""The application icon, drawn as SVG in `resources/icons/` (data only; found through `core.resource_paths`)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

from core.resource_paths import resources_dir

ICON_NAME = "cartoonizer.svg"


def app_icon_path() -> Path:
    return resources_dir() / "icons" / ICON_NAME


def load_app_icon() -> QIcon:
    """The icon, or an empty one if the file is missing (a packaging mistake must not stop the app)."""
    path = app_icon_path()
    return QIcon(str(path)) if path.is_file() else QIcon()
