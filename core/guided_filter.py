"""Differentiable guided filter (He et al.), per channel, used on the generator output and by the trainer.

Every window is normalised by the number of pixels it really covers, so the borders are exact (the same as zero
padding divided by the box-filtered ones map). Box sums of small radii (the cartoonizer uses r = 1, the trainer 1 and
5) are a few shifted additions, which add up each window directly and are several times faster than scans; larger
radii use cumulative sums, so their cost does not grow with the radius.
"""
from __future__ import annotations

import torch

# Up to this radius a box sum is 2r shifted additions per axis; beyond it, one cumulative sum and one subtraction
# per axis (measured on 4×3 planes of 1280×720, 2 cores: r = 1 takes 10 ms against 33 ms, r = 5 29 against 33,
# r = 6 36 against 33). The shifted sums are also more accurate: a cumulative sum along a 1280-pixel row in
# float32 carries errors of about 1e-4, which the guided filter's variance amplifies.
_DIRECT_SUM_MAX_RADIUS = 5


def _box_sum_along(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """Sum of each window [i - radius, i + radius] along `dim`, clipped to the tensor's extent."""
    size = x.shape[dim]
    radius = min(radius, size - 1)  # a larger window covers the whole extent anyway
    if radius <= _DIRECT_SUM_MAX_RADIUS:
        out = x.clone()
        for shift in range(1, radius + 1):
            out.narrow(dim, shift, size - shift).add_(x.narrow(dim, 0, size - shift))  # x[i - shift]
            out.narrow(dim, 0, size - shift).add_(x.narrow(dim, shift, size - shift))  # x[i + shift]
        return out

    csum = x.cumsum(dim)  # csum[k] = sum of x[:k + 1]
    # The window of i ends at min(i + r, size - 1) and starts after i - r - 1 (nothing before the start).
    upper = torch.cat([csum.narrow(dim, radius, size - radius),
                       csum.narrow(dim, size - 1, 1).expand_as(csum.narrow(dim, 0, radius))], dim)
    lower = torch.cat([torch.zeros_like(csum.narrow(dim, 0, radius + 1)),
                       csum.narrow(dim, 0, size - radius - 1)], dim)
    return upper - lower


class _BoxSum(torch.autograd.Function):
    """Clipped box sums are a symmetric linear map, so the gradient is the box sum of the incoming gradient.

    Saying so keeps the backward as cheap as the forward; autograd would otherwise record every in-place shifted
    addition (or the cumulative sum) and undo them one by one.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, radius: int) -> torch.Tensor:
        ctx.radius = radius
        return _box_sum_along(_box_sum_along(x, radius, -2), radius, -1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return _BoxSum.apply(grad, ctx.radius), None


def box_sum(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Sum over a (2r+1)×(2r+1) window clipped at the borders; x is (..., H, W). Differentiable."""
    return _BoxSum.apply(x, radius)


def _window_sizes(size: int, radius: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """How many of the positions [i - radius, i + radius] lie inside [0, size), for each i."""
    index = torch.arange(size, device=device)
    return ((index + radius).clamp(max=size - 1) - (index - radius).clamp(min=0) + 1).to(dtype)


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Filter `src` with `guide`, channel by channel; both (N, C, H, W) of one dtype, result like `src`.

    Computed in float32 at least: the variance is a difference of means and loses too much in half precision.
    The four local means (and later the two coefficient means) are box-filtered together in one stacked tensor.
    """
    out_dtype = src.dtype
    work_dtype = torch.promote_types(out_dtype, torch.float32)
    x, y = torch.broadcast_tensors(guide.to(work_dtype), src.to(work_dtype))
    x, y = x.contiguous(), y.contiguous()  # one layout for every operand: no strided mixes below
    height, width = x.shape[-2:]
    count = (_window_sizes(height, radius, x.device, work_dtype)[:, None]
             * _window_sizes(width, radius, x.device, work_dtype)[None, :])  # (H, W), what box_sum(ones) gives

    # addcmul(t, u, v, value=-1) is t - u·v in one pass; the in-place ops below reuse temporaries only
    mean_x, mean_y, mean_xy, mean_xx = box_sum(torch.stack([x, y, x * y, x * x]), radius).div_(count).unbind(0)
    cov_xy = torch.addcmul(mean_xy, mean_x, mean_y, value=-1)
    var_x = torch.addcmul(mean_xx, mean_x, mean_x, value=-1)

    a = cov_xy.div_(var_x.add_(eps))
    b = torch.addcmul(mean_y, a, mean_x, value=-1)
    mean_a, mean_b = box_sum(torch.stack([a, b]), radius).div_(count).unbind(0)
    return torch.addcmul(mean_b, mean_a, x).to(out_dtype)
