"""Run the real app on an X display and save a PNG of the main window with a finished job and its preview.

Started in a subprocess by test_screenshot.py (QT_QPA_PLATFORM=xcb, DISPLAY set, HOME, CARTOONIZER_CONFIG_DIR and
CARTOONIZER_DATA_DIR pointing at temporary folders). The photos are copied to ~/Pictures, so that the queue shows
the paths a user would see. Usage: python screenshot_app.py OUT.png

The model is a demo with hand-set weights (blur + colour boost, then the engine's guided filter), not a trained
cartoonizer: random test weights would make the preview look like noise, and the project ships no model yet.
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from PySide6.QtCore import QThreadPool  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from core.generator import GeneratorConfig, UNetGenerator  # noqa: E402
from core.model_file import ModelMetadata, save_model  # noqa: E402
from core.model_registry import user_models_dir  # noqa: E402

WINDOW_SIZE = (1360, 860)
DEMO_MODEL = "demo"


def _gaussian(sigma_px: float) -> torch.Tensor:
    offsets = torch.arange(7, dtype=torch.float32) - 3
    kernel = torch.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma_px ** 2))
    return kernel / kernel.sum()                                   # (7, 7)


def demo_generator(saturation: float = 1.9, blur_sigma_px: float = 1.0, outline: float = 6.0) -> UNetGenerator:
    """A generator with hand-set weights that looks cartoonish: softened, saturated colours and dark outlines.

    Only the stem → up2 → head path is non-zero. Each colour goes through as a (+v, −v) channel pair, which the two
    LeakyReLUs (slope 0.2) turn back into v: act(act(v)) − act(act(−v)) = 1.04·v. The edge strength (a difference
    of Gaussians of the luma) goes through the same way but summed: act(act(e)) + act(act(−e)) = 0.96·|e|, and is
    subtracted from every colour, drawing the outlines."""
    generator = UNetGenerator(GeneratorConfig(base_channels=8, num_residual_blocks=1))
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.zero_()
        blur = _gaussian(blur_sigma_px)
        edges = _gaussian(0.8) - _gaussian(1.6)
        luma = torch.tensor([0.299, 0.587, 0.114])
        colour = saturation * torch.eye(3) + (1 - saturation) * luma[None, :].expand(3, 3)  # (3 out, 3 in)
        for channel in range(3):
            generator.stem.weight[channel, channel] = blur
            generator.stem.weight[channel + 3, channel] = -blur
            generator.stem.weight[6, channel] = luma[channel] * edges
            generator.stem.weight[7, channel] = -luma[channel] * edges
        for channel in range(8):
            generator.up2.weight[channel, channel, 1, 1] = 1.0
        for out in range(3):
            for source in range(3):
                generator.head.weight[out, source, 3, 3] = colour[out, source] / 1.04
                generator.head.weight[out, source + 3, 3, 3] = -colour[out, source] / 1.04
            generator.head.weight[out, 6, 3, 3] = -outline / 0.96
            generator.head.weight[out, 7, 3, 3] = -outline / 0.96
    return generator.eval()


def wait_until(app: QApplication, condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def main(out_path: str) -> int:
    pictures = Path.home() / "Pictures"
    save_model(user_models_dir() / f"{DEMO_MODEL}.safetensors", demo_generator(),
               ModelMetadata(display_name="Demo filter", license="MIT",
                             description="Hand-set weights (soft colours, dark outlines) for screenshots; "
                                         "not a trained model."))
    photos = pictures / "Holiday photos"
    photos.mkdir(parents=True)
    for sample in sorted((REPO_ROOT / "resources" / "samples").glob("*.jpg")):
        shutil.copy(sample, photos / sample.name)
    later = pictures / "Birthday"
    later.mkdir()
    for sample in sorted((REPO_ROOT / "resources" / "samples").glob("*.jpg"))[:2]:
        shutil.copy(sample, later / sample.name)

    from desktop_app.app_icon import load_app_icon
    from desktop_app.job import JobStatus
    from desktop_app.main_window import MainWindow

    app = QApplication([sys.argv[0]])
    app.setApplicationName("Cartoonizer")
    app.setWindowIcon(load_app_icon())
    window = MainWindow()
    window.resize(*WINDOW_SIZE)
    window.show()
    wait_until(app, lambda: bool(window.options_panel.device_combo.devices), 20)
    window.options_panel.set_options(window.options_panel.options().replaced(model=DEMO_MODEL, device="cpu"))
    [job] = window.add_paths([photos])
    window.add_paths([later])
    window.queue.start([job.id])
    wait_until(app, lambda: job.status in (JobStatus.DONE, JobStatus.FAILED), 60)
    if job.status != JobStatus.DONE:
        print(f"the job did not finish cleanly: {job.status} {job.error}", file=sys.stderr)
        return 1
    window.table.selectRow(window.queue_model.row_of(job.id))
    wait_until(app, lambda: window.preview.last_result is not None and window.preview_view.has_images()
               and not window.preview_view.message, 30)
    window.preview_view.set_split(0.5)
    for _ in range(20):  # let the last repaints land
        app.processEvents()
        time.sleep(0.01)
    image = window.grab()
    if not image.save(out_path, "PNG"):
        print(f"could not write {out_path}", file=sys.stderr)
        return 1
    print(f"{image.width()}x{image.height()} on {app.platformName()}")
    window.shutdown()
    QThreadPool.globalInstance().waitForDone(10_000)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
