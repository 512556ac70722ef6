"""The cartoonization engine: generator, guided filter, model files, devices, image I/O and the batch runner.

Knows nothing of Qt or training; `trainer/` and `desktop_app/` build on it.
"""
from __future__ import annotations

__version__ = "0.1.0"
