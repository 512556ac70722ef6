"""Temporal smoothing: less flicker on still scenes, no smearing of motion, cuts pass through; the flicker figure."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.cartoonizer import Cartoonizer
from core.temporal_smoothing import SmoothingConfig, TemporalSmoother, flicker_figure, mean_frame_change
from core.video import VideoOptions, cartoonize_video
from tests.core.synthetic_video import moving_picture, read_clip, write_clip


def _shimmering_cartoons(frames: np.ndarray, amount: float = 0.05, seed: int = 0) -> np.ndarray:
    """A stand-in for a generator that answers each frame with different strokes: input plus fresh noise."""
    rng = np.random.default_rng(seed)
    noisy = frames.astype(np.float32) / 255.0 + rng.normal(0.0, amount, frames.shape).astype(np.float32)
    return np.clip(noisy, 0.0, 1.0)


def _smooth_all(frames, cartoons, config: SmoothingConfig = SmoothingConfig()) -> list[np.ndarray]:
    smoother = TemporalSmoother(config)
    return [smoother.smooth(frame, cartoon) for frame, cartoon in zip(frames, cartoons)]


def test_still_scene_flickers_much_less():
    frames = np.stack([moving_picture(i, 64, 48, noise=0.01, still=True) for i in range(16)])
    cartoons = _shimmering_cartoons(frames)
    before = flicker_figure(frames, cartoons)
    after = flicker_figure(frames, _smooth_all(frames, cartoons))
    assert after < 0.5 * before


def test_motion_is_followed_not_smeared():
    """A square moving over a still background, cartoon = input: the output must stay the input (the flow carries the
    previous output along; uncovered background takes the new frame), in particular just behind the square."""
    frames = np.stack([moving_picture(i, 96, 64) for i in range(12)]).astype(np.float32) / 255.0
    outputs = _smooth_all(frames, frames)
    for index in range(1, len(frames)):
        error = np.abs(outputs[index] - frames[index]).mean(axis=2)
        assert error.mean() < 0.005, index
        uncovered = (np.abs(frames[index] - frames[index - 1]).mean(axis=2) > 0.2)
        assert error[uncovered].mean() < 0.05, index


def test_scene_cut_passes_through():
    """After a cut (every pixel far from what it was) the new cartoon comes out as it is, except where the flow
    happens to find a matching patch of the old picture."""
    first = moving_picture(0, 64, 48).astype(np.float32) / 255.0
    cut = (first + 0.35) % 1.0
    smoother = TemporalSmoother()
    smoother.smooth(first, np.zeros_like(first))
    error = np.abs(smoother.smooth(cut, cut) - cut).max(axis=2)
    assert (error < 1e-3).mean() > 0.95 and error.mean() < 0.01


def test_first_frame_and_size_change_pass_through_and_dtype_is_kept():
    smoother = TemporalSmoother()
    a = moving_picture(0, 64, 48)
    b = moving_picture(1, 80, 60)
    assert np.array_equal(smoother.smooth(a, a), a)
    out = smoother.smooth(b, b)
    assert out.dtype == np.uint8 and np.array_equal(out, b)


def test_strength_zero_is_off_and_strength_one_is_refused():
    frames = np.stack([moving_picture(i, 32, 24, noise=0.02, still=True) for i in range(4)])
    cartoons = _shimmering_cartoons(frames)
    outputs = _smooth_all(frames, cartoons, SmoothingConfig(strength=0.0))
    assert all(np.array_equal(o, c) for o, c in zip(outputs, cartoons))
    with pytest.raises(ValueError):
        TemporalSmoother(SmoothingConfig(strength=1.0))


def test_flicker_figure_is_the_ratio_of_mean_frame_changes():
    inputs = [np.full((2, 2, 3), v, np.float32) for v in (0.0, 0.1, 0.0)]
    outputs = [np.full((2, 2, 3), v, np.float32) for v in (0.5, 0.8, 0.5)]
    assert mean_frame_change(inputs) == pytest.approx(0.1)
    assert flicker_figure(inputs, outputs) == pytest.approx(3.0)
    assert mean_frame_change([np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)]) == 1.0
    with pytest.raises(ValueError):
        mean_frame_change(inputs[:1])


def _decoded(path: Path) -> list[np.ndarray]:
    return read_clip(path).frames


def test_video_option_lowers_the_measured_flicker_of_a_still_clip(tmp_path, tiny_model):
    """The issue's measurement on a tiny scale: static camera, mild noise, with and without the option."""
    source = write_clip(tmp_path / "still.mp4", frames=16, size=(64, 48), noise=0.02, still=True, audio=None, crf=0)
    cartoonizer = Cartoonizer(tiny_model, "cpu")
    figures = {}
    for smoothing in (False, True):
        destination = tmp_path / f"out-{smoothing}.mp4"
        for _ in cartoonize_video(source, destination, cartoonizer, VideoOptions(temporal_smoothing=smoothing, crf=10)):
            pass
        figures[smoothing] = flicker_figure(_decoded(source), _decoded(destination))
    assert figures[True] < 0.5 * figures[False], figures
