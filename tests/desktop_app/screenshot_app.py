"""Run the real app on an X display and save PNGs of the main window, as a user sees it with the bundled default
model (resources/models, the real one: no demo filter):
- main-window.png: a waiting photo job selected (another one has finished), its before/after with the split line
  and its region sliders set (people at full strength, the background at 60 %);
- video-preview.png: a video job selected, the frame at 40 % of the time slider, zoomed to 200 % side by side.

Started in a subprocess by test_screenshot.py (QT_QPA_PLATFORM=xcb, DISPLAY set, HOME, CARTOONIZER_CONFIG_DIR and
CARTOONIZER_DATA_DIR pointing at temporary folders). The photos are copied to ~/Pictures, so that the queue shows
the paths a user would see; the video is a slow pan across one of them. Usage: python screenshot_app.py OUT_FOLDER
"""
from __future__ import annotations

import shutil
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from PySide6.QtCore import QThreadPool  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

WINDOW_SIZE = (1366, 768)
SHOTS = ("main-window.png", "video-preview.png")


def wait_until(app: QApplication, condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def settle(app: QApplication) -> None:
    for _ in range(30):  # let the last repaints land
        app.processEvents()
        time.sleep(0.01)


def pan_video(photo: Path, path: Path, frames: int = 48, size: tuple[int, int] = (640, 360)) -> Path:
    """A 2 s clip (24 fps) panning slowly across `photo`, with sound, as a phone would film it."""
    from tests.core.synthetic_video import write_clip

    with Image.open(photo) as image:
        image = image.convert("RGB")
        scale = size[1] * 1.25 / image.height
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    pixels = np.asarray(image)
    room_x, room_y = pixels.shape[1] - size[0], pixels.shape[0] - size[1]
    pictures = [np.ascontiguousarray(pixels[round(room_y * i / frames / 2):][:size[1],
                                            round(room_x * i / (frames - 1)):][:, :size[0]]) for i in range(frames)]
    return write_clip(path, frames=frames, size=size, rate=Fraction(24), pictures=pictures, crf=18)


def main(out_folder: str) -> int:
    out = Path(out_folder)
    out.mkdir(parents=True, exist_ok=True)
    pictures = Path.home() / "Pictures"
    photos = pictures / "Holiday photos"
    photos.mkdir(parents=True)
    from core.resource_paths import resources_dir

    samples = sorted((resources_dir() / "samples").glob("*.jpg"))
    for sample in samples:
        shutil.copy(sample, photos / sample.name)
    later = pictures / "Birthday"
    later.mkdir()
    for sample in samples[:2]:
        shutil.copy(sample, later / sample.name)
    videos = Path.home() / "Videos"
    videos.mkdir()
    video = pan_video(next(s for s in samples if s.stem == "coffee"), videos / "Coffee break.mp4")

    from core.model_registry import default_model_name
    from desktop_app.app_icon import load_app_icon
    from desktop_app.job import JobStatus
    from desktop_app.main_window import MainWindow

    model = default_model_name()
    if model is None:
        print("no bundled model in resources/models", file=sys.stderr)
        return 1
    app = QApplication([sys.argv[0]])
    app.setApplicationName("Cartoonizer")
    app.setWindowIcon(load_app_icon())
    window = MainWindow()
    window.resize(*WINDOW_SIZE)
    window.show()
    wait_until(app, lambda: bool(window.options_panel.device_combo.devices), 20)
    window.options_panel.set_options(window.options_panel.options().replaced(model=model, device="cpu"))
    [done] = window.add_paths([later])
    [job] = window.add_paths([photos])
    [video_job] = window.add_paths([video])
    window.queue.start([done.id])
    wait_until(app, lambda: done.status in (JobStatus.DONE, JobStatus.FAILED), 300)
    if done.status != JobStatus.DONE:
        print(f"the job did not finish cleanly: {done.status} {done.error}", file=sys.stderr)
        return 1

    def preview_ready() -> bool:
        return (window.preview.last_result is not None and window.preview_view.has_images()
                and not window.preview_view.message)

    window.table.selectRow(window.queue_model.row_of(job.id))
    wait_until(app, preview_ready, 120)
    shown = window.preview.last_result.generation
    window.options_panel.background_slider.setValue(60)   # the selected job takes it; the preview follows
    wait_until(app, lambda: preview_ready() and window.preview.last_result.generation > shown, 120)
    assert job.options.background_strength == 0.6
    window.preview_view.set_split(0.5)
    settle(app)
    shots = [window.grab()]

    window.table.selectRow(window.queue_model.row_of(video_job.id))
    wait_until(app, preview_ready, 120)
    window.time_slider.setValue(400)
    wait_until(app, lambda: preview_ready() and window.preview.last_result.time_s
               and window.preview.last_result.time_s > 0.5, 120)
    window.commands.side_by_side.trigger()
    window.preview_view.zoom_to(2.0)
    settle(app)
    shots.append(window.grab())

    for name, image in zip(SHOTS, shots):
        if not image.save(str(out / name), "PNG"):
            print(f"could not write {out / name}", file=sys.stderr)
            return 1
        print(f"{name}: {image.width()}x{image.height()} on {app.platformName()} with {model}")
    window.shutdown()
    QThreadPool.globalInstance().waitForDone(10_000)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
