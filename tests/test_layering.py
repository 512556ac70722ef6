"""The import rules of the style guide: desktop_app → trainer → core, never backwards; Qt only in desktop_app; and
no module imports another module's private (underscore) names, so that what a module offers is what it names."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "core": ("trainer", "desktop_app", "PySide6", "PyQt5", "PyQt6"),
    "trainer": ("desktop_app", "PySide6", "PyQt5", "PyQt6"),
}
PACKAGES = ("core", "trainer", "desktop_app")
# (importing file, module, private name) still imported across modules, each with its reason; keep this short
PRIVATE_IMPORTS_ALLOWED: set[tuple[str, str, str]] = set()


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_imports(path: Path) -> set[tuple[str, str]]:
    """(module, name) for each private name `path` imports from this project: `from m import _x`, and any import
    of a private module (`m._impl`)."""
    found: set[tuple[str, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported = [(node.module, [alias.name for alias in node.names])]
        elif isinstance(node, ast.Import):
            imported = [(alias.name, []) for alias in node.names]
        else:
            continue
        for module, names in imported:
            if module.split(".")[0] in PACKAGES:
                found.update((module, name) for name in names + module.split(".") if _is_private(name))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_upwards(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in _imported_modules(path):
            if name.split(".")[0] in FORBIDDEN[package]:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders


def test_no_private_names_are_imported_across_modules():
    found = {(path.relative_to(ROOT).as_posix(), module, name)
             for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             for module, name in _private_imports(path)}
    assert not found - PRIVATE_IMPORTS_ALLOWED, sorted(found - PRIVATE_IMPORTS_ALLOWED)
    assert not PRIVATE_IMPORTS_ALLOWED - found, f"no longer needed, remove: {sorted(PRIVATE_IMPORTS_ALLOWED - found)}"


def test_the_private_import_check_sees_what_it_should(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from core.generator import _hidden, Public\nimport core._impl\nfrom core import __version__\n"
                      "from os import _exit\n", encoding="utf-8")
    assert _private_imports(sample) == {("core.generator", "_hidden"), ("core._impl", "_impl")}


def test_only_the_video_package_imports_pyav():
    importers = sorted(path.relative_to(ROOT).as_posix() for package in PACKAGES
                       for path in (ROOT / package).rglob("*.py")
                       if any(name.split(".")[0] == "av" for name in _imported_modules(path)))
    assert importers and all(path.startswith("core/video/") for path in importers), importers


def test_resources_hold_no_code():
    assert not list((ROOT / "resources").rglob("*.py"))
