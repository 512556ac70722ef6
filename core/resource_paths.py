"""Where the data shipped with the application lives (models, sample photos, icons).

`resources/` holds no code; it sits beside `core/` in a checkout, in an installed wheel and in a frozen app, so
it is found relative to this package. CARTOONIZER_RESOURCES overrides it (tests, packagers).
"""
from __future__ import annotations

import os
from pathlib import Path


def resources_dir() -> Path:
    override = os.environ.get("CARTOONIZER_RESOURCES")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "resources"
