"""Region strength: how much cartoon the foreground (people, characters, subjects) and the background each get.

The per-pixel strength is `strength × (background + (foreground − background) × mask)`, `mask` being the bundled
segmenter's soft foreground mask (`core.segmenter`). The mask is computed once per picture at a low resolution
(`MASK_SIDE_PX` on the longer side) and upsampled, so tiles and large photos cost one small segmenter pass; videos get
one mask per frame, smoothed over time (`MaskHistory`) so that the blend does not flicker where the segmenter hesitates.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from core.segmenter import SegmenterFileError, SemanticSegmenter, bundled_segmenter_path, load_segmenter

MASK_SIDE_PX = 256
FOREGROUND_REGION = "foreground"

# (N, 3, h, w) RGB in [0, 1] on a device → (N, 1, h, w) foreground mask in [0, 1], same device and size
MaskFunction = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class RegionStrength:
    """Cartoon strength per region, each in [0, 1]: 1 = full cartoon there, 0 = the photo. Multiplies the global
    strength. Equal values need no segmenter."""

    foreground: float = 1.0
    background: float = 1.0

    def __post_init__(self) -> None:
        for name in ("foreground", "background"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} strength must be between 0 and 1 (0 to 100 %), got {value}")

    @property
    def is_uniform(self) -> bool:
        return self.foreground == self.background


class ForegroundMasks:
    """A segmenter as a `MaskFunction`: the soft mask of its foreground region, computed in fp32 on the images'
    device (the segmenter follows the images there)."""

    def __init__(self, segmenter: SemanticSegmenter, region: str = FOREGROUND_REGION):
        self.segmenter = segmenter.freeze()
        self.channel = segmenter.region_index(region)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if next(self.segmenter.parameters()).device != images.device:
            self.segmenter.to(images.device)
        with torch.inference_mode():
            masks = self.segmenter.region_masks(images.float() * 2.0 - 1.0)             # (N, R, h, w)
        return masks[:, self.channel:self.channel + 1]                                  # (N, 1, h, w)


def load_foreground_masks(path: str | Path | None = None) -> ForegroundMasks:
    """The bundled segmenter (or the one at `path`) as a mask function; SegmenterFileError with a reason."""
    path = Path(path) if path is not None else bundled_segmenter_path()
    if not path.is_file():
        raise SegmenterFileError(f"region strength needs the segmenter {path}, which is missing")
    return ForegroundMasks(load_segmenter(path))


def mask_size(height: int, width: int, side_px: int = MASK_SIDE_PX) -> tuple[int, int]:
    """(h, w) at which masks are computed: the picture shrunk so its longer side is at most `side_px`."""
    scale = min(1.0, side_px / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


class MaskHistory:
    """Smooths a video's low-resolution masks over time: each mask is blended with the previous smoothed one
    (weight `previous_weight`), restarting when the size changes. Feed the frames of one video in order."""

    def __init__(self, previous_weight: float = 0.6):
        if not 0.0 <= previous_weight < 1.0:
            raise ValueError("previous_weight must be in [0, 1)")
        self.previous_weight = previous_weight
        self._previous: torch.Tensor | None = None   # (1, 1, h, w)

    def smooth(self, masks: torch.Tensor) -> torch.Tensor:
        """(N, 1, h, w) masks of consecutive frames → smoothed masks, same shape."""
        out = torch.empty_like(masks)
        for i in range(masks.shape[0]):
            current = masks[i:i + 1]
            if self._previous is not None and self._previous.shape == current.shape:
                previous = self._previous.to(current.device)
                current = self.previous_weight * previous + (1.0 - self.previous_weight) * current
            out[i:i + 1] = current
            self._previous = current
        return out


def low_res_masks(mask_function: MaskFunction, frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] on a device → (N, 1, h, w) masks at `mask_size`, on the same device."""
    height, width = frames.shape[-2:]
    size = mask_size(height, width)
    small = frames if size == (height, width) else F.interpolate(frames.float(), size=size, mode="area")
    return mask_function(small.float()).float().clamp(0.0, 1.0)


def picture_mask(mask_function: MaskFunction, rgb: np.ndarray, device: torch.device,
                 history: MaskHistory | None = None) -> np.ndarray:
    """The mask of one picture at full size: (H, W, 3) float32 RGB [0, 1] → (H, W, 1) float32 [0, 1]. The picture is
    shrunk on the CPU first, so only the small copy travels to the device; `history` smooths it over a video."""
    height, width = rgb.shape[:2]
    h, w = mask_size(height, width)
    small = rgb if (h, w) == (height, width) else cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(np.ascontiguousarray(small, dtype=np.float32)).to(device).permute(2, 0, 1)[None]
    mask = mask_function(x).float().clamp(0.0, 1.0)                                      # (1, 1, h, w)
    if history is not None:
        mask = history.smooth(mask)
    mask = mask[0, 0].cpu().numpy()
    if (h, w) != (height, width):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
    return mask[:, :, None]


def strength_from_mask(mask: np.ndarray | torch.Tensor, regions: RegionStrength,
                       strength: float) -> np.ndarray | torch.Tensor:
    """Per-pixel cartoon strength from a foreground mask (any array shape): `strength × (bg + (fg − bg) × mask)`."""
    return strength * (regions.background + (regions.foreground - regions.background) * mask)
