"""Tiny training runs for the loop, CLI and DDP tests: generated photo/cartoon folders, a random-weight segmenter
file, and the settings that make a run take seconds on the CPU."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from core.image_io import write_image
from trainer.config import TrainConfig, write_config_toml
from tests.conftest import gradient_image

# generator width 8 with 1 residual block, D width 8, 32 px crops, batch 2, no DataLoader workers
TINY_SETTINGS: dict[str, Any] = {
    "crop_size": 32, "batch_size": 2, "num_workers": 0, "generator_base_channels": 8, "generator_residual_blocks": 1,
    "discriminator_base_channels": 8, "backbone": "efficientnet_lite0", "device": "cpu", "log_every": 1,
    "sample_every": 1000, "checkpoint_every": 1000,
}


def write_training_folders(root: Path, count: int = 6, size_px: int = 48) -> tuple[Path, Path]:
    """`count` photo-like pictures and as many flat-coloured "cartoons" (posterised gradients) as PNGs."""
    photos, cartoons = root / "photos", root / "cartoons"
    for i in range(count):
        write_image(photos / f"photo_{i}.png", gradient_image(size_px, size_px, seed=i))
        write_image(cartoons / f"cartoon_{i}.png", np.round(gradient_image(size_px, size_px, seed=100 + i) * 3) / 3)
    return photos, cartoons


def write_toml(path: Path, settings: dict[str, Any]) -> Path:
    """A TrainConfig file of `settings` (the rest at their defaults), through the trainer's one TOML writer."""
    return write_config_toml(TrainConfig.from_dict(settings), path)


@pytest.fixture(scope="module")
def one_cpu_thread():
    """Tiny networks are fastest on one thread, and on a busy 2-core machine OpenMP threads waiting for each other
    make every small op take a scheduler slice: a 32 px segmenter pass took 2 s on 2 threads, 15 ms on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # the same for subprocesses


@pytest.fixture(scope="session")
def training_folders(tmp_path_factory) -> tuple[Path, Path]:
    return write_training_folders(tmp_path_factory.mktemp("training-data"))


@pytest.fixture(scope="session")
def random_segmenter_file(tmp_path_factory) -> Path:
    """A segmenter of the default architecture with random weights: exercises the semantic terms, downloads nothing."""
    from trainer.semantic import build_segmenter, save_segmenter

    return save_segmenter(tmp_path_factory.mktemp("segmenter") / "random.safetensors",
                          build_segmenter(encoder_weights=None))
