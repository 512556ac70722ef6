"""Differentiable guided filter (He et al.), per channel, used on the generator output and by the trainer.

The box sums use cumulative sums, so the cost does not grow with the radius, and every window is normalised by the
number of pixels it really covers, so the borders are exact (the same as zero padding divided by the box-filtered
ones map).
"""
from __future__ import annotations

import torch


def _box_sum_along(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """Sum of each window [i - radius, i + radius] along `dim`, clipped to the tensor's extent."""
    size = x.shape[dim]
    zero = torch.zeros_like(x.narrow(dim, 0, 1))
    csum = torch.cat([zero, x.cumsum(dim)], dim)  # csum[k] = sum of x[:k]
    index = torch.arange(size, device=x.device)
    upper = (index + radius + 1).clamp(max=size)
    lower = (index - radius).clamp(min=0)
    return csum.index_select(dim, upper) - csum.index_select(dim, lower)


def box_sum(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Sum over a (2r+1)×(2r+1) window clipped at the borders; x is (..., H, W)."""
    return _box_sum_along(_box_sum_along(x, radius, -2), radius, -1)


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Filter `src` with `guide`, channel by channel; both (N, C, H, W) of one dtype, result like `src`.

    Computed in float32 at least: the variance is a difference of means and loses too much in half precision.
    """
    out_dtype = src.dtype
    work_dtype = torch.promote_types(out_dtype, torch.float32)
    x = guide.to(work_dtype)
    y = src.to(work_dtype)
    ones = torch.ones_like(x[:1, :1])  # (1, 1, H, W)
    count = box_sum(ones, radius)

    mean_x = box_sum(x, radius) / count
    mean_y = box_sum(y, radius) / count
    cov_xy = box_sum(x * y, radius) / count - mean_x * mean_y
    var_x = box_sum(x * x, radius) / count - mean_x * mean_x

    a = cov_xy / (var_x + eps)
    b = mean_y - a * mean_x
    mean_a = box_sum(a, radius) / count
    mean_b = box_sum(b, radius) / count
    return (mean_a * x + mean_b).to(out_dtype)
