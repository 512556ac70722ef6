"""Fixtures shared by all tests: tiny models, isolated user folders, and the ../shared data path."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
WHITEBOX_TFLITE = SHARED_DIR / "reference" / "whitebox" / "whitebox_cartoon_gan_fp16.tflite"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def requires_shared(path: Path = SHARED_DIR):
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not present (../shared is beside the checkout)")


@pytest.fixture(autouse=True)
def isolated_user_data(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own user data folder, so no test sees or touches the real user's models."""
    folder = tmp_path_factory.mktemp("user-data")
    monkeypatch.setenv("CARTOONIZER_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def empty_resources(tmp_path, monkeypatch) -> Path:
    """A resources folder with no bundled models (the state before the project ships its own)."""
    folder = tmp_path / "resources"
    (folder / "models").mkdir(parents=True)
    monkeypatch.setenv("CARTOONIZER_RESOURCES", str(folder))
    return folder


def make_tiny_generator(seed: int = 0, base_channels: int = 8, blocks: int = 1):
    """A small generator whose random weights give visibly varying outputs (default init is nearly flat)."""
    from core.generator import GeneratorConfig, UNetGenerator

    torch.manual_seed(seed)
    generator = UNetGenerator(GeneratorConfig(base_channels=base_channels, num_residual_blocks=blocks))
    for module in generator.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, a=0.2)
            torch.nn.init.normal_(module.bias, std=0.05)
    return generator.eval()


@pytest.fixture
def tiny_model():
    from core.model_file import CartoonModel, ModelMetadata

    return CartoonModel(make_tiny_generator(), ModelMetadata(display_name="tiny test model", license="MIT"))


@pytest.fixture
def tiny_model_file(tmp_path, tiny_model) -> Path:
    from core.model_file import save_model

    return save_model(tmp_path / "tiny.safetensors", tiny_model.generator, tiny_model.metadata)


@pytest.fixture(scope="session")
def whitebox_model():
    """The reference White-box generator, imported from ../shared (never bundled, never trained on)."""
    if not WHITEBOX_TFLITE.exists():
        pytest.skip("White-box reference model not available")
    from core.model_file import CartoonModel
    from core.whitebox_import import load_whitebox_tflite, whitebox_metadata

    return CartoonModel(load_whitebox_tflite(WHITEBOX_TFLITE), whitebox_metadata(WHITEBOX_TFLITE))


def gradient_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like float RGB image in [0, 1]: smooth gradients, a few shapes, mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([x / max(width - 1, 1), y / max(height - 1, 1), 0.5 + 0.5 * np.sin(x / 9.0 + y / 13.0)], 2)
    for _ in range(4):
        cy, cx, r = rng.integers(0, height), rng.integers(0, width), rng.integers(4, max(5, min(height, width) // 3))
        image[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.random(3)
    image += rng.normal(0, 0.02, image.shape).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32)
