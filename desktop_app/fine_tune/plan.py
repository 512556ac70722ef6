"""What the wizard asks the trainer to do: a `FineTunePlan` (the user's choices) becomes the trainer's own
`TrainConfig`, written as TOML into the run folder, and the `cartoonize-train finetune` arguments that run it.

The wizard is a preset (STYLE.md §1): it starts from the trainer's bundled `finetune` preset (low constant LR, no
pre-training) and overrides only what the pages ask for, through the trainer's own `apply_overrides`, so unknown
keys and bad values fail here, with the trainer's message, before any process starts. The TOML file holds the
whole resolved config, so a run can be resumed from a terminal with the command `resume_command` shows.
"""
from __future__ import annotations

import functools
import math
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.devices import AUTO
from core.model_registry import bundled_models_dir, user_data_dir
from trainer.config import TrainConfig, load_config, resolve_config_file, write_config_toml

PRESET = "finetune"
CONFIG_FILE_NAME = "fine-tune.toml"
SEGMENTERS_FOLDER = "segmenters"  # resources/models/segmenters/: training files the model list does not show
RUNS_FOLDER = "runs"
# Bai: foreground texture denser, background surface smoother (trainer.losses.DEFAULT_REGION_WEIGHTS); the two
# sliders move one weight each, the others keep the trainer's defaults.
FOREGROUND_DETAIL_KEY = "region_weights.foreground.texture"
BACKGROUND_SMOOTHNESS_KEY = "region_weights.background.surface"
REGION_WEIGHT_RANGE = (0.5, 3.0)
LOGS_PER_RUN, SAMPLES_PER_RUN, CHECKPOINTS_PER_RUN = 50, 10, 4   # at least, for runs shorter than the preset's


@dataclass(frozen=True)
class StepsPreset:
    key: str
    title: str
    steps: int
    hint: str




@dataclass(frozen=True)
class FineTunePlan:
    """The user's choices, as the pages collect them. Paths are absolute; `base_model` is a model file."""

    base_model: Path
    photos_dir: Path
    cartoons_dir: Path
    run_dir: Path
    steps: int = 2000
    crop_size_px: int = 256
    device: str = AUTO
    backbone: str = TrainConfig.backbone   # the trainer's default
    segmenter_path: Path | None = None
    foreground_detail: float = 1.5          # region weight of the texture term on people and subjects
    background_smoothness: float = 1.5      # region weight of the surface term on backgrounds
    extra_overrides: tuple[str, ...] = field(default_factory=tuple)  # key=value, as on the trainer's command line

    def overrides(self) -> list[str]:
        chosen = [f"base_model={self.base_model}", f"photos_dir={self.photos_dir}",
                  f"cartoons_dir={self.cartoons_dir}", f"run_dir={self.run_dir}",
                  f"adversarial_steps={self.steps}", f"crop_size={self.crop_size_px}", f"device={self.device}",
                  f"backbone={self.backbone}"]
        chosen += interval_overrides(self.steps)
        if self.segmenter_path is not None:  # without the semantic module there are no regions to weigh
            chosen += [f"segmenter_path={self.segmenter_path}", f"{FOREGROUND_DETAIL_KEY}={self.foreground_detail}",
                       f"{BACKGROUND_SMOOTHNESS_KEY}={self.background_smoothness}"]
        return chosen + list(self.extra_overrides)

    def train_config(self) -> TrainConfig:
        """The trainer's config for this plan; raises trainer.config.ConfigError with the trainer's reason."""
        return load_config(preset_file(), self.overrides())


def interval_overrides(steps: int) -> list[str]:
    """Log, sample and checkpoint intervals that fit a run of `steps`: the preset's, or shorter for a short run
    (about LOGS_PER_RUN log lines, SAMPLES_PER_RUN samples and CHECKPOINTS_PER_RUN checkpoints), so that a 10-step
    run shows losses and samples instead of nothing until its end. Extra settings still override them."""
    chosen = []
    for key, per_run in (("log_every", LOGS_PER_RUN), ("sample_every", SAMPLES_PER_RUN),
                         ("checkpoint_every", CHECKPOINTS_PER_RUN)):
        every = max(1, min(int(preset_default(key)), math.ceil(steps / per_run)))
        chosen.append(f"{key}={every}")
    return chosen


def parse_extra_overrides(text: str) -> tuple[str, ...]:
    """`key=value` words as a shell splits them (quote values with spaces); raises ValueError on bad quoting."""
    return tuple(shlex.split(text, posix=os.name != "nt"))


def preset_default(key: str) -> Any:
    """A value of the trainer's finetune preset (the crop size, the batch size …), for the pages' defaults."""
    return getattr(_preset_config(), key)


@functools.lru_cache(maxsize=1)
def _preset_config() -> TrainConfig:
    return load_config(preset_file())


def _steps_presets() -> tuple[StepsPreset, ...]:
    """"Standard" is the trainer's own finetune length; quick (a third) shows whether the style takes, thorough
    (three times) refines it."""
    standard = int(preset_default("adversarial_steps"))
    return (StepsPreset("quick", "Quick", max(1, round(standard / 3 / 50) * 50), "a first look: does the style take?"),
            StepsPreset("standard", "Standard", standard, "the recommended fine-tune"),
            StepsPreset("thorough", "Thorough", standard * 3, "finer detail, closer to your cartoons"))


def preset_file() -> Path:
    """trainer/configs/finetune.toml, found as the trainer finds its presets."""
    return resolve_config_file(PRESET)


def new_run_dir(now: float | None = None) -> Path:
    """A new, not yet existing folder user_data_dir()/runs/<date-time>."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    root = user_data_dir() / RUNS_FOLDER
    candidate, number = root / stamp, 1
    while candidate.exists():
        number += 1
        candidate = root / f"{stamp}-{number}"
    return candidate


def write_config(cfg: TrainConfig, run_dir: Path) -> Path:
    """The whole config as TOML in the run folder (atomic, the trainer's one writer); `load_config` of it gives
    `cfg` back."""
    comment = f"Written by the Cartoonizer fine-tuning wizard; resume with:\n{resume_command(run_dir)}"
    return write_config_toml(cfg, run_dir / CONFIG_FILE_NAME, comment)


def trainer_arguments(config_file: Path, resume: bool = False) -> list[str]:
    """`cartoonize-train` arguments (after the program) that run, or continue, the written config."""
    return ["finetune", "--config", str(config_file), *(["--resume"] if resume else [])]


def resume_command(run_dir: Path) -> str:
    return shlex.join(["cartoonize-train", *trainer_arguments(run_dir / CONFIG_FILE_NAME, resume=True)])


def bundled_segmenter() -> Path | None:
    """The semantic module shipped with the app (resources/models/segmenters/, the first by name), if any."""
    folder = bundled_models_dir() / SEGMENTERS_FOLDER
    found = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    return found[0] if found else None


def vgg19_weights_cached() -> bool:
    """Whether torchvision's ImageNet VGG19 file (White-box's content features) is already downloaded."""
    import torch
    from torchvision.models import VGG19_Weights

    name = VGG19_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    return (Path(torch.hub.get_dir()) / "checkpoints" / name).is_file()


STEPS_PRESETS = _steps_presets()
