"""PatchGAN discriminator with spectral normalisation, one per cartoon representation (surface: RGB, texture: grey).

Three stages of [3×3 stride-2 conv, LReLU, 3×3 conv, LReLU] at widths w, 2w, 4w, then a 1×1 conv to one channel: each
output pixel scores one receptive-field patch as cartoon (→ 1) or generated (→ 0) under the least-squares loss. Every
conv except the last is spectrally normalised (Miyato et al.), as the paper prescribes, to keep D Lipschitz; the last
one is left free so the score's scale is not capped.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

LEAKY_SLOPE = 0.2
NUM_STAGES = 3


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Everything needed to rebuild a discriminator; stored in training checkpoints."""

    in_channels: int = 3  # 3 for the surface D, 1 for the texture D
    base_channels: int = 32
    head_spectral_norm: bool = False  # normalise the scoring 1×1 conv too (a stabiliser for short CPU runs)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DiscriminatorConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown discriminator config keys: {sorted(unknown)}")
        return cls(**data)


class PatchDiscriminator(nn.Module):
    """(N, in_channels, H, W) image in [-1, 1] → (N, 1, ⌈H/8⌉, ⌈W/8⌉) unbounded patch scores."""

    patch_stride = 2**NUM_STAGES

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        c_in = config.in_channels
        for stage in range(NUM_STAGES):
            width = config.base_channels * 2**stage
            layers += [
                spectral_norm(nn.Conv2d(c_in, width, 3, stride=2, padding=1)),
                nn.LeakyReLU(LEAKY_SLOPE),
                spectral_norm(nn.Conv2d(width, width, 3, padding=1)),
                nn.LeakyReLU(LEAKY_SLOPE),
            ]
            c_in = width
        self.body = nn.Sequential(*layers)
        head = nn.Conv2d(c_in, 1, 1)
        self.head = spectral_norm(head) if config.head_spectral_norm else head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.body(x)   # (N, 4w, H/8, W/8)
        return self.head(features)  # (N, 1, H/8, W/8)
