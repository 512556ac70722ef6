from __future__ import annotations

import numpy as np
import pytest
import torch

from core.cancel import CancelToken, Cancelled
from core.cartoonizer import Cartoonizer, blend_ramp, tile_starts
from core.guided_filter import guided_filter
from core.steps import drain
from tests.conftest import SHARED_DIR, gradient_image, requires_shared


@pytest.mark.parametrize("height, width", [(37, 53), (64, 64), (1, 9), (101, 6)])
def test_output_keeps_any_size_without_cropping(tiny_model, height, width):
    cartoon = Cartoonizer(tiny_model, "cpu").cartoonize(gradient_image(height, width))
    assert cartoon.shape == (height, width, 3) and cartoon.dtype == np.float32
    assert 0.0 <= cartoon.min() and cartoon.max() <= 1.0


def test_matches_the_model_run_by_hand(tiny_model):
    """Preprocessing follows the model file's convention: RGB, [-1, 1], guided filter r=1 eps=5e-3."""
    rgb = gradient_image(32, 48)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None] * 2 - 1
    with torch.no_grad():
        expected = guided_filter(x, tiny_model.generator(x), 1, 5e-3)
    expected = ((expected[0].permute(1, 2, 0).numpy() + 1) / 2).clip(0, 1)
    got = Cartoonizer(tiny_model, "cpu").cartoonize(rgb)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_bgr_models_get_bgr_input(tiny_model):
    from dataclasses import replace

    from core.model_file import CartoonModel, InputConvention

    rgb = gradient_image(32, 32)
    bgr_model = CartoonModel(tiny_model.generator,
                             replace(tiny_model.metadata, convention=InputConvention(channel_order="BGR")))
    as_rgb = Cartoonizer(tiny_model, "cpu").cartoonize(rgb[:, :, ::-1].copy())
    as_bgr = Cartoonizer(bgr_model, "cpu").cartoonize(rgb)
    np.testing.assert_allclose(as_bgr, as_rgb[:, :, ::-1], atol=1e-5)


def test_tile_spans_cover_the_picture_with_aligned_starts():
    spans = tile_starts(1000, 256, 64, 4)
    assert spans[0][0] == 0 and sum(1 for _ in spans) > 1
    assert all(start % 4 == 0 for start, _ in spans)
    assert spans[-1][0] + spans[-1][1] == 1000
    for (a, na), (b, _) in zip(spans, spans[1:]):
        assert b < a + na  # neighbours overlap
    assert tile_starts(200, 256, 64, 4) == [(0, 200)]


def test_blend_ramps_sum_to_one_across_an_overlap():
    left, right = blend_ramp(100, 0, 32), blend_ramp(100, 32, 0)
    np.testing.assert_allclose(left[-32:] + right[:32], 1.0, atol=1e-6)
    assert left[0] == 1.0 and right[-1] == 1.0


@requires_shared(SHARED_DIR / "data" / "photos" / "scenes")
def test_tiled_output_nearly_equals_untiled(whitebox_model):
    """Seamless tiling, checked with real weights on a real photo (481×321 in 256 px tiles, 128 px overlap)."""
    from core.image_io import read_image

    photo = read_image(sorted((SHARED_DIR / "data" / "photos" / "scenes").glob("*.jpg"))[0]).rgb
    whole = Cartoonizer(whitebox_model, "cpu", tile_size=1024).cartoonize(photo)
    tiler = Cartoonizer(whitebox_model, "cpu", tile_size=256, tile_overlap=128)
    assert len(tiler.tiles_for(*photo.shape[:2])) >= 6
    tiled = tiler.cartoonize(photo)
    difference = np.abs(whole - tiled)
    assert difference.mean() < 1e-3, difference.mean()  # measured 5e-4
    assert np.percentile(difference, 99.9) < 0.015       # measured 7e-3
    naive = Cartoonizer(whitebox_model, "cpu", tile_size=256, tile_overlap=4).cartoonize(photo)
    assert np.abs(whole - naive).mean() > difference.mean()  # the overlap is what makes it seamless


def test_tile_progress_and_cancel_between_tiles(tiny_model, monkeypatch):
    """`cartoonize_steps` yields (done, total) after each tile it runs; a cancel between tiles stops before the next
    one (the tiles run are counted by a spy on the per-tile inference)."""
    cartoonizer = Cartoonizer(tiny_model, "cpu", tile_size=64, tile_overlap=16)
    tiles_run: list[tuple[int, int]] = []
    run_tile = cartoonizer._run_tile

    def counting_run_tile(rgb: np.ndarray) -> np.ndarray:
        tiles_run.append(rgb.shape[:2])
        return run_tile(rgb)

    monkeypatch.setattr(cartoonizer, "_run_tile", counting_run_tile)
    ticks: list[tuple[int, int]] = []
    drain(cartoonizer.cartoonize_steps(gradient_image(150, 150)), ticks.append)
    tiles = cartoonizer.tiles_for(150, 150)
    assert len(tiles) > 1 and ticks == [(i, len(tiles)) for i in range(1, len(tiles) + 1)]
    assert tiles_run == [(tile.height, tile.width) for tile in tiles]

    tiles_run.clear()
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        drain(cartoonizer.cartoonize_steps(gradient_image(150, 150), cancel), lambda step: cancel.cancel())
    assert len(tiles_run) == 1


def test_strength_blends_with_the_original(tiny_model):
    rgb = gradient_image(40, 40)
    np.testing.assert_allclose(Cartoonizer(tiny_model, "cpu", strength=0.0).cartoonize(rgb), rgb, atol=1e-6)
    full = Cartoonizer(tiny_model, "cpu").cartoonize(rgb)
    half = Cartoonizer(tiny_model, "cpu", strength=0.5).cartoonize(rgb)
    np.testing.assert_allclose(half, 0.5 * full + 0.5 * rgb, atol=1e-5)


def test_automatic_tile_size_fits_a_720p_frame_in_one_tile_on_cpu(tiny_model):
    from core.generator import UNetGenerator
    from core.model_file import CartoonModel

    default_width = CartoonModel(UNetGenerator(), tiny_model.metadata)
    assert len(Cartoonizer(default_width, "cpu").tiles_for(720, 1280)) == 1
    assert len(Cartoonizer(default_width, "cpu").tiles_for(4000, 6000)) > 1


@pytest.mark.parametrize("path", ["picture", "frames"])
def test_half_precision_overflow_falls_back_to_fp32_on_both_paths(tiny_model, path):
    """Pictures (tiles) and video frames share one inference path: a non-finite half-precision result is redone
    in fp32, which is then kept, and the output equals an fp32 run's."""
    rgb = gradient_image(32, 48)
    frames = (np.stack([rgb, rgb[::-1]]) * 255).astype(np.uint8)

    def run(cartoonizer: Cartoonizer) -> np.ndarray:
        return cartoonizer.cartoonize(rgb) if path == "picture" else cartoonizer.cartoonize_batch(frames)

    half = Cartoonizer(tiny_model, "cpu", precision="bf16", strength=0.7)
    real_forward = half._forward

    def overflowing(x: torch.Tensor) -> torch.Tensor:
        y = real_forward(x)
        return y if half.dtype == torch.float32 else torch.full_like(y, float("inf"))

    half._forward = overflowing
    got = run(half)
    assert half.dtype == torch.float32
    expected = run(Cartoonizer(tiny_model, "cpu", precision="fp32", strength=0.7))
    tolerance = 1e-5 if path == "picture" else 1
    np.testing.assert_allclose(got.astype(np.float32), expected.astype(np.float32), atol=tolerance)


def test_batched_frames_blend_like_pictures(tiny_model):
    """The strength blend is the same formula for a frame batch as for a picture."""
    rgb = gradient_image(32, 32)
    cartoonizer = Cartoonizer(tiny_model, "cpu", strength=0.3)
    picture = cartoonizer.cartoonize(rgb)
    frame = cartoonizer.cartoonize_batch(rgb[None].copy())[0]
    np.testing.assert_allclose(frame, picture, atol=1e-5)
