"""How long a fine-tune will take, shown beside the step presets. Always an estimate, and labelled so.

One formula, before and after *Measure speed*: `start-up + steps × seconds per step`, where a step's time scales
with the pixels it trains on (batch × crop², every loss network being convolutions or per-pixel work), so a speed
is kept as seconds per image-megapixel of one adversarial step, plus the trainer's start-up time (loading the
models, the feature network and the pictures). A speed depends on the device and on the feature network (VGG19 is
several times slower than EfficientNet-Lite0 on a CPU), so both name it. Where the numbers come from, best first:
- measured here: the wizard's speed test, or a real run's steps (remembered in the config folder);
- for the CPU only, this project's reference figures scaled by thread count (rough: CPUs differ a lot);
- nothing for a GPU that has never been measured: GPUs differ by 50× and a guess would mislead.
Qt-free.
"""
from __future__ import annotations

import json
import logging
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from core.atomic_files import atomic_output

log = logging.getLogger("desktop_app.fine_tune")
# Measured with bench/bench_fine_tune_estimate.py on the project's shared 2-core x86-64 VM, with one thread
# (OMP_NUM_THREADS=1) while another training process kept the other core busy, with the trainer's fast finetune
# preset (EfficientNet-Lite0 features, the bundled semantic module every 4th step, batch 4 of 128 px): real runs of
# 60 steps took 2.0 s per step (30 s per image-megapixel) after 5-8 s of start-up. On that machine the estimate
# after Measure speed came to 0.66, 0.84 and 0.95 of the real run's time (the speed test's 8 steps vary with the
# neighbour's load). VGG19 was not measured there (its weights cannot be downloaded): three times EfficientNet-Lite0's
# figure is a guess from its larger feature network, which is why "rough" is said and Measure speed offered.
CPU_REFERENCE_S_PER_MEGAPIXEL = {"efficientnet_lite0": 30.0, "vgg19": 90.0}
CPU_REFERENCE_STARTUP_S = 8.0
CPU_REFERENCE_THREADS = 1
SPEED_FILE = "fine-tune-speed.json"
# The first step warms up and counts as start-up; the next eight give the step time: two whole cycles of the
# preset's `segmenter_every = 4`, whose every fourth step also runs the semantic module.
SPEED_TEST_STEPS = 9
SPEED_TEST_OVERRIDES = ("log_every=1", "sample_every=1000000", "checkpoint_every=1000000", "keep_checkpoints=1")


@dataclass(frozen=True)
class TrainingSpeed:
    """How fast fine-tuning runs on one device with one feature network."""

    seconds_per_megapixel: float     # one adversarial step, per image-megapixel of training crops
    startup_s: float                 # from starting the trainer to its first step
    measured: bool                   # on this very device, versus the CPU reference figures

    def step_seconds(self, batch_size: int, crop_size_px: int) -> float:
        return batch_size * crop_size_px ** 2 / 1e6 * self.seconds_per_megapixel

    def run_seconds(self, steps: int, batch_size: int, crop_size_px: int) -> float:
        """The whole run, as the wizard waits for it: start-up, then the steps."""
        return self.startup_s + steps * self.step_seconds(batch_size, crop_size_px)

    def describe(self, batch_size: int, crop_size_px: int) -> str:
        """e.g. "2.4 s per step (batch 8 of 256 px), plus 20 s to start"."""
        return (f"{format_seconds(self.step_seconds(batch_size, crop_size_px))} per step (batch {batch_size} of "
                f"{crop_size_px} px), plus {format_seconds(self.startup_s)} to start")


def speed_from_steps(step_seconds: float, batch_size: int, crop_size_px: int, startup_s: float) -> TrainingSpeed:
    """A measured speed: seconds per step at a batch and crop size, and the start-up time."""
    return TrainingSpeed(step_seconds * 1e6 / (batch_size * crop_size_px ** 2), startup_s, measured=True)


def mean_step_seconds(images_per_s: Sequence[float], batch_size: int) -> float:
    """The mean time of steps logged at these rates: what a run's length adds up (some steps cost more than
    others, e.g. those that also run the semantic module)."""
    return statistics.fmean(batch_size / rate for rate in images_per_s)


def speed_from_speed_test(first_log_s: float, later_images_per_s: Sequence[float], batch_size: int,
                          crop_size_px: int) -> TrainingSpeed:
    """The speed test's result: its first step (logged `first_log_s` after the trainer started) is start-up and
    warm-up; the later steps' mean time is the step time."""
    step_s = mean_step_seconds(later_images_per_s, batch_size)
    return speed_from_steps(step_s, batch_size, crop_size_px, max(0.0, first_log_s - step_s))


def reference_speed(device_kind: str, threads: int, backbone: str) -> TrainingSpeed | None:
    """The CPU reference scaled (linearly, optimistically) by threads; None for GPUs."""
    if device_kind != "cpu":
        return None
    per_megapixel = CPU_REFERENCE_S_PER_MEGAPIXEL.get(backbone, CPU_REFERENCE_S_PER_MEGAPIXEL["vgg19"])
    return TrainingSpeed(per_megapixel * CPU_REFERENCE_THREADS / max(1, threads), CPU_REFERENCE_STARTUP_S,
                         measured=False)


def speed_key(device_name: str, backbone: str) -> str:
    """Where a speed is remembered: "CPU (8 threads) · efficientnet_lite0"."""
    return f"{device_name} · {backbone}"


class SpeedRecords:
    """Measured speeds by device and feature network, in one small JSON file."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / SPEED_FILE

    def load(self) -> dict[str, TrainingSpeed]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("could not read %s (%s); speeds are measured again", self.path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        speeds = {key: _speed(value) for key, value in data.items()}
        return {key: speed for key, speed in speeds.items() if speed is not None}

    def speed(self, device_name: str, backbone: str) -> TrainingSpeed | None:
        return self.load().get(speed_key(device_name, backbone))

    def remember(self, device_name: str, backbone: str, speed: TrainingSpeed) -> None:
        """Keep `speed`; a run that measured only its steps keeps the start-up measured before (if any)."""
        records = {key: {"seconds_per_megapixel": s.seconds_per_megapixel, "startup_s": s.startup_s}
                   for key, s in self.load().items()}
        records[speed_key(device_name, backbone)] = {"seconds_per_megapixel": round(speed.seconds_per_megapixel, 6),
                                                      "startup_s": round(speed.startup_s, 3)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.path) as temp:
            temp.write_text(json.dumps(records, indent=2), encoding="utf-8")


def _speed(value: Any) -> TrainingSpeed | None:
    if not isinstance(value, dict):
        return None  # a file of an older version (per-megapixel only, without the feature network): measure again
    per_megapixel, startup = value.get("seconds_per_megapixel"), value.get("startup_s")
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (per_megapixel, startup)):
        return None
    if per_megapixel <= 0 or startup < 0:
        return None
    return TrainingSpeed(float(per_megapixel), float(startup), measured=True)


def format_seconds(seconds: float) -> str:
    """A short time as people say it: "0.35 s", "2.4 s", "20 s", "3 min", "1 h 05 min"."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def format_duration(seconds: float) -> str:
    """'under a minute', 'about 12 min', 'about 3 h 10 min', 'about 2 days'."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"about {hours} h" + (f" {minutes} min" if minutes and hours < 10 else "")
    return f"about {round(hours / 24)} days"
