"""Run the real app on an X display and save a PNG of the fine-tuning wizard's training page in the middle of a run.

Started in a subprocess by test_fine_tune_screenshot.py (QT_QPA_PLATFORM=xcb, DISPLAY, HOME, CARTOONIZER_CONFIG_DIR
and CARTOONIZER_DATA_DIR pointing at temporary folders). The wizard is opened from the Tools menu and filled in as a
user would; the trainer process is tests/desktop_app/fake_trainer.py replaying a real short run recorded by
record_fine_tune_run.py (its JSON lines up to step REPLAY_STEP, and its sample grid of that step), then waiting for
Stop as the trainer does. Usage: python fine_tune_screenshot_app.py OUT.png
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from PySide6.QtCore import QThreadPool  # noqa: E402
from PySide6.QtWidgets import QApplication, QWizard  # noqa: E402

from core.model_registry import default_model_name  # noqa: E402
from tests.desktop_app.fine_tune_fixtures import FAKE_TRAINER, write_pictures  # noqa: E402
from tests.desktop_app.record_fine_tune_run import (  # noqa: E402
    EXTRA, OUT as RECORDING, REPLAY_STEP, STEPS, sample_photos,
)
from tests.desktop_app.screenshot_app import wait_until  # noqa: E402

WIZARD_SIZE = (1100, 820)


def replay_script(folder: Path) -> Path:
    """The recorded events up to REPLAY_STEP (paths made absolute again), then wait for Stop."""
    events = [json.loads(line) for line in (RECORDING / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    steps = []
    for event in events:
        if event.get("step", 0) > REPLAY_STEP:
            break
        if event["event"] == "sample" and event["step"] != REPLAY_STEP:
            continue  # only the grid of the replayed step was kept
        if event["event"] == "sample":  # kept beside the events; other paths are the wizard's run folder's
            event["path"] = str(RECORDING / Path(event["path"]).name)
        steps += [event, {"sleep": 0.002}]
    steps.append({"wait_for_stop": [{"event": "stopped", "step": REPLAY_STEP, "reason": "SIGTERM"}]})
    script = folder / "replay.json"
    script.write_text(json.dumps({"run": steps, "resume": []}), encoding="utf-8")
    return script


def main(out_path: str) -> int:
    pictures = Path.home() / "Pictures"
    photos = sample_photos(pictures / "Holiday photos")
    cartoons = write_pictures(pictures / "My comic", 40, size_px=96, cartoon=True)
    script = replay_script(Path.home())

    from desktop_app.fine_tune import training_process
    from desktop_app.app_icon import load_app_icon
    from desktop_app.main_window import MainWindow

    training_process.trainer_command = lambda: [sys.executable, str(FAKE_TRAINER), str(script)]
    app = QApplication([sys.argv[0]])
    app.setApplicationName("Cartoonizer")
    app.setWindowIcon(load_app_icon())
    window = MainWindow()
    window.show()
    wait_until(app, lambda: bool(window.options_panel.device_combo.devices), 20)
    window.options_panel.set_options(window.options_panel.options().replaced(model=default_model_name(),
                                                                            device="cpu"))
    window.commands.fine_tune.trigger()
    wizard = window.fine_tune_wizard
    wizard.confirm_stop = lambda: True
    wizard.resize(*WIZARD_SIZE)
    wizard.data_page.set_cartoon_folder(cartoons)
    wizard.data_page.set_photo_folder(photos)
    wait_until(app, wizard.data_page.isComplete, 20)
    wizard.button(QWizard.WizardButton.NextButton).click()
    settings = wizard.settings_page
    wait_until(app, lambda: bool(settings.device_combo.devices) and settings.backbone_known, 20)
    settings.select_steps(STEPS)
    settings.crop_spin.setValue(128)
    settings.backbone_combo.setCurrentIndex(settings.backbone_combo.findData("efficientnet_lite0"))
    settings.extra_edit.setText(" ".join(EXTRA))
    if settings.problem():
        print(f"the settings page refused: {settings.problem()}", file=sys.stderr)
        return 1
    wizard.button(QWizard.WizardButton.CommitButton).click()
    training = wizard.training_page
    try:
        wait_until(app, lambda: training.step == REPLAY_STEP and training.sample_view.path() is not None, 30)
    except TimeoutError:
        print(f"stuck at step {training.step}: {training.status_label.text()}\n{training.log_view.toPlainText()}",
              file=sys.stderr)
        raise
    for _ in range(30):  # let the last repaints land
        app.processEvents()
        time.sleep(0.01)
    image = wizard.grab()
    if not image.save(out_path, "PNG"):
        print(f"could not write {out_path}", file=sys.stderr)
        return 1
    print(f"{image.width()}x{image.height()} on {app.platformName()}")
    window.shutdown()
    QThreadPool.globalInstance().waitForDone(10_000)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
