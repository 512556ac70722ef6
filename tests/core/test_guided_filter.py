"""The guided filter against a slow per-pixel float64 reference, its box sums, gradients and invariants."""
from __future__ import annotations

import pytest
import torch

from core.guided_filter import box_sum, guided_filter


def random(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=generator, dtype=torch.float64) * 2 - 1).to(dtype)


def windows(height: int, width: int, radius: int):
    """(i, j, rows, cols) for every pixel: its (2r+1)×(2r+1) window clipped to the image."""
    for i in range(height):
        for j in range(width):
            yield i, j, slice(max(i - radius, 0), i + radius + 1), slice(max(j - radius, 0), j + radius + 1)


def reference_box_sum(x: torch.Tensor, radius: int) -> torch.Tensor:
    out = torch.empty_like(x)
    for i, j, rows, cols in windows(*x.shape[-2:], radius):
        out[..., i, j] = x[..., rows, cols].sum(dim=(-2, -1))
    return out


def reference_guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """He et al.'s guided filter written per pixel: local linear fit in each clipped window, then averaging."""
    x, y = guide.double(), src.double()
    height, width = x.shape[-2:]
    a, b = torch.empty_like(x), torch.empty_like(x)
    for i, j, rows, cols in windows(height, width, radius):
        wx, wy = x[..., rows, cols], y[..., rows, cols]
        mean_x, mean_y = wx.mean(dim=(-2, -1)), wy.mean(dim=(-2, -1))
        var_x = (wx * wx).mean(dim=(-2, -1)) - mean_x * mean_x
        cov_xy = (wx * wy).mean(dim=(-2, -1)) - mean_x * mean_y
        a[..., i, j] = cov_xy / (var_x + eps)
        b[..., i, j] = mean_y - a[..., i, j] * mean_x
    out = torch.empty_like(x)
    for i, j, rows, cols in windows(height, width, radius):
        out[..., i, j] = a[..., rows, cols].mean(dim=(-2, -1)) * x[..., i, j] + b[..., rows, cols].mean(dim=(-2, -1))
    return out


# radius 1 to 5 take the shifted-sum path, 6 and 12 the cumulative-sum one; 12 is larger than the image
@pytest.mark.parametrize("radius", [1, 2, 5, 6, 12])
@pytest.mark.parametrize("shape", [(2, 3, 9, 11), (3, 7, 6)])
def test_box_sum_is_the_clipped_window_sum(shape: tuple[int, ...], radius: int) -> None:
    x = random(*shape)
    torch.testing.assert_close(box_sum(x, radius), reference_box_sum(x, radius), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("radius", [1, 5, 7])
def test_guided_filter_matches_the_per_pixel_reference(radius: int) -> None:
    guide, src = random(2, 3, 13, 17, seed=1), random(2, 3, 13, 17, seed=2)
    expected = reference_guided_filter(guide, src, radius, eps=1e-2)
    torch.testing.assert_close(guided_filter(guide, src, radius, 1e-2), expected, rtol=1e-10, atol=1e-10)
    # float32 in, float32 out, within float32 rounding of the exact result (borders included)
    got = guided_filter(guide.float(), src.float(), radius, 1e-2)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), expected, rtol=0, atol=2e-5)


def test_small_radius_is_accurate_in_float32_on_long_rows() -> None:
    # the cartoonizer's case (r = 1, eps = 5e-3) on a 1280-wide frame: no error growing with the image size
    guide, src = random(1, 3, 6, 1280, seed=3), random(1, 3, 6, 1280, seed=4)
    expected = guided_filter(guide, src, 1, 5e-3)  # float64, checked against the reference above
    got = guided_filter(guide.float(), src.float(), 1, 5e-3)
    torch.testing.assert_close(got.double(), expected, rtol=0, atol=2e-6)


def test_channels_last_and_half_inputs() -> None:
    guide, src = random(1, 3, 12, 16, seed=5, dtype=torch.float32), random(1, 3, 12, 16, seed=6, dtype=torch.float32)
    expected = guided_filter(guide, src, 1, 5e-3)
    channels_last = guided_filter(guide.contiguous(memory_format=torch.channels_last),
                                  src.contiguous(memory_format=torch.channels_last), 1, 5e-3)
    torch.testing.assert_close(channels_last, expected, rtol=0, atol=1e-6)
    half = guided_filter(guide.half(), src.half(), 1, 5e-3)
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.float(), expected, rtol=0, atol=2e-3)


@pytest.mark.parametrize("radius", [1, 6])
def test_gradients_flow(radius: int) -> None:
    guide = random(1, 2, 5, 6, seed=7).requires_grad_()
    src = random(1, 2, 5, 6, seed=8).requires_grad_()
    assert torch.autograd.gradcheck(lambda g, s: guided_filter(g, s, radius, 1e-2), (guide, src))


@pytest.mark.parametrize("radius", [1, 6])
def test_box_sum_gradient(radius: int) -> None:
    x = random(2, 4, 7, seed=10).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: box_sum(t, radius), (x,))
    assert torch.autograd.gradgradcheck(lambda t: box_sum(t, radius) ** 2, (x,))


def test_constant_source_stays_constant() -> None:
    guide = random(1, 3, 10, 12, seed=9, dtype=torch.float32)
    src = torch.full_like(guide, 0.3)
    for radius in (1, 7):
        torch.testing.assert_close(guided_filter(guide, src, radius, 5e-3), src, rtol=0, atol=1e-6)
        torch.testing.assert_close(guided_filter(src, src, radius, 5e-3), src, rtol=0, atol=1e-6)
