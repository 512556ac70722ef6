"""One executable, every entry point (desktop_app.launcher), the frozen app's trainer command, and the self-test
that a packaged app runs on itself (here unfrozen, on the tiny bundled model)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from core import __version__
from desktop_app.fine_tune import training_process
from desktop_app.launcher import main as launch
from desktop_app.self_test import FINE_TUNED_NAME
from desktop_app.self_test import main as self_test
from tests.desktop_app.fine_tune_fixtures import write_pictures

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_version_is_the_packages_one_source(capsys):
    assert launch(["--version"]) == 0
    assert capsys.readouterr().out == f"Cartoonizer {__version__}\n"
    import tomllib
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "core.__version__"}


def test_the_cli_commands_are_dispatched_with_their_own_arguments(capsys):
    with pytest.raises(SystemExit) as exited:  # argparse's --version exits
        launch(["cartoonize", "--version"])
    assert exited.value.code == 0 and capsys.readouterr().out == f"cartoonize {__version__}\n"
    with pytest.raises(SystemExit) as exited:
        launch(["cartoonize-train", "--help"])
    assert exited.value.code == 0 and capsys.readouterr().out.startswith("usage: cartoonize-train")
    assert launch(["cartoonize", "--list-models"]) == 0
    assert launch(["--help"]) == 0 and "cartoonize-train ARGS" in capsys.readouterr().out


def test_a_frozen_app_runs_the_trainer_through_its_own_executable(monkeypatch):
    assert training_process.trainer_command() == [sys.executable, "-m", "trainer"]
    assert "PYTHONPATH" in training_process._environment().keys()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/Cartoonizer/Cartoonizer")
    assert training_process.trainer_command() == ["/opt/Cartoonizer/Cartoonizer", "cartoonize-train"]
    environment = training_process._environment()
    assert environment.value("PYTHONUNBUFFERED") == "1"
    assert str(REPO_ROOT) not in environment.value("PYTHONPATH", "").split(":")


@pytest.fixture
def bundled_samples(bundled_tiny_model, empty_resources) -> Path:
    """The real sample photos beside the tiny bundled default model."""
    return Path(shutil.copytree(REPO_ROOT / "resources" / "samples", empty_resources / "samples"))


def test_the_self_test_cartoonizes_the_samples_through_the_window(qtbot, bundled_samples, capsys):
    assert self_test(["--timeout", "120"]) == 0
    out = capsys.readouterr().out
    assert "main window shown at" in out and "self-test: passed" in out
    assert "self-test: 4 samples cartoonized by the batch worker" in out


def test_the_self_test_fails_with_the_reason(qtbot, bundled_samples, capsys):
    for sample in bundled_samples.glob("*.jpg"):
        sample.unlink()
    assert self_test(["--timeout", "60"]) == 1
    assert f"self-test: FAILED: no sample photos in {bundled_samples}" in capsys.readouterr().out


def test_the_self_test_fine_tunes_through_the_wizard(qtbot, bundled_samples, tmp_path, capsys):
    """The wizard's real trainer process (2 steps of 64 px crops from the tiny model), then the new model is
    selected in the list: what the packaged app's smoke test runs on itself."""
    photos = write_pictures(tmp_path / "photos", 20, seed=100)
    cartoons = write_pictures(tmp_path / "cartoons", 20, cartoon=True)
    assert self_test(["--fine-tune", str(photos), str(cartoons), "--timeout", "240"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "the wizard's trainer process ran and finished: " + f"{sys.executable} -m trainer" in out
    assert f"the new model {FINE_TUNED_NAME} is selected in the model list" in out
