"""A screenshot of the packaged app's real window on a real X server (Xvfb): the frozen executable is started with the
sample photos (as a user dropping them would), and the screen is grabbed once the picture has settled (the preview
renders after the window appears). Run with the project's Python after scripts/build_app.sh:

    .venv/bin/python packaging/screenshot_app.py [APP_FOLDER] [OUT.png]

Defaults: dist/Cartoonizer, docs/screenshots/packaged-app.png. Settings and models go to a temporary HOME.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageChops, ImageGrab

ROOT = Path(__file__).resolve().parents[1]
SCREEN = (1360, 880)
SETTLED_S = 15.0    # unchanged this long counts as settled (the preview renders on a busy CPU)
TIMEOUT_S = 180.0


def start_xvfb() -> tuple[subprocess.Popen, str]:
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
                               "-nolisten", "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        number = reader.readline().strip()
    if not number:
        server.kill()
        raise SystemExit("screenshot: Xvfb did not start")
    return server, f":{number}"


def grab_when_settled(display: str, app: subprocess.Popen) -> Image.Image:
    """The screen once it has stopped changing for SETTLED_S (and is not blank)."""
    deadline = time.monotonic() + TIMEOUT_S
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise SystemExit(f"screenshot: the app exited with {app.returncode}")
        shot = ImageGrab.grab(xdisplay=display).convert("RGB")
        drawn = len(shot.resize((68, 44)).getcolors(68 * 44) or []) > 50
        if last is None or ImageChops.difference(shot, last).getbbox() is not None or not drawn:
            last, since = shot, time.monotonic()
        elif time.monotonic() - since >= SETTLED_S:
            return shot.crop(shot.convert("L").point(lambda v: 255 if v else 0).getbbox())  # the window, no black
        time.sleep(0.5)
    raise SystemExit("screenshot: the window never settled")


def main() -> int:
    app_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist" / "Cartoonizer"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "screenshots" / "packaged-app.png"
    server, display = start_xvfb()
    try:
        with tempfile.TemporaryDirectory(prefix="cartoonizer-screenshot-") as home:
            env = {"HOME": home, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "DISPLAY": display,
                   "QT_QPA_PLATFORM": "xcb"}
            app = subprocess.Popen([str(app_dir / "Cartoonizer"), str(ROOT / "resources" / "samples")], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                shot = grab_when_settled(display, app)
            finally:
                app.terminate()
                app.wait(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    shot.save(out, optimize=True)
    print(f"screenshot: {out} ({shot.size[0]}x{shot.size[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
