"""Region strength: foreground and background get their own cartoon strength, by a low-resolution soft mask."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.cartoonizer import Cartoonizer
from core.region_strength import (
    MASK_SIDE_PX, ForegroundMasks, MaskHistory, RegionStrength, load_foreground_masks, mask_size,
)
from core.segmenter import SegmenterFileError, bundled_segmenter_path
from tests.conftest import gradient_image


def left_half_mask(images: torch.Tensor) -> torch.Tensor:
    """A stub segmenter: the left half of every picture is foreground."""
    masks = torch.zeros(images.shape[0], 1, *images.shape[-2:], device=images.device)
    masks[..., : images.shape[-1] // 2] = 1.0
    return masks


class CountingMask:
    def __init__(self):
        self.sizes: list[tuple[int, ...]] = []

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self.sizes.append(tuple(images.shape))
        return left_half_mask(images)


def test_foreground_zero_keeps_the_photo_in_the_mask_and_the_cartoon_elsewhere(tiny_model):
    rgb = gradient_image(48, 64)
    cartoon = Cartoonizer(tiny_model, "cpu").cartoonize(rgb)
    out = Cartoonizer(tiny_model, "cpu", region_strength=RegionStrength(foreground=0.0),
                      mask_function=left_half_mask).cartoonize(rgb)
    np.testing.assert_allclose(out[:, :30], rgb[:, :30], atol=1e-6)            # foreground: the photo
    np.testing.assert_allclose(out[:, 34:], cartoon[:, 34:], atol=1e-6)        # background: the cartoon
    assert np.abs(cartoon[:, :30] - rgb[:, :30]).mean() > 0.05                  # (the two do differ there)


def test_background_strength_and_global_strength_multiply(tiny_model):
    rgb = gradient_image(48, 64)
    cartoon = Cartoonizer(tiny_model, "cpu").cartoonize(rgb)
    out = Cartoonizer(tiny_model, "cpu", strength=0.5, region_strength=RegionStrength(1.0, 0.4),
                      mask_function=left_half_mask).cartoonize(rgb)
    np.testing.assert_allclose(out[:, :30], rgb[:, :30] + 0.5 * (cartoon[:, :30] - rgb[:, :30]), atol=1e-5)
    np.testing.assert_allclose(out[:, 34:], rgb[:, 34:] + 0.2 * (cartoon[:, 34:] - rgb[:, 34:]), atol=1e-5)


def test_the_mask_is_computed_once_at_low_resolution_for_a_tiled_picture(tiny_model):
    masks = CountingMask()
    cartoonizer = Cartoonizer(tiny_model, "cpu", tile_size=256, tile_overlap=32,
                              region_strength=RegionStrength(foreground=0.0), mask_function=masks)
    rgb = gradient_image(400, 600)
    assert len(cartoonizer.tiles_for(400, 600)) > 1
    out = cartoonizer.cartoonize(rgb)
    assert masks.sizes == [(1, 3, *mask_size(400, 600))] and max(masks.sizes[0][2:]) == MASK_SIDE_PX
    np.testing.assert_allclose(out[:, :280], rgb[:, :280], atol=1e-6)


def test_video_frames_get_one_smoothed_mask_each(tiny_model):
    masks = CountingMask()
    cartoonizer = Cartoonizer(tiny_model, "cpu", region_strength=RegionStrength(foreground=0.0),
                              mask_function=masks)
    frames = (np.stack([gradient_image(48, 64, seed) for seed in range(3)]) * 255).astype(np.uint8)
    full = Cartoonizer(tiny_model, "cpu").cartoonize_batch(frames)
    out = cartoonizer.cartoonize_batch(frames, history=MaskHistory())
    assert sum(size[0] for size in masks.sizes) == 3
    assert np.abs(out[:, :, :30].astype(int) - frames[:, :, :30]).max() <= 1
    assert np.abs(out[:, :, 34:].astype(int) - full[:, :, 34:]).max() <= 1


def test_mask_history_follows_changes_gradually():
    history = MaskHistory(previous_weight=0.5)
    masks = torch.tensor([0.0, 1.0, 1.0]).view(3, 1, 1, 1)
    assert history.smooth(masks).flatten().tolist() == [0.0, 0.5, 0.75]
    assert history.smooth(torch.ones(1, 1, 2, 2)).flatten().tolist() == [1.0] * 4   # new size: starts afresh


def test_strengths_outside_0_to_1_are_refused():
    with pytest.raises(ValueError, match="foreground"):
        RegionStrength(foreground=1.5)
    with pytest.raises(ValueError, match="background"):
        RegionStrength(background=-0.1)


def test_a_missing_segmenter_is_a_clear_error(tmp_path, tiny_model):
    with pytest.raises(SegmenterFileError, match="missing"):
        load_foreground_masks(tmp_path / "nothing.safetensors")


def test_the_bundled_segmenter_drives_the_real_path(tiny_model):
    """The real segmenter file, once, at a small size: the output is the photo/cartoon blend its mask says."""
    assert bundled_segmenter_path().is_file()
    masks = load_foreground_masks()
    assert isinstance(masks, ForegroundMasks)
    rgb = gradient_image(40, 56)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    mask = masks(x)[0, 0].numpy()[:, :, None]
    assert mask.shape == (40, 56, 1) and 0.0 <= mask.min() and mask.max() <= 1.0
    cartoon = Cartoonizer(tiny_model, "cpu").cartoonize(rgb)
    out = Cartoonizer(tiny_model, "cpu", region_strength=RegionStrength(foreground=0.0),
                      mask_function=masks).cartoonize(rgb)
    np.testing.assert_allclose(out, rgb + (cartoon - rgb) * (1.0 - mask), atol=1e-5)


def test_a_video_gets_region_strength_frame_by_frame(tmp_path, tiny_model):
    from core.batch import BatchOptions, plan_batch, run_batch
    from core.video import VideoOptions
    from tests.core.synthetic_video import write_clip

    source = write_clip(tmp_path / "clip.mp4", frames=6, audio=None)
    as_frames = VideoOptions(frames_only=True, batch_frames=4)

    def run(out: str, **cartoonizer_options) -> list[np.ndarray]:
        options = BatchOptions(tmp_path / out, video=as_frames)
        list(run_batch(plan_batch([source], options), Cartoonizer(tiny_model, "cpu", **cartoonizer_options), options))
        return [np.asarray(Image.open(p)).astype(int) for p in sorted((tmp_path / out / "clip").iterdir())]

    photo, cartoon = run("photo", strength=0.0), run("cartoon")
    masks = CountingMask()
    mixed = run("mixed", region_strength=RegionStrength(foreground=0.0), mask_function=masks)
    assert len(mixed) == 6 and sum(size[0] for size in masks.sizes) == 6
    for p, c, m in zip(photo, cartoon, mixed):
        assert np.abs(m[:, :28] - p[:, :28]).max() <= 1 and np.abs(m[:, 36:] - c[:, 36:]).max() <= 1
        assert np.abs(c[:, :28] - p[:, :28]).mean() > 5
