"""The White-box cartoon generator: a small U-Net of convolutions, LeakyReLU and bilinear resizes.

Input and output are (N, 3, H, W) tensors in [-1, 1]; H and W must be multiples of `pad_multiple` (the caller pads).
The guided filter that smooths the output is not part of this module: see `core.cartoonizer`.

`tf_compatible=True` reproduces TensorFlow's conventions (SAME padding of stride-2 convs on the right/bottom only,
TF1 legacy bilinear resize) so that imported White-box weights give the original outputs. Our own models use
PyTorch's conventions.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.2


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything needed to rebuild the architecture; stored in every model file."""

    base_channels: int = 32
    num_residual_blocks: int = 4
    tf_compatible: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "GeneratorConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown generator config keys: {sorted(unknown)}")
        return cls(**data)


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1, tf_compatible: bool = False) -> nn.Conv2d:
    """A conv with 'same' output size; TF-compatible stride-2 convs get their padding in `TFStrideConv`."""
    if stride == 2 and tf_compatible:
        return TFStrideConv(c_in, c_out, kernel)
    return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2)


class TFStrideConv(nn.Conv2d):
    """Stride-2 conv with TF 'SAME' padding for even sizes: nothing left/top, the rest right/bottom."""

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__(c_in, c_out, kernel, stride=2, padding=0)

    def pad_input(self, x: torch.Tensor) -> torch.Tensor:
        pad = self.kernel_size[0] - 2  # total padding for even input sizes at stride 2
        return F.pad(x, (0, pad, 0, pad))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.pad_input(x))


def _upsample2x_tf_legacy(x: torch.Tensor) -> torch.Tensor:
    """TF1 `resize_bilinear` ×2 (no half-pixel centres): out[2k] = in[k], out[2k+1] = mean(in[k], in[k+1]).

    The last row/column repeats the edge. Works on the (N, H, W, C) view of channels_last input (and on (N, C, H, W)
    otherwise), so the result keeps the input's memory format and every reshape below is free.
    """
    def along(t: torch.Tensor, dim: int) -> torch.Tensor:
        size = t.shape[dim]
        pairs = torch.stack([t, t], dim + 1)  # (..., size, 2, ...): out[2k] = out[2k+1] = in[k] (right for the last)
        odd = pairs.select(dim + 1, 1).narrow(dim, 0, size - 1)
        odd.add_(t.narrow(dim, 1, size - 1)).mul_(0.5)  # (in[k] + in[k+1]) * 0.5, as TF rounds it
        shape = list(t.shape)
        shape[dim] *= 2
        return pairs.reshape(shape)

    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        nhwc = x.permute(0, 2, 3, 1)
        return along(along(nhwc, 1), 2).permute(0, 3, 1, 2)
    return along(along(x, 2), 3)


class _FewOutputsConv(nn.Conv2d):
    """A stride-1 conv with few output channels (the 32→3 head), computed several times faster on CPU.

    oneDNN vectorises a conv over output channels in blocks of 16, so with 3 outputs most of the work is padding.
    Here `phases` horizontally adjacent outputs become the channels of one conv of stride `phases` whose kernel is
    `phases - 1` columns wider (phase p holds the kernel shifted right by p columns, zeros elsewhere): 4 phases do
    1.4× the multiply-adds with 4× the useful lanes. For channels_last input the (N, phases·C, H, W / phases)
    result is laid out in memory exactly like the (N, C, H, W) output, so the reshapes copy nothing. The same
    products are summed (plus exact zeros), so the result equals the plain conv's up to fp32 rounding; parameters,
    state-dict keys and hooks are those of the nn.Conv2d it is.
    """

    phases = 4

    def _packable(self, x: torch.Tensor) -> bool:
        return (x.device.type == "cpu" and x.dim() == 4 and x.shape[-1] % self.phases == 0
                and x.is_contiguous(memory_format=torch.channels_last)
                and self.stride == (1, 1) and self.dilation == (1, 1) and self.groups == 1
                and self.padding_mode == "zeros" and isinstance(self.padding, tuple))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._packable(x):
            return super().forward(x)
        phases = self.phases
        # phase p: the kernel shifted right by p columns; (phases·C, Cin, kh, kw + phases - 1)
        weight = torch.cat([F.pad(self.weight, (p, phases - 1 - p)) for p in range(phases)])
        bias = self.bias.repeat(phases) if self.bias is not None else None
        packed = F.conv2d(x, weight, bias, stride=(1, phases), padding=self.padding)  # (N, phases·C, H, W / phases)
        n, _, height, _ = packed.shape
        return packed.permute(0, 2, 3, 1).reshape(n, height, x.shape[-1], self.out_channels).permute(0, 3, 1, 2)


class ResidualBlock(nn.Module):
    """conv → LReLU → conv, added to the input; no activation after the addition."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in place on fresh conv outputs (their backward does not need them): no extra tensors, same sums
        return self.conv2(F.leaky_relu(self.conv1(x), LEAKY_SLOPE, inplace=True)).add_(x)


class UNetGenerator(nn.Module):
    """White-box U-Net: two stride-2 downsamplings, residual blocks at ¼ resolution, additive skips."""

    pad_multiple = 4  # two stride-2 stages

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        self.config = config
        c, tf = config.base_channels, config.tf_compatible
        self.stem = nn.Conv2d(3, c, 7, padding=3)
        self.down1 = _conv(c, c, 3, stride=2, tf_compatible=tf)
        self.down1_expand = nn.Conv2d(c, 2 * c, 3, padding=1)
        self.down2 = _conv(2 * c, 2 * c, 3, stride=2, tf_compatible=tf)
        self.down2_expand = nn.Conv2d(2 * c, 4 * c, 3, padding=1)
        self.blocks = nn.ModuleList(ResidualBlock(4 * c) for _ in range(config.num_residual_blocks))
        self.bottleneck_reduce = nn.Conv2d(4 * c, 2 * c, 3, padding=1)
        self.up1 = nn.Conv2d(2 * c, 2 * c, 3, padding=1)
        self.up1_reduce = nn.Conv2d(2 * c, c, 3, padding=1)
        self.up2 = nn.Conv2d(c, c, 3, padding=1)
        self.head = _FewOutputsConv(c, 3, 7, padding=3)

    def _upsample(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.tf_compatible:
            return _upsample2x_tf_legacy(x)
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = lambda t: F.leaky_relu(t, LEAKY_SLOPE, inplace=True)  # noqa: E731
        x0 = act(self.stem(x))                                     # (N, c, H, W)
        x1 = act(self.down1_expand(act(self.down1(x0))))           # (N, 2c, H/2, W/2)
        x2 = act(self.down2_expand(act(self.down2(x1))))           # (N, 4c, H/4, W/4)
        for block in self.blocks:
            x2 = block(x2)
        x2 = act(self.bottleneck_reduce(x2))                       # (N, 2c, H/4, W/4)
        x3 = act(self.up1(self._upsample(x2).add_(x1)))            # (N, 2c, H/2, W/2)
        x3 = act(self.up1_reduce(x3))                              # (N, c, H/2, W/2)
        x4 = act(self.up2(self._upsample(x3).add_(x0)))            # (N, c, H, W)
        return self.head(x4)                                       # (N, 3, H, W)
