"""Turns one RGB picture into a cartoon with a loaded model: preprocessing from the model's own convention,
padding to its multiple (never cropping), overlapping tiles above the device's memory budget, the guided filter,
half precision on CUDA with an fp32 fallback, and the blend with the photo (global and per-region strength, see
`core.region_strength`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generator, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from core.cancel import CancelToken
from core.devices import activation_budget_bytes, inference_dtype, resolve_device
from core.guided_filter import guided_filter
from core.inference_graph import prepare_for_inference
from core.model_file import CartoonModel
from core.region_strength import (
    MaskFunction, MaskHistory, RegionStrength, load_foreground_masks, low_res_masks, picture_mask, strength_from_mask,
)
from core.steps import drain

Tensor = TypeVar("Tensor", np.ndarray, torch.Tensor)
MIN_TILE_PX = 256


class DeviceOutOfMemory(Exception):
    """The device ran out of memory even with the smallest tiles."""


@dataclass(frozen=True)
class Tile:
    """A rectangle of the picture, in pixels: rows [top, top+height), columns [left, left+width)."""

    top: int
    left: int
    height: int
    width: int


def tile_starts(length: int, tile: int, overlap: int, align: int) -> list[tuple[int, int]]:
    """(start, size) spans covering [0, length) with about `overlap` shared between neighbours.

    Uses the fewest tiles of at most `tile` and spreads them evenly (so no tile is mostly overlap); starts are
    multiples of `align`, so every tile sees the same stride-2 phase as the whole picture would."""
    if length <= tile:
        return [(0, length)]
    count = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (count - 1) * overlap) / count)
    size = min(tile, -(-size // align) * align)  # round up to the alignment, never above the tile
    starts = [i * (length - size) // (count - 1) // align * align for i in range(count)]
    return [(start, size) for start in starts[:-1]] + [(starts[-1], length - starts[-1])]


def blend_ramp(size: int, ramp_before: int, ramp_after: int) -> np.ndarray:
    """1-D weights: linear fades over the overlaps shared with neighbours, 1 elsewhere (and at picture edges)."""
    index = np.arange(size, dtype=np.float32) + 0.5
    weights = np.ones(size, dtype=np.float32)
    if ramp_before:
        weights = np.minimum(weights, index / ramp_before)
    if ramp_after:
        weights = np.minimum(weights, (size - index) / ramp_after)
    return weights


def blend_with_photo(photo: Tensor, cartoon: Tensor, weight: Tensor | float) -> Tensor:
    """photo + (cartoon − photo) × weight, in place on `cartoon` (NumPy arrays or tensors of one shape; `weight`
    broadcasts: one number, or a per-pixel strength with one channel)."""
    cartoon -= photo
    cartoon *= weight
    cartoon += photo
    return cartoon


class Cartoonizer:
    """A model placed on a device, ready to cartoonize pictures of any size.

    `tile_size=None` picks tiles from the device's memory budget (one tile when the picture fits); `strength`
    blends the cartoon with the original (1 = full cartoon); `region_strength` scales it per region (foreground /
    background, by the bundled segmenter's soft mask, loaded here when the two differ; `mask_function` replaces that
    segmenter, e.g. a cached one or a test's).
    """

    def __init__(self, model: CartoonModel, device: str | torch.device = "auto", precision: str = "auto",
                 tile_size: int | None = None, tile_overlap: int = 128, strength: float = 1.0,
                 region_strength: RegionStrength = RegionStrength(), mask_function: MaskFunction | None = None):
        self.model = model
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.dtype = inference_dtype(self.device, precision)
        self.tile_overlap = tile_overlap
        if not 0.0 <= float(strength) <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {strength}")
        self.strength = float(strength)
        self.region_strength = region_strength
        if mask_function is None and not region_strength.is_uniform:
            mask_function = load_foreground_masks()
        self.mask_function = mask_function
        self.multiple = model.metadata.convention.pad_multiple
        self.tile_size = tile_size or self._tile_size_from_budget()
        self._network = self._place_generator(self.dtype)

    # --- set-up -------------------------------------------------------------------------------------------
    def _place_generator(self, dtype: torch.dtype) -> torch.nn.Module:
        """The generator in its fastest inference form for the device (see `core.inference_graph`)."""
        return prepare_for_inference(self.model.generator, self.device, dtype)

    def _tile_size_from_budget(self) -> int:
        """The largest square tile whose activations fit the device's budget: about 4 values per pixel for each
        base channel (measured peak on CPU: ~520 B/px at width 32, fp32) plus the guided filter's fp32 planes."""
        side = int(math.sqrt(activation_budget_bytes(self.device) / self._bytes_per_pixel()))
        return max(MIN_TILE_PX, side // self.multiple * self.multiple)

    def _bytes_per_pixel(self) -> int:
        channels = self.model.metadata.config.base_channels
        element = torch.finfo(self.dtype).bits // 8
        return 4 * channels * element + 30 * 4

    # --- public ---------------------------------------------------------------------------------------------
    def tiles_for(self, height: int, width: int) -> list[Tile]:
        rows = tile_starts(height, self.tile_size, self.tile_overlap, self.multiple)
        cols = tile_starts(width, self.tile_size, self.tile_overlap, self.multiple)
        return [Tile(top, left, h, w) for top, h in rows for left, w in cols]

    def cartoonize(self, rgb: np.ndarray, cancel: CancelToken | None = None) -> np.ndarray:
        """(H, W, 3) float32 RGB in [0, 1] → the cartoon, same shape and range. Raises `Cancelled` between tiles
        (`cartoonize_steps` reports progress tile by tile)."""
        return drain(self.cartoonize_steps(rgb, cancel))

    def cartoonize_steps(self, rgb: np.ndarray, cancel: CancelToken | None = None,
                         history: MaskHistory | None = None) -> Generator[tuple[int, int], None, np.ndarray]:
        """Like `cartoonize`, as a generator: yields (tiles done, tiles total) after each tile and returns the
        cartoon, so that callers can report progress while it runs. On CUDA out-of-memory it retries with
        smaller tiles. `history` smooths the region mask over the frames of a video."""
        cartoon = yield from self._cartoon_steps(rgb, cancel)
        return self._blend_picture(rgb, cartoon, history)

    def _cartoon_steps(self, rgb: np.ndarray,
                       cancel: CancelToken | None) -> Generator[tuple[int, int], None, np.ndarray]:
        """The full-strength cartoon, tile by tile."""
        while True:
            try:
                return (yield from self._tiled_steps(rgb, cancel))
            except torch.cuda.OutOfMemoryError as exc:
                torch.cuda.empty_cache()
                if self.tile_size <= MIN_TILE_PX:
                    raise DeviceOutOfMemory(
                        f"out of memory on {self.device} even with {MIN_TILE_PX}px tiles; use the CPU") from exc
                self.tile_size = max(MIN_TILE_PX, self.tile_size // 2 // self.multiple * self.multiple)

    def cartoonize_batch(self, frames: np.ndarray, cancel: CancelToken | None = None,
                         history: MaskHistory | None = None) -> np.ndarray:
        """(N, H, W, 3) RGB frames, uint8 or float32 in [0, 1] → their cartoons, same shape and dtype.

        For video: frames that fit in one tile go through the generator together, as many per pass as the device's
        memory budget allows (uint8 frames cross to the device and back as uint8); larger frames take the tiled
        path one by one. Raises `Cancelled` between passes. `history` (one per video) smooths the region mask
        over time; pass the frames in order."""
        if frames.ndim != 4 or frames.shape[3] != 3:
            raise ValueError(f"expected (N, H, W, 3) frames, got shape {frames.shape}")
        count, height, width = frames.shape[:3]
        out = np.empty_like(frames)
        if len(self.tiles_for(height, width)) > 1:
            for i in range(count):
                rgb = frames[i].astype(np.float32) / 255.0 if frames.dtype == np.uint8 else frames[i]
                cartoon = self._blend_picture(rgb, drain(self._cartoon_steps(rgb, cancel)), history)
                out[i] = (np.clip(cartoon, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8) if frames.dtype == np.uint8 \
                    else cartoon
            return out
        start = 0
        per_pass = self._frames_per_pass(height, width)
        while start < count:
            if cancel:
                cancel.raise_if_cancelled()
            chunk = min(count - start, per_pass)
            try:
                out[start:start + chunk] = self._run_frames(frames[start:start + chunk], history)
            except torch.cuda.OutOfMemoryError as exc:
                torch.cuda.empty_cache()
                if chunk == 1:
                    raise DeviceOutOfMemory(f"out of memory on {self.device} for one {width}×{height} frame; "
                                            "use a smaller --tile or the CPU") from exc
                per_pass = chunk // 2
                continue
            start += chunk
        return out

    # --- internals -----------------------------------------------------------------------------------------
    def _blends(self) -> bool:
        return self.strength < 1.0 or not self.region_strength.is_uniform or self.region_strength.foreground < 1.0

    def _blend_picture(self, rgb: np.ndarray, cartoon: np.ndarray, history: MaskHistory | None) -> np.ndarray:
        """photo + (cartoon − photo) × per-pixel strength, in place on `cartoon` (float32 (H, W, 3) in [0, 1])."""
        if not self._blends():
            return cartoon
        if self.region_strength.is_uniform:
            weight = self.strength * self.region_strength.foreground
        else:
            weight = strength_from_mask(picture_mask(self.mask_function, rgb, self.device, history),
                                        self.region_strength, self.strength)          # (H, W, 1)
        return blend_with_photo(rgb, cartoon, weight)

    def _frame_weights(self, x: torch.Tensor, history: MaskHistory | None) -> torch.Tensor | float:
        """Per-pixel strength (n, 1, H, W) for frames `x` (n, 3, H, W) in [0, 1], or one number when uniform."""
        if self.region_strength.is_uniform:
            return self.strength * self.region_strength.foreground
        masks = low_res_masks(self.mask_function, x)                        # (n, 1, h, w)
        if history is not None:
            masks = history.smooth(masks)
        if masks.shape[-2:] != x.shape[-2:]:
            masks = F.interpolate(masks, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return strength_from_mask(masks, self.region_strength, self.strength)  # (n, 1, H, W)

    def _frames_per_pass(self, height: int, width: int) -> int:
        padded = (height + -height % self.multiple) * (width + -width % self.multiple)
        return max(1, activation_budget_bytes(self.device) // (self._bytes_per_pixel() * padded))

    def _run_frames(self, frames: np.ndarray, history: MaskHistory | None = None) -> np.ndarray:
        """(n, H, W, 3) uint8 or float32 frames through the model as one batch; same shape and dtype back."""
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)
            x = x.permute(0, 3, 1, 2).float()                                # (n, 3, H, W)
            if frames.dtype == np.uint8:
                x = x / 255.0
            cartoon = self._infer(x, history).permute(0, 2, 3, 1)            # (n, H, W, 3)
            if frames.dtype == np.uint8:
                cartoon = (cartoon.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8)
            return cartoon.cpu().numpy()

    def _tiled_steps(self, rgb: np.ndarray,
                     cancel: CancelToken | None) -> Generator[tuple[int, int], None, np.ndarray]:
        height, width = rgb.shape[:2]
        tiles = self.tiles_for(height, width)
        if len(tiles) == 1:
            if cancel:
                cancel.raise_if_cancelled()
            result = self._run_tile(rgb)
            yield 1, 1
            return result
        accumulated = np.zeros((height, width, 3), dtype=np.float32)
        weight_sum = np.zeros((height, width, 1), dtype=np.float32)
        for done, tile in enumerate(tiles, start=1):
            if cancel:
                cancel.raise_if_cancelled()
            rows = slice(tile.top, tile.top + tile.height)
            cols = slice(tile.left, tile.left + tile.width)
            out = self._run_tile(rgb[rows, cols])
            ramp_y = blend_ramp(tile.height, self.tile_overlap * (tile.top > 0),
                                self.tile_overlap * (tile.top + tile.height < height))
            ramp_x = blend_ramp(tile.width, self.tile_overlap * (tile.left > 0),
                                self.tile_overlap * (tile.left + tile.width < width))
            weight = ramp_y[:, None, None] * ramp_x[None, :, None]
            accumulated[rows, cols] += out * weight
            weight_sum[rows, cols] += weight
            yield done, len(tiles)
        accumulated /= weight_sum
        return accumulated

    def _run_tile(self, rgb: np.ndarray) -> np.ndarray:
        """One (H, W, 3) float32 tile in [0, 1] through the model; the full-strength cartoon, same shape (a picture is
        blended with its photo as a whole, once its tiles are put together)."""
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(rgb)).to(self.device)
            cartoon = self._infer(x.permute(2, 0, 1).unsqueeze(0), blend=False)   # (1, 3, H, W)
            return cartoon[0].permute(1, 2, 0).contiguous().cpu().numpy()     # (H, W, 3)

    def _infer(self, x: torch.Tensor, history: MaskHistory | None = None, blend: bool = True) -> torch.Tensor:
        """The one way through the network: (n, 3, H, W) RGB in [0, 1] on the device → the cartoon, same shape and
        range. The model's convention and padding, generator and guided filter, a retry in fp32 (kept from then
        on) when half precision overflows, and, with `blend`, the per-pixel strength. Call in inference mode."""
        height, width = x.shape[-2:]
        model_input = self._unit_to_model_input(x)
        y = self._forward(model_input)
        if not bool(torch.isfinite(y).all()) and self.dtype != torch.float32:
            self.dtype = torch.float32  # half precision overflowed: stay in fp32 from now on
            self._network = self._place_generator(self.dtype)
            y = self._forward(model_input)
        cartoon = self._model_output_to_unit(y, height, width)              # (n, 3, H, W) in [0, 1]
        if blend and self._blends():
            cartoon = blend_with_photo(x, cartoon, self._frame_weights(x, history))
        return cartoon

    def _unit_to_model_input(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB in [0, 1] on the device → the model's channel order, range and padded size."""
        convention = self.model.metadata.convention
        low, high = convention.value_range
        x = x * (high - low) + low
        if convention.channel_order == "BGR":
            x = x.flip(1)
        pad_h = -x.shape[2] % self.multiple
        pad_w = -x.shape[3] % self.multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        return x.contiguous(memory_format=torch.channels_last)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        meta = self.model.metadata
        raw = self._network(x.to(self.dtype))
        return guided_filter(x, raw.float(), meta.guided_filter_radius, meta.guided_filter_eps)

    def _model_output_to_unit(self, y: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """(N, 3, H', W') model output → (N, 3, H, W) RGB in [0, 1], padding cropped."""
        convention = self.model.metadata.convention
        low, high = convention.value_range
        y = y[:, :, :height, :width]
        if convention.channel_order == "BGR":
            y = y.flip(1)
        return ((y - low) / (high - low)).clamp_(0.0, 1.0)
