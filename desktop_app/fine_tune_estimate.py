"""How long a fine-tune will take on a device, shown beside the step presets. Always an estimate, and labelled so.

One adversarial step costs about the same per pixel at any crop and batch size (generator, discriminators,
features and superpixels are all convolutions or per-pixel work), so a device's speed is kept as seconds per
image-megapixel and scaled by batch × crop². Where the number comes from, best first:
- measured on this device: the wizard's speed test, or a real run's images/s (remembered in the config folder);
- for the CPU only, a reference figure scaled by thread count (rough: CPUs differ a lot);
- nothing for a GPU that has never been measured: GPUs differ by 50× and a guess would mislead.
Qt-free.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from core.atomic_files import atomic_output

log = logging.getLogger("desktop_app.fine_tune")
# On a shared 2-thread x86-64 VM, efficientnet_lite0 features: 5.5 s per image-megapixel in a real 200-step
# fine-tune at 128 px, batch 4 (11.5 images/s once warm; tests/desktop_app/record_fine_tune_run.py), 9.5 s in
# bench/bench_training.py --device cpu --batch 4 --size 128, up to twice that while other jobs shared the CPU.
CPU_REFERENCE_S_PER_MEGAPIXEL = 7.0
CPU_REFERENCE_THREADS = 2
SPEED_FILE = "fine-tune-speed.json"


@dataclass(frozen=True)
class StepCost:
    seconds_per_megapixel: float
    measured: bool           # on this very device, versus the CPU reference figure

    def seconds(self, steps: int, batch_size: int, crop_size_px: int) -> float:
        return steps * batch_size * crop_size_px ** 2 / 1e6 * self.seconds_per_megapixel


def cost_from_rate(images_per_s: float, crop_size_px: int) -> StepCost:
    """A measured speed (images/s at a crop size, as the trainer logs it) as a per-megapixel cost."""
    return StepCost(1e6 / (images_per_s * crop_size_px ** 2), measured=True)


def reference_cost(device_kind: str, threads: int) -> StepCost | None:
    """The CPU reference scaled (linearly, optimistically) by threads; None for GPUs."""
    if device_kind != "cpu":
        return None
    return StepCost(CPU_REFERENCE_S_PER_MEGAPIXEL * CPU_REFERENCE_THREADS / max(1, threads), measured=False)


class SpeedRecords:
    """Measured costs by device name ("CPU (8 threads)", "NVIDIA GeForce RTX 4070"), in one small JSON file."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / SPEED_FILE

    def load(self) -> dict[str, float]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("could not read %s (%s); speeds are measured again", self.path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {name: float(value) for name, value in data.items()
                if isinstance(value, (int, float)) and math.isfinite(value) and value > 0}

    def cost(self, device_name: str) -> StepCost | None:
        value = self.load().get(device_name)
        return StepCost(value, measured=True) if value else None

    def remember(self, device_name: str, cost: StepCost) -> None:
        records = self.load()
        records[device_name] = round(cost.seconds_per_megapixel, 6)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.path) as temp:
            temp.write_text(json.dumps(records, indent=2), encoding="utf-8")


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
