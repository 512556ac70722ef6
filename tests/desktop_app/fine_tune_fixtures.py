"""Data for the fine-tuning wizard's tests: picture folders, a cartoon video, a base model among the user's models,
and scripts for tests/desktop_app/fake_trainer.py."""
from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from core.image_io import write_image
from tests.conftest import gradient_image, make_tiny_generator

HERE = Path(__file__).resolve().parent
FAKE_TRAINER = HERE / "fake_trainer.py"
BASE_MODEL_NAME = "tiny-base"


def write_pictures(folder: Path, count: int, size_px: int = 64, cartoon: bool = False, seed: int = 0) -> Path:
    """`count` photo-like PNGs, or flat-coloured "cartoons" (posterised gradients)."""
    for i in range(count):
        picture = gradient_image(size_px, size_px, seed=seed + i)
        write_image(folder / f"{'cartoon' if cartoon else 'photo'}_{i:02d}.png",
                    np.round(picture * 3) / 3 if cartoon else picture)
    return folder


def write_video(path: Path, scenes: int = 2, frames_per_scene: int = 10, fps: int = 10) -> Path:
    """A small H.264 video of `scenes` still scenes, one second each at the defaults."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for index in range(scenes * frames_per_scene):
            picture = (gradient_image(48, 64, seed=50 + index // frames_per_scene) * 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture
def picture_folders(tmp_path) -> tuple[Path, Path]:
    """24 cartoons and 24 photos of 64 px: enough for the wizard, tiny for the trainer."""
    return (write_pictures(tmp_path / "my cartoons", 24, cartoon=True),
            write_pictures(tmp_path / "my photos", 24, seed=100))


@pytest.fixture
def base_model(isolated_user_data) -> Path:
    """A tiny generator installed as one of the user's models (the registry finds it by name)."""
    from core.model_file import ModelMetadata, save_model
    from core.model_registry import user_models_dir

    return save_model(user_models_dir() / f"{BASE_MODEL_NAME}.safetensors", make_tiny_generator(),
                      ModelMetadata(display_name="Tiny base", license="MIT"))


def fake_trainer_command(tmp_path: Path, run: list[dict], resume: list[dict] | None = None,
                         name: str = "script.json") -> tuple[list[str], Path]:
    """A trainer command that plays `run` (and `resume` when started with --resume); returns it and the file
    where each call's arguments are recorded."""
    script = tmp_path / name
    script.write_text(json.dumps({"run": run, "resume": resume or [{"exit": 0}]}), encoding="utf-8")
    return [sys.executable, str(FAKE_TRAINER), str(script)], Path(f"{script}.args")


def recorded_arguments(args_file: Path) -> list[list[str]]:
    if not args_file.exists():
        return []
    return [json.loads(line) for line in args_file.read_text(encoding="utf-8").splitlines()]
