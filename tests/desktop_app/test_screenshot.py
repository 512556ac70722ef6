"""Screenshots of the real app with the bundled default model on a real X server (Xvfb, xcb platform): the main
window with a finished photo job's before/after and the region sliders, and a video job's frame zoomed side by side
(see screenshot_app.py). Writes them under tmp_path, and to docs/screenshots/ for the README when
CARTOONIZER_WRITE_SCREENSHOTS=1.

Needs Xvfb and the X libraries of Qt's xcb plugin (Debian/Ubuntu: xvfb libxcb-cursor0 libxcb-icccm4 libxcb-image0
libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1
libxkbcommon-x11-0 libx11-xcb1 libegl1 libgl1 libfontconfig1 libdbus-1-3 fonts-dejavu-core).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from core.model_registry import default_model_name

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
README_SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None,
                                reason="Xvfb is not on PATH (apt-get install xvfb) — no X server for the screenshot")


@pytest.fixture
def x_display():
    """A private Xvfb server on a free display number (Xvfb picks it and reports it through -displayfd)."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1600x1000x24",
                               "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as reader:
            number = reader.readline().strip()
        if not number:
            pytest.fail(f"Xvfb did not start: {server.stderr.read().decode(errors='replace')[-2000:]}")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow  # the app in a subprocess under Xvfb
def test_main_window_screenshots_with_a_finished_job_and_a_video(x_display, tmp_path):
    out = tmp_path / "shots"
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": x_display,
           "CARTOONIZER_CONFIG_DIR": str(tmp_path / "config"), "CARTOONIZER_DATA_DIR": str(tmp_path / "data"),
           "HOME": str(tmp_path / "home")}
    env.pop("CARTOONIZER_RESOURCES", None)  # the real resources: the icon is part of the picture
    result = subprocess.run([sys.executable, str(HERE / "screenshot_app.py"), str(out)],
                            env=env, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    if "could not load the Qt platform plugin" in result.stderr.lower():
        pytest.fail("Qt's xcb plugin cannot load; install its X libraries (see this module's docstring):\n"
                    + result.stderr[-3000:])
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"on xcb with {default_model_name()}" in result.stdout   # the bundled model, not a demo filter
    for name in ("main-window.png", "video-preview.png"):
        with Image.open(out / name) as image:
            assert image.size == (1366, 768)
            colours = image.convert("RGB").resize((68, 38)).getcolors(68 * 38)
            assert colours is not None and len(colours) > 50  # a drawn window, not a blank frame
        if os.environ.get("CARTOONIZER_WRITE_SCREENSHOTS") == "1":
            README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(out / name, README_SCREENSHOTS / name)
