"""Losses: known values of each term, region weighting, and gradients reaching a tiny generator."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from core.generator import GeneratorConfig, UNetGenerator
from core.guided_filter import guided_filter
from trainer.backbones import FeatureBackbone, PixelConvention
from trainer.discriminator import DiscriminatorConfig, PatchDiscriminator
from trainer.losses import (
    WHITEBOX_TV_DIVISOR,
    WHITEBOX_VGG_ELEMENTS,
    LossWeights,
    discriminator_losses,
    feature_l1_loss,
    generator_losses,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    region_weight_map,
    semantic_loss,
    total_variation_loss,
)
from trainer.semantic import build_segmenter

GENERATOR_TERMS = {"surface", "texture", "content", "structure", "total_variation", "semantic"}


@pytest.fixture(scope="module")
def segmenter():
    torch.manual_seed(0)
    return build_segmenter().freeze()


@pytest.fixture()
def nets():
    torch.manual_seed(0)
    layers = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(8, 8, 3, padding=1))
    convention = PixelConvention("RGB", (0.5,) * 3, (0.5,) * 3, "test")
    backbone = FeatureBackbone("tiny", layers, convention, "conv2", 2, 8, "random")
    return {
        "surface_disc": PatchDiscriminator(DiscriminatorConfig(in_channels=3, base_channels=4)),
        "texture_disc": PatchDiscriminator(DiscriminatorConfig(in_channels=1, base_channels=4)),
        "backbone": backbone,
    }


@pytest.fixture()
def batch():
    torch.manual_seed(1)
    generator = UNetGenerator(GeneratorConfig(base_channels=4, num_residual_blocks=1))
    photo = torch.rand(2, 3, 32, 32) * 2 - 1
    cartoon = torch.rand(2, 3, 32, 32) * 2 - 1
    output = guided_filter(photo, generator(photo), 1, 1e-2)
    return generator, photo, cartoon, output


# --- single terms --------------------------------------------------------------------------------------------------

def test_total_variation_of_constant_and_ramps():
    assert total_variation_loss(torch.full((2, 3, 8, 8), 0.3)).item() == 0.0
    columns = torch.arange(8.0).view(1, 1, 1, 8).expand(2, 3, 8, 8) * 0.1  # horizontal ramp, step 0.1
    assert total_variation_loss(columns).item() == pytest.approx(0.01)
    both = columns + columns.transpose(-1, -2) * 3  # plus a vertical ramp of step 0.3
    assert total_variation_loss(both).item() == pytest.approx(0.01 + 0.09)


def test_least_squares_values_for_known_scores():
    half = torch.full((2, 1, 4, 4), 0.5)
    assert lsgan_generator_loss(half).item() == pytest.approx(0.25)
    assert lsgan_generator_loss(torch.ones(2, 1, 4, 4)).item() == 0.0
    assert lsgan_discriminator_loss(torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)).item() == 0.0
    assert lsgan_discriminator_loss(torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)).item() == pytest.approx(1.0)
    assert lsgan_discriminator_loss(half, half).item() == pytest.approx(0.25)
    doubled = torch.full((2, 1, 4, 4), 2.0)
    assert lsgan_generator_loss(half, doubled).item() == pytest.approx(0.5)
    assert lsgan_discriminator_loss(half, half, doubled, None).item() == pytest.approx(0.5 * (0.5 + 0.25))


def test_feature_and_semantic_l1_values():
    a = torch.randn(2, 4, 5, 5)
    assert feature_l1_loss(a, a).item() == 0.0
    assert feature_l1_loss(a, a + 0.5).item() == pytest.approx(0.5)
    masks = torch.full((2, 2, 8, 8), 0.5)
    shifted = torch.stack([masks[:, 0] - 0.1, masks[:, 1] + 0.1], 1)
    assert semantic_loss(shifted, masks).item() == pytest.approx(0.1)


def test_region_weight_map_pools_masks_to_the_patch_map():
    foreground = torch.zeros(1, 1, 32, 32)
    foreground[..., :16] = 1.0  # left half
    masks = torch.cat([1 - foreground, foreground], 1)  # background, foreground
    weights = {"foreground": {"texture": 1.5}, "background": {"texture": 0.7}}
    grid = region_weight_map(masks, ("background", "foreground"), weights, "texture", (4, 4))
    assert grid.shape == (1, 1, 4, 4)
    assert torch.allclose(grid[..., :2], torch.full((1, 1, 4, 2), 1.5))
    assert torch.allclose(grid[..., 2:], torch.full((1, 1, 4, 2), 0.7))
    surface = region_weight_map(masks, ("background", "foreground"), weights, "surface", (4, 4))
    assert torch.allclose(surface, torch.ones(1, 1, 4, 4))  # unlisted terms weigh 1
    soft = torch.rand(1, 2, 32, 32).softmax(1)
    unweighted = region_weight_map(soft, ("background", "foreground"), {}, "surface", (4, 4))
    assert torch.allclose(unweighted, torch.ones(1, 1, 4, 4))


def test_region_weighted_adversarial_loss_equals_plain_with_unit_weights():
    scores = torch.randn(2, 1, 4, 4)
    masks = torch.rand(2, 2, 32, 32).softmax(1)
    ones = {"background": {"surface": 1.0, "texture": 1.0}, "foreground": {"surface": 1.0, "texture": 1.0}}
    grid = region_weight_map(masks, ("background", "foreground"), ones, "texture", (4, 4))
    assert torch.allclose(lsgan_generator_loss(scores, grid), lsgan_generator_loss(scores))
    assert torch.allclose(lsgan_discriminator_loss(scores, -scores, grid, grid),
                          lsgan_discriminator_loss(scores, -scores))


def test_region_weights_are_validated():
    with pytest.raises(ValueError, match="unknown terms"):
        LossWeights(region_weights={"foreground": {"colour": 1.0}})
    with pytest.raises(ValueError, match="≥ 0"):
        LossWeights(region_weights={"foreground": {"texture": -1.0}})
    with pytest.raises(ValueError, match="lacks"):
        region_weight_map(torch.ones(1, 2, 8, 8) / 2, ("background", "foreground"), {"sky": {}}, "surface", (1, 1))


def test_default_weights_are_whitebox_objective_at_256_px():
    weights = LossWeights()
    assert (weights.surface, weights.texture) == (0.1, 1.0)
    assert weights.content == weights.structure == pytest.approx(200 / (32 * 32 * 512)) == 200 / WHITEBOX_VGG_ELEMENTS
    assert weights.total_variation == pytest.approx(1e4 / (3 * 256 * 256)) == 1e4 / WHITEBOX_TV_DIVISOR


# --- whole objectives ----------------------------------------------------------------------------------------------

def test_generator_losses_report_every_term_and_their_weighted_total(nets, batch, segmenter):
    _, photo, _, output = batch
    weights = LossWeights()
    losses = generator_losses(photo, output, **nets, segmenter=segmenter, weights=weights)
    assert set(losses) == GENERATOR_TERMS | {"total"}
    assert all(value.dim() == 0 and torch.isfinite(value) for value in losses.values())
    expected = sum(getattr(weights, name) * losses[name] for name in GENERATOR_TERMS)
    assert torch.allclose(losses["total"], expected)


def test_every_generator_term_sends_gradient_to_the_generator(nets, batch, segmenter):
    generator, photo, _, output = batch
    losses = generator_losses(photo, output, **nets, segmenter=segmenter)
    params = [p for p in generator.parameters()]
    for name in GENERATOR_TERMS:
        grads = torch.autograd.grad(losses[name], params, retain_graph=True, allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name
    losses["total"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)
    assert all(p.grad is None for p in segmenter.parameters())
    assert all(p.grad is None for p in nets["backbone"].parameters())


def test_content_and_semantic_vanish_when_the_output_is_the_photo(nets, batch, segmenter):
    _, photo, _, _ = batch
    losses = generator_losses(photo, photo.clone(), **nets, segmenter=segmenter)
    assert losses["content"].item() == 0.0
    assert losses["semantic"].item() == 0.0


def test_unit_region_weights_give_the_plain_adversarial_losses(nets, batch, segmenter):
    _, photo, cartoon, output = batch
    unit = LossWeights(region_weights={})
    discs = {"surface_disc": nets["surface_disc"], "texture_disc": nets["texture_disc"]}

    def seeded() -> torch.Generator:
        return torch.Generator().manual_seed(0)

    weighted = generator_losses(photo, output, **nets, segmenter=segmenter, weights=unit, rng=seeded())
    plain = generator_losses(photo, output, **nets, segmenter=None, weights=unit, rng=seeded())
    for term in ("surface", "texture"):
        assert torch.allclose(weighted[term], plain[term], rtol=1e-5)
    d_weighted = discriminator_losses(cartoon, output, **discs, segmenter=segmenter, weights=unit, rng=seeded())
    d_plain = discriminator_losses(cartoon, output, **discs, segmenter=None, weights=unit, rng=seeded())
    assert torch.allclose(d_weighted["total"], d_plain["total"], rtol=1e-5)
    skewed = generator_losses(photo, output, **nets, segmenter=segmenter, rng=seeded())
    assert not torch.allclose(skewed["texture"], plain["texture"])


def test_without_segmenter_or_with_zero_weights_terms_are_skipped(nets, batch, segmenter):
    _, photo, _, output = batch
    ablation = generator_losses(photo, output, **nets, segmenter=None)
    assert set(ablation) == GENERATOR_TERMS - {"semantic"} | {"total"}
    lean_weights = LossWeights(structure=0.0, semantic=0.0)
    lean = generator_losses(photo, output, **nets, segmenter=segmenter, weights=lean_weights)
    assert set(lean) == GENERATOR_TERMS - {"semantic", "structure"} | {"total"}


def test_precomputed_superpixel_target_is_used(nets, batch):
    _, photo, _, output = batch
    losses = generator_losses(photo, output, **nets, superpixel=output.detach())
    assert losses["structure"].item() == 0.0


def test_discriminator_losses_train_both_discriminators_and_not_the_generator(nets, batch, segmenter):
    generator, _, cartoon, output = batch
    discs = {"surface_disc": nets["surface_disc"], "texture_disc": nets["texture_disc"]}
    losses = discriminator_losses(cartoon, output, **discs, segmenter=segmenter)
    assert set(losses) == {"surface", "texture", "total"}
    assert torch.allclose(losses["total"], losses["surface"] + losses["texture"])
    losses["total"].backward()
    for disc in discs.values():
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in disc.parameters())
    assert all(p.grad is None for p in generator.parameters())


def test_discriminator_sees_cartoon_and_output_through_the_same_colour_shift(nets, batch):
    _, photo, _, _ = batch
    seen = []
    texture_disc = nets["texture_disc"]
    texture_disc.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    discriminator_losses(photo, photo.clone(), surface_disc=nets["surface_disc"], texture_disc=texture_disc)
    real, fake = seen
    assert real.shape == (2, 1, 32, 32) and torch.equal(real, fake)
