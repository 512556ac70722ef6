"""The import rules of the style guide: desktop_app → trainer → core, never backwards; Qt only in desktop_app."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "core": ("trainer", "desktop_app", "PySide6", "PyQt5", "PyQt6"),
    "trainer": ("desktop_app", "PySide6", "PyQt5", "PyQt6"),
}


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_upwards(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in _imported_modules(path):
            if name.split(".")[0] in FORBIDDEN[package]:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders


def test_resources_hold_no_code():
    assert not list((ROOT / "resources").rglob("*.py"))
