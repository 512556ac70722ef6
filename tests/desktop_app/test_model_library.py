"""Importing and removing user models from the GUI, through the engine's registry, on a worker."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.model_registry import list_models
from desktop_app.model_library import suggested_model_name
from tests.conftest import WHITEBOX_TFLITE, requires_shared


def test_import_adds_the_model_to_the_list_and_remove_takes_it_away(window, tiny_model_file, qtbot):
    library, combo = window.models, window.options_panel.model_combo
    with qtbot.waitSignal(library.imported, timeout=20_000):
        library.import_file(tiny_model_file, "mine")
    assert "mine" in [combo.itemData(i) for i in range(combo.count())]
    assert combo.model_name() == "mine"                       # the new model is selected
    assert window.options_panel.remove_model_button.isEnabled()  # a user model can be removed
    assert "tiny test model" in combo.currentText()
    with qtbot.waitSignal(library.removed):
        library.remove("mine")
    assert "mine" not in [combo.itemData(i) for i in range(combo.count())]
    assert [e.name for e in list_models()] == ["tiny"]


def test_a_bad_import_and_removing_a_bundled_model_report_why(window, tmp_path, qtbot):
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"nope")
    with qtbot.waitSignal(window.models.failed, timeout=20_000) as failed:
        window.models.import_file(bogus, "bogus")
    assert "bogus" in failed.args[0]
    assert window.notice_bar.isVisible() and "bogus" in window.notice_bar.label.text()
    with qtbot.waitSignal(window.models.failed) as failed:
        window.models.remove("tiny")
    assert "bundled" in failed.args[0]


@requires_shared(WHITEBOX_TFLITE)
def test_a_whitebox_tflite_file_imports_with_its_licence(window, qtbot):
    with qtbot.waitSignal(window.models.imported, timeout=60_000):
        window.models.import_file(WHITEBOX_TFLITE, "whitebox")
    entry = window.options_panel.model_combo.current_entry()
    assert entry.name == "whitebox" and "NC" in entry.metadata.license
    assert "NC" in window.options_panel.model_description.text()


@pytest.mark.parametrize("file_name, expected", [
    ("whitebox_cartoon_gan_fp16.tflite", "whitebox_cartoon_gan_fp16"),
    ("My Model (v2).safetensors", "My-Model-v2"), ("???.pt", "model")])
def test_suggested_names_are_valid_registry_names(file_name, expected):
    assert suggested_model_name(Path(file_name)) == expected
