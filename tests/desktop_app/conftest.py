"""Qt fixtures for the desktop app: an isolated config folder, a bundled tiny model, photo folders and a window.

All offscreen (QT_QPA_PLATFORM=offscreen, set in tests/conftest.py); workers run the real engine on the CPU."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pytest
from PIL import Image

from tests.conftest import gradient_image, make_tiny_generator

try:  # a checkout without the GUI extras still runs the rest of the suite
    import PySide6  # noqa: F401
    import pytestqt  # noqa: F401
except ImportError:
    collect_ignore_glob = ["test_*.py"]

TINY_MODEL_NAME = "tiny"


@pytest.fixture(autouse=True)
def config_dir(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own settings folder, so no test reads or writes the real user's settings."""
    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("CARTOONIZER_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def bundled_tiny_model(empty_resources) -> Path:
    """A tiny generator installed as the bundled default model (so the model list and the default are not empty)."""
    from core.model_file import ModelMetadata, save_model

    metadata = ModelMetadata(display_name="Tiny test model", description="Random weights for tests.",
                             license="MIT", provenance={"default": True})
    return save_model(empty_resources / "models" / f"{TINY_MODEL_NAME}.safetensors", make_tiny_generator(), metadata)


def write_photo(path: Path, height: int = 64, width: int = 80, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((gradient_image(height, width, seed) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def make_photo_folder(tmp_path) -> Callable[..., Path]:
    def make(name: str = "photos", count: int = 3, height: int = 64, width: int = 80) -> Path:
        folder = tmp_path / name
        for index in range(count):
            write_photo(folder / f"photo_{index:02d}.png", height, width, seed=index)
        return folder

    return make


@pytest.fixture
def window(qtbot, bundled_tiny_model):
    """The main window with the tiny model; workers are stopped before the next test."""
    from PySide6.QtCore import QThreadPool

    from desktop_app.main_window import MainWindow

    main_window = MainWindow()
    main_window.confirm_quit = lambda: True
    qtbot.addWidget(main_window)
    main_window.show()
    qtbot.waitUntil(lambda: bool(main_window.options_panel.device_combo.devices), timeout=10_000)
    yield main_window
    main_window.shutdown()
    QThreadPool.globalInstance().waitForDone(10_000)


def wait_for_status(qtbot, job, statuses: Iterable, timeout_ms: int = 30_000) -> None:
    wanted = set(statuses)
    qtbot.waitUntil(lambda: job.status in wanted, timeout=timeout_ms)


def outputs_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
