from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core.atomic_files import is_partial_file
from core.cancel import CancelToken, Cancelled
from core.image_io import read_image, write_image
from tests.conftest import gradient_image
from trainer.cartoon_target import CartoonTargetRecipe, cartoon_target, make_cartoon_targets, target_path


def two_tone_with_texture(size: int = 96, seed: int = 0) -> np.ndarray:
    """Left half dark blue, right half light orange, both with fine photo-like noise: (size, size, 3) uint8."""
    rgb = np.zeros((size, size, 3), np.float32)
    rgb[:, : size // 2] = (40, 60, 140)
    rgb[:, size // 2:] = (230, 170, 90)
    rgb += np.random.default_rng(seed).normal(0, 12, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def test_target_keeps_shape_and_is_deterministic():
    rgb = (gradient_image(70, 90, seed=1) * 255).astype(np.uint8)
    first, second = cartoon_target(rgb), cartoon_target(rgb)
    assert first.shape == rgb.shape and first.dtype == np.uint8
    assert np.array_equal(first, second)
    with pytest.raises(ValueError, match="uint8"):
        cartoon_target(rgb.astype(np.float32))


def test_texture_is_flattened_but_the_border_gets_a_dark_line():
    rgb = two_tone_with_texture()
    target = cartoon_target(rgb).astype(np.float32)
    inner = (slice(10, 86), slice(8, 38))  # inside the left half, away from the border and the picture's edge
    assert target[inner].std(axis=(0, 1)).max() < 0.35 * rgb[inner].astype(np.float32).std(axis=(0, 1)).max()
    # the border column is darker than the light side right next to it: an outline, not pure black
    border = target[10:86, 47:50].mean(axis=(0, 1))
    light_side = target[10:86, 52:60].mean(axis=(0, 1))
    assert border.sum() < 0.85 * light_side.sum() and border.sum() > 0.15 * light_side.sum()


def test_short_speckles_get_no_outlines():
    """Isolated dark dots (gravel, pores) are far shorter than min_outline_px: no line is drawn around them."""
    rgb = np.full((96, 96, 3), 200, np.uint8)
    rng = np.random.default_rng(3)
    for y, x in rng.integers(5, 90, size=(25, 2)):
        cv2.circle(rgb, (int(x), int(y)), 1, (120, 120, 120), -1)
    no_lines = CartoonTargetRecipe(outline_darkness=0.0)
    assert np.abs(cartoon_target(rgb).astype(int) - cartoon_target(rgb, no_lines).astype(int)).max() <= 1


def test_recipe_overrides_and_key():
    recipe = CartoonTargetRecipe.from_overrides({"outline_low": 30, "flatness": 0.5})
    assert (recipe.outline_low, recipe.flatness) == (30, 0.5) and isinstance(recipe.outline_low, int)
    assert recipe.key() != CartoonTargetRecipe().key() and recipe.key() == CartoonTargetRecipe(
        outline_low=30, flatness=0.5).key()
    with pytest.raises(ValueError, match="outlines_low"):
        CartoonTargetRecipe.from_overrides({"outlines_low": 30})


def test_cache_is_resumable_atomic_and_tied_to_its_recipe(tmp_path):
    photos = tmp_path / "photos"
    for i in range(4):
        write_image(photos / "a" / f"p{i}.jpg", gradient_image(40, 56, seed=i), fmt="jpeg")
    (photos / "a" / "broken.jpg").write_bytes(b"not a jpeg")
    cache, recipe, token = tmp_path / "cache", CartoonTargetRecipe(), CancelToken()
    with pytest.raises(Cancelled):
        for progress in make_cartoon_targets(photos, cache, recipe, token):
            if progress.made == 2:
                token.cancel()
    assert not any(is_partial_file(p) for p in cache.rglob("*"))
    last = list(make_cartoon_targets(photos, cache, recipe))[-1]
    assert (last.done, last.total, last.made, last.reused, last.failed) == (5, 5, 2, 2, 1)
    target = read_image(target_path(cache, photos, photos / "a" / "p3.jpg")).rgb
    assert target.shape == (40, 56, 3)
    assert json.loads((cache / "recipe.json").read_text())["key"] == recipe.key()
    with pytest.raises(ValueError, match="another recipe"):
        next(make_cartoon_targets(photos, cache, CartoonTargetRecipe(flatness=0.3)))
