"""Surface, texture and structure representations: formulas, shared colour-shift weights, superpixel fills."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.guided_filter import guided_filter
from trainer.representations import (
    BT601_LUMA_RGB,
    WHITEBOX_SHIFT_RANGES_RGB,
    RepresentationConfig,
    colour_shift,
    fill_segments,
    random_colour_shift,
    rgb_to_lab,
    sample_colour_shift_weights,
    slic_labels,
    structure_representation,
    surface_representation,
)

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def _photo(name: str = "chelsea.jpg", size: int = 96) -> torch.Tensor:
    """(1, 3, size, size) RGB in [-1, 1]."""
    image = Image.open(SAMPLES / name).convert("RGB").resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]


# --- surface -------------------------------------------------------------------------------------------------------

def test_surface_is_the_self_guided_filter_and_is_differentiable():
    x = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_()
    out = surface_representation(x)
    assert torch.allclose(out, guided_filter(x, x, 5, 0.2))
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


# --- texture -------------------------------------------------------------------------------------------------------

def test_whitebox_colour_shift_is_the_normalised_weighted_sum_of_uniform_draws():
    draws = torch.rand(3, generator=torch.Generator().manual_seed(7))
    raw = [lo + (hi - lo) * u for (lo, hi), u in zip(WHITEBOX_SHIFT_RANGES_RGB, draws.tolist())]
    weights = sample_colour_shift_weights("whitebox", torch.Generator().manual_seed(7))
    assert weights.tolist() == pytest.approx([w / sum(raw) for w in raw], abs=1e-6)

    x = torch.rand(2, 3, 8, 8) * 2 - 1
    r, g, b = x.unbind(1)
    expected = (raw[0] * r + raw[1] * g + raw[2] * b) / sum(raw)
    assert torch.allclose(colour_shift(x, weights), expected.unsqueeze(1), atol=1e-6)


def test_whitebox_weights_stay_in_their_ranges_and_keep_minus_one_to_one():
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        w = sample_colour_shift_weights("whitebox", generator)
        assert w.sum().item() == pytest.approx(1.0, abs=1e-6) and (w > 0).all()
        assert w[1] > w[0] > w[2]  # green > red > blue: disjoint ranges, luma-like
    grey = colour_shift(torch.tensor([-1.0, 1.0]).view(2, 1, 1, 1).expand(2, 3, 4, 4), w)
    assert torch.allclose(grey.amin(dim=(1, 2, 3)), torch.tensor([-1.0, 1.0]))


def test_paper_colour_shift_is_eq6():
    draws = torch.rand(3, generator=torch.Generator().manual_seed(3))
    beta = 2 * draws - 1
    expected = 0.2 * beta + 0.8 * torch.tensor(BT601_LUMA_RGB)
    got = sample_colour_shift_weights("paper", torch.Generator().manual_seed(3))
    assert torch.allclose(got, expected)
    with pytest.raises(ValueError):
        sample_colour_shift_weights("sepia")


def test_fake_and_real_share_one_draw_of_weights():
    fake, real = torch.rand(2, 3, 16, 16), torch.rand(3, 3, 16, 16)
    shifted_fake, shifted_real = random_colour_shift(fake, real, generator=torch.Generator().manual_seed(5))
    weights = sample_colour_shift_weights("whitebox", torch.Generator().manual_seed(5))
    assert shifted_fake.shape == (2, 1, 16, 16) and shifted_real.shape == (3, 1, 16, 16)
    assert torch.allclose(shifted_fake, colour_shift(fake, weights))
    assert torch.allclose(shifted_real, colour_shift(real, weights))
    same_a, same_b = random_colour_shift(fake, fake.clone())
    assert torch.equal(same_a, same_b)


# --- structure -----------------------------------------------------------------------------------------------------

def test_rgb_to_lab_matches_skimage():
    color = pytest.importorskip("skimage.color")
    rgb = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    expected = color.rgb2lab(rgb[0].permute(1, 2, 0).numpy())
    got = rgb_to_lab(rgb)[0].permute(1, 2, 0).numpy()
    assert np.abs(got - expected).max() < 1e-3


def test_fill_is_piecewise_constant_with_each_segments_mean():
    photo = _photo(size=64)
    labels = slic_labels(photo, segments=30)
    filled = fill_segments(photo, labels)
    assert labels.shape == (1, 64, 64) and filled.shape == photo.shape
    for label in labels.unique():
        inside = labels[0] == label
        values = filled[0][:, inside]  # (3, pixels)
        assert torch.allclose(values, values[:, :1].expand_as(values))
        assert torch.allclose(values[:, 0], photo[0][:, inside].mean(1), atol=1e-5)


def test_slic_segments_do_not_straddle_strong_edges():
    generator = torch.Generator().manual_seed(0)
    blocks = torch.zeros(1, 3, 64, 64)
    colours = torch.tensor([[0.9, -0.8, -0.8], [-0.8, 0.9, -0.8], [-0.8, -0.8, 0.9], [0.9, 0.9, -0.8]])
    for index, (top, left) in enumerate([(0, 0), (0, 27), (37, 0), (37, 27)]):  # edges off the SLIC grid
        blocks[0, :, top:, left:] = colours[index].view(3, 1, 1)
    noisy = blocks + 0.05 * torch.randn(blocks.shape, generator=generator)
    block_of = blocks[0, 0] * 4 + blocks[0, 1] * 2 + blocks[0, 2]  # distinct per block

    def strays(labels: torch.Tensor) -> int:
        """Pixels outside their segment's majority block."""
        total = 0
        for label in labels.unique():
            _, counts = block_of[labels == label].unique(return_counts=True)
            total += int(counts.sum() - counts.max())
        return total

    assert strays(slic_labels(noisy, segments=16, sigma=0)[0]) == 0
    # The default σ = 1 blur (as in skimage and White-box) smears a 1-2 px band at each edge.
    assert strays(slic_labels(noisy, segments=16)[0]) < 0.05 * 64 * 64


def test_slic_segment_count_and_quality_match_skimage():
    segmentation = pytest.importorskip("skimage.segmentation")
    photo = _photo(size=128)
    labels = slic_labels(photo, segments=100)
    assert 80 <= labels.unique().numel() <= 120
    ours = (fill_segments(photo, labels) - photo).abs().mean().item()
    image01 = ((photo[0].permute(1, 2, 0).numpy() + 1) / 2).astype(np.float64)
    theirs_labels = torch.from_numpy(segmentation.slic(image01, n_segments=100, compactness=10, sigma=1, start_label=0))
    theirs = (fill_segments(photo, theirs_labels[None]) - photo).abs().mean().item()
    assert ours <= 1.15 * theirs


def test_adaptive_colour_uses_mean_for_flat_and_median_for_busy_segments():
    image = torch.zeros(1, 3, 4, 8)
    image[..., :4] = torch.tensor([0.0, 0.02, 0.0, 0.04]).view(1, 1, 1, 4)  # flat: std ≪ 20/255 scale
    image[..., 4:] = torch.tensor([-1.0, -0.9, 0.8, 0.9]).view(1, 1, 1, 4)  # busy: std ≫ 40
    labels = torch.zeros(1, 4, 8, dtype=torch.long)
    labels[..., 4:] = 1
    filled = fill_segments(image, labels, "adaptive")
    assert torch.allclose(filled[..., 0, 0], torch.full((1, 3), 0.015))  # mean of the flat segment
    assert torch.allclose(filled[..., 0, 4], torch.full((1, 3), -0.05))  # median: (−0.9 + 0.8) / 2
    assert torch.allclose(fill_segments(image, labels, "mean")[..., 0, 4], torch.full((1, 3), -0.05))
    busy_odd = torch.tensor([-1.0, -1.0, 0.9, 1.0]).view(1, 1, 1, 4).expand(1, 3, 4, 4)
    median_case = fill_segments(torch.cat([image[..., :4], busy_odd], 3), labels, "adaptive")
    assert torch.allclose(median_case[..., 0, 4], torch.full((1, 3), -0.05))
    assert not torch.allclose(fill_segments(torch.cat([image[..., :4], busy_odd], 3), labels, "mean")[..., 0, 4],
                              median_case[..., 0, 4])


def test_structure_representation_is_a_gradient_free_target():
    photo = _photo(size=32).expand(2, -1, -1, -1).clone().requires_grad_()
    target = structure_representation(photo, segments=20)
    assert target.shape == photo.shape and target.dtype == photo.dtype
    assert not target.requires_grad
    assert target.min() >= photo.min() - 1e-6 and target.max() <= photo.max() + 1e-6


def test_representation_config_rejects_unknown_modes():
    with pytest.raises(ValueError):
        RepresentationConfig(colour_shift="grey")
    with pytest.raises(ValueError):
        RepresentationConfig(superpixel_colour="mode")
