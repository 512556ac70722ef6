"""The data folder is found by the import system (as in a frozen app), not next to a source file."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.resource_paths import ResourcesNotFoundError, resources_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_checkouts_resources_are_found_through_the_import_path(monkeypatch):
    monkeypatch.delenv("CARTOONIZER_RESOURCES", raising=False)
    assert resources_dir() == REPO_ROOT / "resources"


def test_a_copy_elsewhere_on_the_import_path_is_found_and_strays_are_skipped(monkeypatch, tmp_path):
    """Like a PyInstaller bundle: resources/ beside the packages in a folder on sys.path; a `resources/` folder
    without models/ (someone's working directory, say) earlier on the path is not taken for ours."""
    monkeypatch.delenv("CARTOONIZER_RESOURCES", raising=False)
    (tmp_path / "stray" / "resources").mkdir(parents=True)
    (tmp_path / "bundle" / "resources" / "models").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "stray"), str(tmp_path / "bundle")])
    monkeypatch.delitem(sys.modules, "resources", raising=False)
    assert resources_dir() == tmp_path / "bundle" / "resources"


def test_a_missing_data_folder_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.delenv("CARTOONIZER_RESOURCES", raising=False)
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    monkeypatch.delitem(sys.modules, "resources", raising=False)
    with pytest.raises(ResourcesNotFoundError, match="not on the import path"):
        resources_dir()


def test_the_override_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("CARTOONIZER_RESOURCES", str(tmp_path))
    assert resources_dir() == tmp_path
