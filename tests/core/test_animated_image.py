"""Animated GIF, WebP and APNG: animated in, animated out, same format, frame count, durations and loop count."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from core.batch import BatchFinished, BatchOptions, FrameProgress, ItemKind, plan_batch, run_batch
from core.cartoonizer import Cartoonizer
from core.image_io import image_is_ours
from core.region_strength import RegionStrength
from core.video import VideoOptions
from tests.conftest import gradient_image


def _frames(count: int, height: int = 36, width: int = 44) -> list[Image.Image]:
    return [Image.fromarray((gradient_image(height, width, seed) * 255).astype(np.uint8)) for seed in range(count)]


def _save(path: Path, frames: list[Image.Image], durations: list[int], **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, **options)
    return path


def _timing(path: Path) -> tuple[str, int, list[int], int | None]:
    with Image.open(path) as image:
        durations = []
        for frame in ImageSequence.Iterator(image):
            frame.load()  # (WebP states durations only once a frame is decoded)
            durations.append(frame.info["duration"])
        return image.format, image.n_frames, durations, image.info.get("loop")


def _run(inputs, options, model, **cartoonizer_options):
    cartoonizer = Cartoonizer(model, "cpu", **cartoonizer_options)
    events = list(run_batch(plan_batch(inputs, options), cartoonizer, options))
    assert isinstance(events[-1], BatchFinished)
    return events, events[-1].summary


def test_an_animated_gif_of_10_frames_stays_one_with_the_same_timing(tmp_path, tiny_model):
    durations = [40, 50, 60, 70, 80, 90, 100, 110, 120, 130]
    source = _save(tmp_path / "in" / "anim.gif", _frames(10), durations, loop=0)
    events, summary = _run([tmp_path / "in"], BatchOptions(tmp_path / "out"), tiny_model)
    assert summary.done == 1 and summary.results[0].item.kind is ItemKind.ANIMATION
    out = tmp_path / "out" / "anim.gif"
    assert _timing(out) == ("GIF", 10, durations, 0) == _timing(source)
    assert [e.frames_done for e in events if isinstance(e, FrameProgress)][-1] == 10
    assert image_is_ours(out)


@pytest.mark.parametrize("suffix, loop", [(".webp", 3), (".png", 2)])
def test_animated_webp_and_apng_keep_format_frames_durations_and_loop(tmp_path, tiny_model, suffix, loop):
    durations = [30, 70, 110, 50]
    source = _save(tmp_path / f"anim{suffix}", _frames(4), durations, loop=loop)
    _, summary = _run([source], BatchOptions(tmp_path / "out", name_pattern="{stem}_cartoon"), tiny_model)
    assert summary.done == 1
    out = tmp_path / "out" / f"anim_cartoon{suffix}"
    fmt, count, out_durations, out_loop = _timing(out)
    assert (fmt, count, out_durations, out_loop) == _timing(source)
    assert count == 4 and out_durations == durations and out_loop == loop
    with Image.open(out) as image:
        assert image.is_animated
    assert image_is_ours(out)


def test_a_still_gif_stays_a_still_picture(tmp_path, tiny_model):
    _frames(1)[0].save(tmp_path / "still.gif")
    (item,) = plan_batch([tmp_path / "still.gif"], BatchOptions(tmp_path / "out")).items
    assert item.kind is ItemKind.IMAGE and item.destination.name == "still.gif"


def test_transparency_survives(tmp_path, tiny_model):
    frames = []
    for index, frame in enumerate(_frames(3)):
        rgba = np.dstack([np.asarray(frame), np.full(frame.size[::-1], 255, np.uint8)])
        rgba[:10, :10 + index, 3] = 0
        frames.append(Image.fromarray(rgba, "RGBA"))
    source = _save(tmp_path / "alpha.webp", frames, [50, 50, 50], loop=0, lossless=True)
    _run([source], BatchOptions(tmp_path / "out"), tiny_model)
    with Image.open(tmp_path / "out" / "alpha.webp") as image:
        alphas = [np.asarray(frame.convert("RGBA"))[:, :, 3] for frame in ImageSequence.Iterator(image)]
    assert len(alphas) == 3 and all(a[:10, :10].max() == 0 and a[20:, 20:].min() == 255 for a in alphas)


def _decoded(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        return [np.asarray(frame.convert("RGB")).astype(int) for frame in ImageSequence.Iterator(image)]


def test_frames_take_the_video_path_with_region_strength(tmp_path, tiny_model):
    def left_half(images: torch.Tensor) -> torch.Tensor:
        masks = torch.zeros(images.shape[0], 1, *images.shape[-2:])
        masks[..., : images.shape[-1] // 2] = 1.0
        return masks

    frames = _frames(5)
    source = _save(tmp_path / "anim.png", frames, [40] * 5, loop=0)
    options = BatchOptions(tmp_path / "out", video=VideoOptions(batch_frames=2))
    _, summary = _run([source], options, tiny_model, region_strength=RegionStrength(foreground=0.0),
                      mask_function=left_half)
    assert summary.done == 1
    outputs = _decoded(tmp_path / "out" / "anim.png")
    assert len(outputs) == 5
    for frame, output in zip(frames, outputs):   # the foreground half is the photo, frame after frame
        assert np.abs(output[:, :20] - np.asarray(frame)[:, :20]).max() <= 1


def test_temporal_smoothing_applies_to_animations(tmp_path, tiny_model):
    still = _frames(1)[0]
    noise = [np.random.default_rng(i).integers(-6, 7, (36, 44, 3)) for i in range(4)]
    noisy = [Image.fromarray(np.clip(np.asarray(still).astype(int) + n, 0, 255).astype(np.uint8)) for n in noise]
    source = _save(tmp_path / "noisy.png", noisy, [40] * 4, loop=0)
    _run([source], BatchOptions(tmp_path / "plain"), tiny_model)
    _run([source], BatchOptions(tmp_path / "smooth", video=VideoOptions(temporal_smoothing=True)), tiny_model)
    plain, smooth = _decoded(tmp_path / "plain" / "noisy.png"), _decoded(tmp_path / "smooth" / "noisy.png")
    assert len(smooth) == 4 and np.array_equal(plain[0], smooth[0])

    def change(frames):
        return np.mean([np.abs(b - a).mean() for a, b in zip(frames, frames[1:])])
    assert change(smooth) < change(plain)


def test_a_multi_page_tiff_says_only_its_first_page_was_done(tmp_path, tiny_model):
    pages = _frames(3)
    pages[0].save(tmp_path / "scan.tif", save_all=True, append_images=pages[1:])
    _, summary = _run([tmp_path / "scan.tif"], BatchOptions(tmp_path / "out"), tiny_model)
    (result,) = summary.results
    assert result.status == "done" and "only the first of its 3 pages" in result.note


def test_an_animation_above_the_pixel_limit_is_refused_with_the_reason(tmp_path, tiny_model):
    source = _save(tmp_path / "big.gif", _frames(2), [50, 50], loop=0)
    _, summary = _run([source], BatchOptions(tmp_path / "out", max_pixels=1000), tiny_model)
    (result,) = summary.results
    assert result.status == "failed" and "44×36" in result.error and "safety limit" in result.error
    assert not (tmp_path / "out" / "big.gif").exists()
