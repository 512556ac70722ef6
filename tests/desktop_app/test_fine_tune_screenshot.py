"""A screenshot of the fine-tuning wizard's training page on a real X server (Xvfb, xcb platform), mid-run: the
recorded JSON lines and sample grid of a real short fine-tune (record_fine_tune_run.py) replayed through the real
process runner. Writes it under tmp_path, and to docs/screenshots/fine-tune-wizard.png for the README when
CARTOONIZER_WRITE_SCREENSHOTS=1. Needs what test_screenshot.py needs (Xvfb and Qt's xcb libraries)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.desktop_app.test_screenshot import x_display  # noqa: F401 - the fixture

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
README_SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "fine-tune-wizard.png"

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None,
                                reason="Xvfb is not on PATH (apt-get install xvfb) — no X server for the screenshot")


@pytest.mark.slow  # the wizard in a subprocess under Xvfb
def test_fine_tune_wizard_screenshot_mid_run(x_display, tmp_path):  # noqa: F811
    out = tmp_path / "fine-tune-wizard.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": x_display,
           "CARTOONIZER_CONFIG_DIR": str(tmp_path / "config"), "CARTOONIZER_DATA_DIR": str(tmp_path / "data"),
           "HOME": str(tmp_path / "home")}
    env.pop("CARTOONIZER_RESOURCES", None)
    (tmp_path / "home").mkdir()
    result = subprocess.run([sys.executable, str(HERE / "fine_tune_screenshot_app.py"), str(out)],
                            env=env, capture_output=True, text=True, timeout=180, cwd=REPO_ROOT)
    if "could not load the Qt platform plugin" in result.stderr.lower():
        pytest.fail("Qt's xcb plugin cannot load; install its X libraries (see test_screenshot.py):\n"
                    + result.stderr[-3000:])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "on xcb" in result.stdout
    with Image.open(out) as image:
        assert image.size == (1100, 820)
        colours = image.convert("RGB").resize((110, 82)).getcolors(110 * 82)
        assert colours is not None and len(colours) > 50  # plot lines and a sample grid, not a blank page
    if os.environ.get("CARTOONIZER_WRITE_SCREENSHOTS") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, README_SCREENSHOT)
