"""Generator and discriminator objectives: White-box's losses with Bai's semantic module on top.

Generator (Bai Eq. 1):  Σ_terms weight·term over surface and texture (least-squares adversarial, region-weighted),
content (L1 of backbone features, output vs photo), structure (L1 of backbone features, output vs its superpixel
painting), total variation and semantic (L1 of the segmenter's masks, output vs photo). Discriminators: the
least-squares loss of each representation, region-weighted the same way, summed unweighted as White-box did.

Each term is a plain mean, so its value does not depend on the crop size. White-box's `train.py` divided its
feature L1 (already a mean) again by the conv4_4 map's h·w·c, and its TV (a mean of squares) by 3·h·w, then used
200 and 1e4; `LossWeights` folds those divisors, taken at its 256² crops, into the defaults, so at 256² the generator
objective is White-box's own: 1e4·TV + 0.1·surface + 1·texture + 200·(content + structure), plus the semantic term.

Region weighting (Eq. 1 per region): the segmenter's soft masks, average-pooled to a discriminator's patch-map size,
mix the per-region weights into one weight per patch, for the output and for the cartoons alike. Because the masks
sum to 1 over the regions, all weights 1 give back the plain loss exactly. Masks are detached: G may not lower its
adversarial loss by moving region boundaries (the semantic loss is what keeps them in place).

All image arguments are (N, 3, H, W) RGB in [-1, 1]; `output` is G's output after its training guided filter
(`guided_filter(photo, G(photo), 1, 1e-2)`). Every function returns a dict of scalar tensors ending in "total".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch
import torch.nn.functional as F

from trainer.backbones import FeatureBackbone
from trainer.discriminator import PatchDiscriminator
from trainer.representations import (
    RepresentationConfig,
    random_colour_shift,
    structure_representation,
    surface_representation,
)
from trainer.semantic import SemanticSegmenter

ADVERSARIAL_TERMS = ("surface", "texture")
WHITEBOX_VGG_ELEMENTS = 32 * 32 * 512  # conv4_4 h·w·c of one 256² crop, White-box's extra divisor of its feature L1
WHITEBOX_TV_DIVISOR = 3 * 256 * 256  # 3·h·w at 256², White-box's extra divisor of its TV
# Bai: foreground texture denser, background texture sparser; these numbers are ours, the paper gives none.
DEFAULT_REGION_WEIGHTS = {
    "foreground": {"surface": 1.0, "texture": 1.5},
    "background": {"surface": 1.5, "texture": 0.7},
}


# How much larger the content/structure feature L1 of a typical output is with VGG19 conv3_4 than with each
# backbone's features (8 selfies vs their cartoon targets: conv3_4 432, conv2_2 169, EfficientNet-Lite0 blocks.2
# 4.8). The default weights are White-box's for VGG; other features get them scaled by this, so the terms keep
# their share of the objective. conv4_4 is taken as conv3_4 (White-box's own divisor already normalises it).
FEATURE_WEIGHT_SCALE = {("vgg19", "conv4_4"): 1.0, ("vgg19", "conv3_4"): 1.0, ("vgg19", "conv2_2"): 2.5,
                        ("efficientnet_lite0", "blocks.2"): 90.0}


def feature_weight_scale(backbone_name: str, feature_layer: str) -> float:
    """The factor for the content and structure defaults with this backbone's features (1 if unmeasured)."""
    return FEATURE_WEIGHT_SCALE.get((backbone_name, feature_layer), 1.0)


def _default_region_weights() -> dict[str, dict[str, float]]:
    return {region: dict(terms) for region, terms in DEFAULT_REGION_WEIGHTS.items()}


@dataclass(frozen=True)
class LossWeights:
    """Weights of the generator terms; `region_weights[region][term]` scales the adversarial terms per region.

    A region or term missing from `region_weights` weighs 1. A zero `structure` or `semantic` weight also skips
    computing that term. The module docstring says where the White-box defaults come from; they were tuned for VGG
    features (EfficientNet-Lite0 blocks.2 features differ ~70× less between output and photo than VGG conv3_4's on
    the same images, so raise `content` and `structure` with that backbone). `semantic` = 1.0 is our choice: the term
    is a mean change of mask probability in [0, 1], so a 10 % region drift costs 0.1, about the weighted content term
    for a good output (≈ 0.12 with VGG conv3_4), while a 1-2 % drift stays below every other term.
    """

    surface: float = 0.1
    texture: float = 1.0
    content: float = 200.0 / WHITEBOX_VGG_ELEMENTS
    structure: float = 200.0 / WHITEBOX_VGG_ELEMENTS
    total_variation: float = 1e4 / WHITEBOX_TV_DIVISOR
    semantic: float = 1.0
    region_weights: dict[str, dict[str, float]] = field(default_factory=_default_region_weights)

    def __post_init__(self) -> None:
        for region, terms in self.region_weights.items():
            unknown = set(terms) - set(ADVERSARIAL_TERMS)
            if unknown:
                raise ValueError(f"region_weights[{region!r}]: unknown terms {sorted(unknown)}; "
                                 f"use {ADVERSARIAL_TERMS}")
            if any(value < 0 for value in terms.values()):
                raise ValueError(f"region_weights[{region!r}]: weights must be ≥ 0")


# --- single terms --------------------------------------------------------------------------------------------------

def lsgan_generator_loss(fake_scores: torch.Tensor, weight_map: torch.Tensor | None = None) -> torch.Tensor:
    """mean(w·(D(fake) − 1)²) over a (N, 1, h, w) patch map; w = 1 without a weight map."""
    squared = (fake_scores - 1.0) ** 2
    return (squared * weight_map).mean() if weight_map is not None else squared.mean()


def lsgan_discriminator_loss(
    real_scores: torch.Tensor,
    fake_scores: torch.Tensor,
    real_weight_map: torch.Tensor | None = None,
    fake_weight_map: torch.Tensor | None = None,
) -> torch.Tensor:
    """½·(mean(w_r·(D(real) − 1)²) + mean(w_f·D(fake)²)), White-box's least-squares discriminator loss."""
    real = (real_scores - 1.0) ** 2
    fake = fake_scores**2
    if real_weight_map is not None:
        real = real * real_weight_map
    if fake_weight_map is not None:
        fake = fake * fake_weight_map
    return 0.5 * (real.mean() + fake.mean())


def total_variation_loss(images: torch.Tensor) -> torch.Tensor:
    """mean((x[i+1, j] − x[i, j])²) + mean((x[i, j+1] − x[i, j])²): White-box's squared TV, per-element mean."""
    vertical = (images[..., 1:, :] - images[..., :-1, :]) ** 2  # (N, C, H-1, W)
    horizontal = (images[..., :, 1:] - images[..., :, :-1]) ** 2  # (N, C, H, W-1)
    return vertical.mean() + horizontal.mean()


def feature_l1_loss(features: torch.Tensor, target_features: torch.Tensor) -> torch.Tensor:
    """mean |a − b| over backbone feature maps (content and structure losses)."""
    return (features - target_features).abs().mean()


def semantic_loss(output_masks: torch.Tensor, photo_masks: torch.Tensor) -> torch.Tensor:
    """Bai Eq. 3 on soft masks (N, R, H, W): mean |masks(G(photo)) − masks(photo)|, in [0, 1].

    Probabilities rather than logits: confident regions cannot run up the loss, only changed regions count.
    """
    return (output_masks - photo_masks).abs().mean()


def region_weight_map(
    masks: torch.Tensor,
    regions: tuple[str, ...],
    region_weights: Mapping[str, Mapping[str, float]],
    term: str,
    patch_size: tuple[int, int],
) -> torch.Tensor:
    """Per-patch weight Σ_r weight[r][term]·mask_r: masks (N, R, H, W) average-pooled to `patch_size` → (N, 1, h, w).
    """
    unknown = set(region_weights) - set(regions)
    if unknown:
        raise ValueError(f"region_weights names regions {sorted(unknown)} that the segmenter lacks ({list(regions)})")
    per_region = [float(region_weights.get(region, {}).get(term, 1.0)) for region in regions]
    weights = torch.tensor(per_region, device=masks.device, dtype=masks.dtype)
    pooled = F.adaptive_avg_pool2d(masks, patch_size)  # (N, R, h, w)
    return (pooled * weights.view(1, -1, 1, 1)).sum(1, keepdim=True)  # (N, 1, h, w)


def _patch_weights(masks: torch.Tensor | None, regions: tuple[str, ...], weights: LossWeights, term: str,
                   scores: torch.Tensor) -> torch.Tensor | None:
    if masks is None:
        return None
    return region_weight_map(masks.detach(), regions, weights.region_weights, term, tuple(scores.shape[-2:]))


# --- whole objectives ----------------------------------------------------------------------------------------------

def generator_losses(
    photo: torch.Tensor,
    output: torch.Tensor,
    *,
    surface_disc: PatchDiscriminator,
    texture_disc: PatchDiscriminator,
    backbone: FeatureBackbone,
    segmenter: SemanticSegmenter | None = None,
    weights: LossWeights = LossWeights(),
    representations: RepresentationConfig = RepresentationConfig(),
    superpixel: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """The generator's terms (unweighted) and their weighted "total"; backprop "total" into G.

    `segmenter` None is the ablation without the semantic module: no region weighting and no semantic term.
    `superpixel` may carry a precomputed structure target for `output` (e.g. from a worker); by default it is
    computed here from `output`. The discriminators receive gradients too: zero them before their own step.
    Backbone and segmenter must be frozen (`FeatureBackbone` always is; call `SemanticSegmenter.freeze()`).
    """
    losses: dict[str, torch.Tensor] = {}
    output_masks, regions = None, ()
    if segmenter is not None:
        regions = tuple(segmenter.regions)
        with torch.set_grad_enabled(torch.is_grad_enabled() and weights.semantic > 0):
            output_masks = segmenter.region_masks(output)  # (N, R, H, W)

    surface = surface_representation(output, representations.surface_radius_px, representations.surface_eps)
    surface_scores = surface_disc(surface)  # (N, 1, H/8, W/8)
    surface_weights = _patch_weights(output_masks, regions, weights, "surface", surface_scores)
    losses["surface"] = lsgan_generator_loss(surface_scores, surface_weights)
    (texture,) = random_colour_shift(output, mode=representations.colour_shift, generator=rng)
    texture_scores = texture_disc(texture)  # (N, 1, H/8, W/8)
    texture_weights = _patch_weights(output_masks, regions, weights, "texture", texture_scores)
    losses["texture"] = lsgan_generator_loss(texture_scores, texture_weights)

    output_features = backbone(output)
    with torch.no_grad():
        photo_features = backbone(photo)
    losses["content"] = feature_l1_loss(output_features, photo_features)
    if weights.structure:
        if superpixel is None:
            superpixel = structure_representation(
                output,
                representations.superpixel_segments,
                representations.superpixel_compactness,
                representations.superpixel_iterations,
                representations.superpixel_colour,
            )
        with torch.no_grad():
            superpixel_features = backbone(superpixel)
        losses["structure"] = feature_l1_loss(output_features, superpixel_features)
    losses["total_variation"] = total_variation_loss(output)
    if output_masks is not None and weights.semantic:
        with torch.no_grad():
            photo_masks = segmenter.region_masks(photo)
        losses["semantic"] = semantic_loss(output_masks, photo_masks)

    losses["total"] = sum(getattr(weights, name) * value for name, value in losses.items())
    return losses


def discriminator_losses(
    cartoon: torch.Tensor,
    output: torch.Tensor,
    *,
    surface_disc: PatchDiscriminator,
    texture_disc: PatchDiscriminator,
    segmenter: SemanticSegmenter | None = None,
    weights: LossWeights = LossWeights(),
    representations: RepresentationConfig = RepresentationConfig(),
    rng: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Both discriminators' least-squares losses and their sum "total"; `output` is detached here.

    The texture representations of cartoons and outputs share one random colour shift.
    """
    output = output.detach()
    masks_real = masks_fake = None
    regions: tuple[str, ...] = ()
    with torch.no_grad():
        radius, eps = representations.surface_radius_px, representations.surface_eps
        surface_real = surface_representation(cartoon, radius, eps)
        surface_fake = surface_representation(output, radius, eps)
        texture_real, texture_fake = random_colour_shift(
            cartoon, output, mode=representations.colour_shift, generator=rng
        )
        if segmenter is not None:
            regions = tuple(segmenter.regions)
            masks_real = segmenter.region_masks(cartoon)  # (N, R, H, W)
            masks_fake = segmenter.region_masks(output)

    losses: dict[str, torch.Tensor] = {}
    for term, disc, real, fake in (
        ("surface", surface_disc, surface_real, surface_fake),
        ("texture", texture_disc, texture_real, texture_fake),
    ):
        real_scores, fake_scores = disc(real), disc(fake)  # (N, 1, H/8, W/8) each
        losses[term] = lsgan_discriminator_loss(
            real_scores,
            fake_scores,
            _patch_weights(masks_real, regions, weights, term, real_scores),
            _patch_weights(masks_fake, regions, weights, term, fake_scores),
        )
    losses["total"] = losses["surface"] + losses["texture"]
    return losses
