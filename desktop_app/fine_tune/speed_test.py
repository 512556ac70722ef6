"""The settings page's "Measure speed": a few real steps of the chosen config on the chosen device, in the trainer
process, timed from the trainer's own log events; the speed is remembered for the estimates and nothing else is
kept (the run folder's speed-test subfolder is removed afterwards)."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.devices import DeviceInfo
from trainer.events import TrainerEvent, TrainingProgress

from desktop_app.fine_tune.estimate import SpeedRecords, speed_from_speed_test
from desktop_app.fine_tune.plan import FineTunePlan, write_config
from desktop_app.fine_tune.training_process import Outcome, RunResult, TrainingProcess

log = logging.getLogger("desktop_app.fine_tune")
SPEED_TEST_FOLDER = "speed-test"


def speed_test_folder(run_dir: Path) -> Path:
    """Where a speed test of the run in `run_dir` writes (and what it removes afterwards)."""
    return run_dir / SPEED_TEST_FOLDER


class SpeedTest(QObject):
    """Runs a plan made for it (`estimate.SPEED_TEST_STEPS` steps with `SPEED_TEST_OVERRIDES`: a log line
    each step, nothing saved).

    Step 1 ends the start-up (it warms up too); the later steps' images/s give the step time. The result goes into
    `records` under the device's name and the plan's feature network."""

    finished = Signal(object)   # None when measured, else why not (a sentence); always once per `start`

    def __init__(self, records: SpeedRecords, trainer_command: list[str] | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.records = records
        self.process = TrainingProcess(trainer_command, self)
        self.process.started.connect(self._on_started)
        self.process.event.connect(self._on_event)
        self.process.finished.connect(self._on_finished)
        self._plan: FineTunePlan | None = None
        self._device: DeviceInfo | None = None
        self._batch_size = 1
        self._started_at = 0.0
        self._first_log_s: float | None = None   # seconds from the start to the first step's end
        self._rates: list[float] = []            # images/s of the steps after the first

    @property
    def running(self) -> bool:
        return self.process.running

    def start(self, plan: FineTunePlan, device: DeviceInfo | None) -> None:
        """Write `plan`'s config (its run folder is `speed_test_folder`) and start the trainer on it. Raises
        ValueError (the trainer's ConfigError included) or OSError when the config cannot be written."""
        shutil.rmtree(plan.run_dir, ignore_errors=True)
        cfg = plan.train_config()
        config_file = write_config(cfg, plan.run_dir)
        self._plan, self._device, self._batch_size = plan, device, cfg.batch_size
        self._first_log_s, self._rates = None, []
        self._started_at = time.monotonic()
        self.process.start(["finetune", "--config", str(config_file)])

    def _on_started(self) -> None:
        self._started_at = time.monotonic()

    def _on_event(self, event: TrainerEvent) -> None:
        if not isinstance(event, TrainingProgress) or event.images_per_s <= 0:
            return
        if self._first_log_s is None:
            self._first_log_s = time.monotonic() - self._started_at
        else:
            self._rates.append(event.images_per_s)

    def _on_finished(self, result: RunResult) -> None:
        plan, device, first_log_s, rates = self._plan, self._device, self._first_log_s, self._rates
        self._plan, self._first_log_s, self._rates = None, None, []
        if plan is not None:
            shutil.rmtree(plan.run_dir, ignore_errors=True)
        if result.outcome != Outcome.DONE or not rates or first_log_s is None or plan is None:
            self.finished.emit(f"The speed test did not finish. {result.message}")
            return
        speed = speed_from_speed_test(first_log_s, rates, self._batch_size, plan.crop_size_px)
        if device is not None:
            self.records.remember(device.name, plan.backbone, speed)
            log.info("measured on %s with %s: %s", device.name, plan.backbone,
                     speed.describe(self._batch_size, plan.crop_size_px))
        self.finished.emit(None)
