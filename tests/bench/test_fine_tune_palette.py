"""bench/bench_fine_tune_palette.py's palette distances on generated pictures: a set is at ~0 from itself, a
colour-cast copy is further away than another draw of the same colours, a stronger cast further still; and the
side-by-side sheet is written."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BENCH_FILE = Path(__file__).resolve().parents[2] / "bench" / "bench_fine_tune_palette.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_fine_tune_palette", BENCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pictures(seed: int, count: int = 4, size: int = 32) -> list[np.ndarray]:
    """Smooth random colour pictures, float RGB in [0, 1]."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.1, 0.9, size=(count, 4, 4, 3))
    return [np.kron(picture, np.ones((size // 4, size // 4, 1))).astype(np.float32) for picture in coarse]


def warm(images: list[np.ndarray], amount: float) -> list[np.ndarray]:
    """More red, less blue: a warm cast of `amount` (0..1 units of RGB)."""
    shift = np.array([amount, 0.0, -amount], dtype=np.float32)
    return [np.clip(image + shift, 0, 1) for image in images]


def test_a_set_is_at_zero_from_itself(bench):
    base = bench.lab_pixels(pictures(seed=0))
    assert bench.sliced_wasserstein(base, base) == pytest.approx(0.0, abs=1e-9)
    assert bench.frechet_colour_distance(base, base) == pytest.approx(0.0, abs=1e-3)


def test_a_warm_cast_moves_the_set_away_and_a_stronger_cast_further(bench):
    photos = pictures(seed=0, count=8)
    base = bench.lab_pixels(photos)
    other_draw = bench.sliced_wasserstein(base, bench.lab_pixels(pictures(seed=1, count=8)))
    mild, strong = (bench.lab_pixels(warm(photos, amount)) for amount in (0.1, 0.25))
    assert bench.sliced_wasserstein(base, mild) > other_draw
    assert bench.sliced_wasserstein(base, strong) > 1.5 * bench.sliced_wasserstein(base, mild)
    assert bench.frechet_colour_distance(base, strong) > bench.frechet_colour_distance(base, mild) > 1.0
    assert base[:, 1].mean() < mild[:, 1].mean() < strong[:, 1].mean()  # warm: a* (red) rises


def test_the_distances_are_symmetric_and_ignore_set_size(bench):
    small = bench.lab_pixels(pictures(seed=0, count=2))
    large = bench.lab_pixels(pictures(seed=0, count=2) * 3)
    cast = bench.lab_pixels(warm(pictures(seed=0, count=2), 0.2))
    assert bench.sliced_wasserstein(small, large) == pytest.approx(0.0, abs=1e-6)
    assert bench.sliced_wasserstein(small, cast) == pytest.approx(bench.sliced_wasserstein(cast, small))


def test_the_sheet_has_one_row_per_photo_and_one_column_per_title(bench, tmp_path):
    rows = [pictures(seed=row, count=4) for row in range(3)]
    path = bench.write_sheet(tmp_path / "sheet.jpg", rows, ["photo", "before", "after", "a key-frame"])
    with Image.open(path) as sheet:
        assert sheet.format == "JPEG"
        assert sheet.size == (4 * bench.SHEET_TILE_PX, bench.LABEL_PX + 3 * bench.SHEET_TILE_PX)
    assert not list(tmp_path.glob("*.part"))
