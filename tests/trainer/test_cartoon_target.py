from __future__ import annotations

import dataclasses
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


def foliage_beside_sky(size: int = 192, sky_columns: int = 72, seed: int = 0) -> np.ndarray:
    """Left: flat light blue; right: blotches of light and dark green a few pixels across, like leaves or grass
    (the recipe's sizes scale with the picture, so the blotches must be small for its size, as in a photo)."""
    noise = cv2.GaussianBlur(np.random.default_rng(seed).normal(0, 1, (size, size)).astype(np.float32), (0, 0), 1.5)
    rgb = np.where(noise[..., None] > 0, np.float32([70, 150, 60]), np.float32([20, 60, 25]))
    rgb[:, :sky_columns] = (170, 200, 235)
    return rgb.astype(np.uint8)


def darkening(rgb: np.ndarray, recipe: CartoonTargetRecipe) -> np.ndarray:
    """How much the recipe's outlines darken each pixel: (H, W) int, in 0..255 units of the brightest channel."""
    unlined = cartoon_target(rgb, dataclasses.replace(recipe, outline_darkness=0.0)).astype(int)
    return (unlined - cartoon_target(rgb, recipe).astype(int)).max(axis=2)


def test_no_outlines_inside_texture_but_one_where_it_meets_a_flat_region():
    rgb = foliage_beside_sky()
    inside = (slice(8, 184), slice(90, 184))  # the foliage, a texture window away from the sky
    assert darkening(rgb, CartoonTargetRecipe())[inside].max() <= 2
    # without the texture test the same edges do get lines: the test above can fail
    assert (darkening(rgb, CartoonTargetRecipe(texture_density=1.0))[inside] > 20).sum() > 500
    border = darkening(rgb, CartoonTargetRecipe())[8:184, 68:76].mean(axis=0)
    assert border.max() > 50  # the sky's edge against the foliage keeps its outline


def test_outlines_are_two_pixels_wide_on_a_strong_long_edge():
    """Across a straight edge, the line's coverage (how much of the darkening each pixel gets) adds up to its width."""
    rgb = np.zeros((96, 96, 3), np.uint8)
    rgb[:, :48] = (80, 110, 190)
    rgb[:, 48:] = (240, 200, 150)
    widths = {}
    for width in (1, 2, 3):
        recipe = CartoonTargetRecipe(outline_width_px=width)
        unlined = cartoon_target(rgb, dataclasses.replace(recipe, outline_darkness=0.0)).astype(float)
        lined = cartoon_target(rgb, recipe).astype(float)
        coverage = ((1.0 - lined / np.maximum(unlined, 1.0)) / recipe.outline_darkness)[16:80].max(axis=2).mean(0)
        assert coverage.max() > 0.9 and 46 <= coverage.argmax() <= 49  # a full-strength line on the edge
        assert coverage[:40].max() < 0.02 and coverage[56:].max() < 0.02  # and nothing beside it
        widths[width] = coverage.sum()
    assert 1.7 < widths[2] < 2.3 and 2.7 < widths[3] < 3.3
    assert widths[1] < 1.6  # the first recipe's soft 1 px line


def test_recipes_without_the_later_features_keep_their_old_key():
    """The first recipe's caches (e.g. the campaign's d153ab0b8a96) stay valid: switching the later features off
    gives back its key, and a switched-off feature's own parameters do not change the key."""
    first = CartoonTargetRecipe.from_overrides({
        "outline_low": 45, "outline_high": 110, "min_outline_px": 30, "outline_darkness": 0.55,
        "outline_width_px": 1, "outline_flatten_sigma_space_px": 0.0, "texture_density": 1.0})
    assert first.key() == "d153ab0b8a96"
    assert dataclasses.replace(first, texture_radius_px=3.0, outline_flatten_sigma_range=0.1).key() == first.key()
    # any value the code reads as off is the same recipe
    assert dataclasses.replace(first, texture_density=1.5, outline_width_px=0,
                               outline_flatten_sigma_space_px=-1.0).key() == first.key()
    with_texture_test = dataclasses.replace(first, texture_density=0.2)
    assert with_texture_test.key() != first.key()
    assert dataclasses.replace(with_texture_test, texture_radius_px=3.0).key() != with_texture_test.key()
    assert CartoonTargetRecipe().key() not in (first.key(), with_texture_test.key())
