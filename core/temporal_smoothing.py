"""Flicker reduction for cartoonized frame sequences, and the flicker figure that measures it.

A generator run frame by frame answers sensor noise and compression noise with different strokes each frame, so a
still scene shimmers. `TemporalSmoother` blends each new cartoon with the previous *output*, moved onto the new
frame along the input's optical flow (OpenCV's DIS flow) where the flow explains the new frame clearly better than
"nothing moved", and only where the (moved) previous *input* still matches the new input: moving objects follow the
flow instead of smearing, still areas are blended pixel to pixel (no resampling blur from flow jitter on noise), and
uncovered background, scene cuts and lighting changes take the new cartoon as it is. Because the previous output is
itself smoothed, still areas settle to a running average of the cartoons (about `strength / (1 - strength)` frames).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

_MOTION_PENALTY = 0.25   # of `tolerance`: how much better the flow must explain a pixel than "nothing moved"
_CHANNEL_MEAN = np.full((1, 3), 1.0 / (3 * 255.0), np.float32)   # RGB uint8 difference → mean, in [0, 1] units


@dataclass(frozen=True)
class SmoothingConfig:
    """`strength` is the previous output's weight where the input did not change (0 = off, below 1); an input
    difference of `tolerance` (mean over RGB, in [0, 1]) lowers that weight to 1/e of it, twice that to 2 %.
    Flow is computed at most `flow_max_side_px` on the longer side (then scaled up); motions under `still_px`
    count as none, so still areas are blended pixel to pixel without resampling blur."""

    strength: float = 0.7
    tolerance: float = 0.05
    flow_max_side_px: int = 640
    still_px: float = 0.3


class TemporalSmoother:
    """Stateful: feed the frames of one shot in order; `reset()` before an unrelated sequence."""

    def __init__(self, config: SmoothingConfig = SmoothingConfig()):
        if not 0.0 <= config.strength < 1.0:
            raise ValueError("temporal smoothing strength must be in [0, 1)")
        self.config = config
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self._grid: np.ndarray | None = None   # (H, W, 2) float32 pixel coordinates, for remapping
        self.reset()

    def reset(self) -> None:
        self._previous_grey: np.ndarray | None = None     # (h, w) uint8, at flow resolution
        self._previous_input: np.ndarray | None = None    # (H, W, 3) uint8
        self._previous_output: np.ndarray | None = None   # (H, W, 3) float32 [0, 1]

    def smooth(self, rgb: np.ndarray, cartoon: np.ndarray) -> np.ndarray:
        """(H, W, 3) input frame and its cartoon, uint8 or float32 in [0, 1] → the output frame, same dtype as
        `cartoon`. The first frame (and any frame whose size differs from the last) passes through unchanged."""
        frame = _as_uint8(rgb)
        raw = _as_float(cartoon)
        grey = self._flow_grey(frame)
        previous_output = self._previous_output
        if previous_output is None or previous_output.shape != raw.shape or self.config.strength == 0.0:
            result = raw
        else:
            tolerance = self.config.tolerance
            change = _local_change(self._previous_input, frame)                    # (H, W) if nothing moved
            flow = self._flow_at(grey, frame.shape[0], frame.shape[1])              # (H, W, 2) or None
            if flow is not None:
                # Follow the flow only where it explains the new frame clearly better than "nothing moved": on a
                # still, noisy picture the flow jitters, and following it would resample (blur, shift) the output.
                moved_input = self._remap(self._previous_input, flow)
                change_if_moved = _local_change(moved_input, frame)
                moved = change_if_moved + tolerance * _MOTION_PENALTY < change         # (H, W) bool
                flow *= moved[:, :, None]
                change = np.where(moved, change_if_moved, change)
                previous_output = self._remap(previous_output, flow)
            weight = cv2.exp(cv2.multiply(change, change, scale=-1.0 / tolerance ** 2)) * self.config.strength
            result = cv2.blendLinear(previous_output, raw, weight, 1.0 - weight)
        self._previous_grey, self._previous_input, self._previous_output = grey, frame, result
        return _as_uint8(result) if cartoon.dtype == np.uint8 else result.astype(cartoon.dtype, copy=False)

    def _flow_grey(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        scale = min(1.0, self.config.flow_max_side_px / max(height, width))
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, (max(8, round(width * scale)), max(8, round(height * scale))),
                              interpolation=cv2.INTER_AREA)
        return grey

    def _flow_at(self, grey: np.ndarray, height: int, width: int) -> np.ndarray | None:
        """(H, W, 2) float32: for each pixel of the new frame, how far back it was in the previous one; motions under
        `still_px` zeroed. None when nothing moved anywhere (the common case for a still camera)."""
        if self._previous_grey is None or self._previous_grey.shape != grey.shape:
            return None
        flow = self._flow.calc(grey, self._previous_grey, None)                     # (h, w, 2): new → previous
        scale = width / grey.shape[1]
        still = cv2.magnitude(flow[..., 0], flow[..., 1]) < self.config.still_px / scale
        flow[still] = 0.0
        if not flow.any():
            return None
        if flow.shape[:2] != (height, width):
            flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
            flow *= np.float32([width / grey.shape[1], height / grey.shape[0]])
        return flow

    def _remap(self, image: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """`image` sampled at each pixel's position plus `flow` (bilinear; exact where the flow is zero)."""
        height, width = flow.shape[:2]
        if self._grid is None or self._grid.shape[:2] != (height, width):
            grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
            self._grid = np.dstack([grid_x, grid_y])                                # (H, W, 2)
        return cv2.remap(image, self._grid + flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _local_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W) float32 mean absolute RGB difference of two uint8 frames in [0, 1] units, averaged over 3×3 pixels so
    that one noisy pixel is no change."""
    difference = cv2.transform(cv2.absdiff(a, b).astype(np.float32), _CHANNEL_MEAN)   # (H, W)
    return cv2.blur(difference, (3, 3))


def _as_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    return cv2.convertScaleAbs(pixels, alpha=255.0)   # rounds and saturates to [0, 255]; inputs are never negative


def _as_float(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return np.multiply(pixels, np.float32(1.0 / 255.0), dtype=np.float32)
    return pixels.astype(np.float32, copy=False)


def mean_frame_change(frames: Iterable[np.ndarray]) -> float:
    """Mean absolute difference between consecutive frames, in [0, 1] units (uint8 frames are scaled by 1/255)."""
    total, count, previous = 0.0, 0, None
    for frame in frames:
        current = _as_float(frame)
        if previous is not None:
            total += float(np.abs(current - previous).mean())
            count += 1
        previous = current
    if count == 0:
        raise ValueError("the flicker figure needs at least two frames")
    return total / count


def flicker_figure(inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray]) -> float:
    """Mean absolute change between consecutive output frames over that of the input frames. On a clip with a still
    camera the input only changes by noise, so 1 means the cartoon moves as much as the noise, above 1 that it
    shimmers more than the input does, and lower is steadier."""
    return mean_frame_change(outputs) / mean_frame_change(inputs)
