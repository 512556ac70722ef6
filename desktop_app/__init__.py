"""The desktop application: a PySide6 window that queues folders of photos, videos and frame folders through the
same batch engine as the `cartoonize` CLI (`core.batch`). All Qt code of the project lives in this package; it
holds no processing logic of its own.
"""
from __future__ import annotations
