"""Where the data shipped with the application lives (models, sample photos, icons).

`resources/` holds no code, so it is a namespace package: the import system finds it on `sys.path` the same way in
a checkout, an installed wheel and a frozen (PyInstaller) app, where it sits in the bundle's folder. We ask the import
system for it rather than building a path next to this file, so a packager can place it anywhere on `sys.path`.
(`importlib.resources.files` would be the natural call, but on Python 3.10 and 3.11 it fails on a namespace package
whose path holds an editable install's hook entry, which `pip install -e` adds.) CARTOONIZER_RESOURCES overrides it
(tests, packagers).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

RESOURCES_PACKAGE = "resources"
MARKER_FOLDER = "models"  # every copy of our resources has it; a stray `resources/` folder on sys.path does not


class ResourcesNotFoundError(RuntimeError):
    """The application's data folder is missing: a broken install or bundle."""


def resources_dir() -> Path:
    override = os.environ.get("CARTOONIZER_RESOURCES")
    if override:
        return Path(override)
    spec = importlib.util.find_spec(RESOURCES_PACKAGE)
    locations = [Path(entry) for entry in (spec.submodule_search_locations or [])] if spec else []
    for location in locations:
        if (location / MARKER_FOLDER).is_dir():
            return location
    raise ResourcesNotFoundError(
        f"the application's data folder ({RESOURCES_PACKAGE}/ with {MARKER_FOLDER}/) is not on the import path; "
        f"looked in: {', '.join(map(str, locations)) or 'nowhere'}. Reinstall, or set CARTOONIZER_RESOURCES.")
