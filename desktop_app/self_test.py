"""`Cartoonizer --self-test`: checks an installation (above all a packaged one) the way a person uses it.

It opens the main window, adds the bundled sample photos as a job, runs it through the app's own queue and batch
worker (the engine, the bundled default model) into a temporary folder, and checks that one readable cartoon of
each sample's size came out. With `--fine-tune PHOTOS CARTOONS` it then drives the fine-tuning wizard as a person
would (pictures, settings, Start training, name, Finish): the wizard starts its trainer process (in a packaged app,
the app's own executable), and the new model must appear, selected, in the main window's model list.

Settings, queue and user models go to a temporary folder, so the user's own are never touched. Prints one line per
check and exits 0 when all passed, 1 with the reason otherwise. Use QT_QPA_PLATFORM=offscreen without a display.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

PROGRAM = "Cartoonizer --self-test"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
FINE_TUNED_NAME = "self-test-fine-tune"


class SelfTestFailure(Exception):
    """A check did not pass; the message says which and why."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window-only", action="store_true",
                        help="only open the main window, report when it was shown, and quit (start-up timing)")
    parser.add_argument("--fine-tune", nargs=2, type=Path, metavar=("PHOTOS", "CARTOONS"),
                        help="also fine-tune the default model for 2 steps through the wizard, on these folders "
                             "(at least 20 pictures each)")
    parser.add_argument("--timeout", type=float, default=600.0, metavar="S", help="seconds allowed for each check")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cartoonizer-self-test-") as scratch:
        try:
            run_checks(Path(scratch), args.window_only, args.fine_tune, args.timeout)
        except SelfTestFailure as exc:
            print(f"self-test: FAILED: {exc}", flush=True)
            return 1
    print("self-test: passed", flush=True)
    return 0


def run_checks(scratch: Path, window_only: bool, fine_tune: tuple[Path, Path] | None, timeout_s: float) -> None:
    os.environ["CARTOONIZER_CONFIG_DIR"] = str(scratch / "config")  # the user's settings and queue stay as they are
    os.environ["CARTOONIZER_DATA_DIR"] = str(scratch / "data")      # and so do their models
    from PySide6.QtCore import QThreadPool
    from PySide6.QtWidgets import QApplication

    from desktop_app.__main__ import configure_application
    from desktop_app.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    configure_application(app)
    window = MainWindow()
    window.confirm_quit = lambda: True
    window.show()
    wait_until(lambda: window.windowHandle() is not None and window.windowHandle().isExposed(), timeout_s,
               "the main window was never shown")
    print(f"self-test: main window shown at {time.time():.3f} (epoch s), platform {app.platformName()}", flush=True)
    try:
        if not window_only:
            check_samples(window, scratch / "cartoons", timeout_s)
            if fine_tune is not None:
                check_fine_tune(window, *fine_tune, timeout_s)
    finally:
        window.shutdown()
        QThreadPool.globalInstance().waitForDone(10_000)
        window.close()


def check_samples(window, output_dir: Path, timeout_s: float) -> None:
    """The bundled samples through the queue and the batch worker: one readable cartoon per sample, same size."""
    from PIL import Image

    from core.resource_paths import resources_dir
    from desktop_app.job import FINISHED_STATUSES, JobStatus

    samples_dir = resources_dir() / "samples"
    samples = sorted(p for p in samples_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not samples:
        raise SelfTestFailure(f"no sample photos in {samples_dir}")
    jobs = window.add_paths([samples_dir])
    if len(jobs) != 1:
        raise SelfTestFailure(f"adding {samples_dir} made {len(jobs)} jobs instead of 1")
    job = jobs[0]
    window.queue.set_output_dir([job.id], output_dir)
    started = time.perf_counter()
    window.queue.start([job.id])
    wait_until(lambda: job.status in FINISHED_STATUSES, timeout_s, "the sample job did not finish")
    if job.status != JobStatus.DONE:
        raise SelfTestFailure(f"the sample job ended {job.status.value}: {job.error or job.failures}")
    cartoons = {p.stem: p for p in job.output_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES}
    for sample in samples:
        cartoon = cartoons.get(sample.stem)
        if cartoon is None:
            raise SelfTestFailure(f"no cartoon of {sample.name} in {job.output_dir}")
        with Image.open(sample) as before, Image.open(cartoon) as after:
            after.load()
            if after.size != before.size:
                raise SelfTestFailure(f"{cartoon.name} is {after.size}, its photo {before.size}")
    print(f"self-test: {len(samples)} samples cartoonized by the batch worker in "
          f"{time.perf_counter() - started:.1f} s with {window.options_panel.model_combo.currentText()}", flush=True)


def check_fine_tune(window, photos_dir: Path, cartoons_dir: Path, timeout_s: float) -> None:
    """Tools → Fine-tune a model…, page by page; the trainer runs in its own process, as for users."""
    from PySide6.QtWidgets import QWizard

    wizard = window.open_fine_tune_wizard()
    wizard.confirm_stop = lambda: True
    data_page = wizard.data_page
    data_page.set_cartoon_folder(cartoons_dir.resolve())
    data_page.set_photo_folder(photos_dir.resolve())
    wait_until(lambda: data_page.problem() != "Counting pictures…", timeout_s, "the wizard never counted the pictures")
    press(wizard, QWizard.WizardButton.NextButton, "the pictures page: " + str(data_page.problem()))

    settings = wizard.settings_page
    wait_until(lambda: bool(settings.device_combo.devices) and settings.backbone_known, timeout_s,
               "the settings page did not finish looking at the devices")
    settings.device_combo.set_spec("cpu")
    settings.select_steps(2)
    settings.crop_spin.setValue(64)
    settings.backbone_combo.setCurrentIndex(settings.backbone_combo.findData("efficientnet_lite0"))
    settings.extra_edit.setText("batch_size=2 num_workers=0 log_every=1 sample_every=2")
    press(wizard, QWizard.WizardButton.CommitButton, "the settings page: " + str(settings.problem()))

    training = wizard.training_page
    command = " ".join(training.process.command)
    wait_until(lambda: wizard.session.training_started and not training.process.running, timeout_s,
               "training did not finish")
    if not training.isComplete():
        raise SelfTestFailure(f"training failed ({command}): {training.status_label.text()}\n"
                              f"{training.log_view.toPlainText()[-2000:]}")
    print(f"self-test: the wizard's trainer process ran and finished: {command} …", flush=True)

    press(wizard, QWizard.WizardButton.NextButton, "the training page")
    wizard.finish_page.name_edit.setText(FINE_TUNED_NAME)
    added: list[str] = []
    wizard.model_added.connect(added.append)
    press(wizard, QWizard.WizardButton.FinishButton, "the name page: " + str(wizard.finish_page.problem()))
    wait_until(lambda: bool(added), timeout_s, "the fine-tuned model was never added")
    combo = window.options_panel.model_combo
    if combo.model_name() != FINE_TUNED_NAME:
        raise SelfTestFailure(f"the model list shows {combo.model_name()!r}, not the new {FINE_TUNED_NAME!r}")
    print(f"self-test: the new model {FINE_TUNED_NAME} is selected in the model list ({combo.currentText()})",
          flush=True)


def press(wizard, which, where: str) -> None:
    button = wizard.button(which)
    if not (button.isVisible() and button.isEnabled()):
        raise SelfTestFailure(f"{button.text()!r} is not available on {where}")
    button.click()


def wait_until(condition: Callable[[], bool], timeout_s: float, failure: str) -> None:
    """Run Qt's event loop until `condition()` holds, or fail with `failure` after `timeout_s`."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SelfTestFailure(f"{failure} within {timeout_s:.0f} s")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)
