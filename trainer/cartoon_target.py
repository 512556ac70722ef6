"""An algorithmic cartoon of a photo: the target the generator imitates in its warm start.

A GAN trained from an identity generator needs tens of thousands of steps before flat colours and outlines appear;
on a CPU that budget does not exist. A warm start toward a hand-made cartoon of each training photo teaches the
generator the look first (L1 halves the distance to such targets within a few hundred steps), and the adversarial
phase then only has to move that look toward the anime key-frames.

The recipe, in the order it runs (every size is scaled to the picture, so a 256² crop and a 481×321 scene get the
same look):
1. edge-preserving smoothing: a few bilateral passes wipe out skin pores, foliage and hair texture;
2. region flattening: SLIC superpixels (about one per `pixels_per_region` pixels) of the smoothed picture, each
   painted with its mean colour, mixed with the smoothed picture by `flatness` (fully flat regions band on skies
   and cheeks);
3. soft colour quantization: a per-picture k-means palette in Lab; each pixel moves toward a softmax-weighted
   mix of the palette (a soft assignment: no hard posterization steps);
4. cleanup: a self-guided filter removes superpixel jaggies while keeping the region borders;
5. palette: saturation and brightness lifted a little (anime colours are brighter and cleaner than photos');
6. outlines: Canny edges of the smoothed picture (optionally flattened by a domain transform: fewer, cleaner
   lines, but held-out KID to anime frames 121 with darkness 0.7, 102 without); edges with texture on both sides are
   dropped (no lines in foliage, grass, fur or hair, but a line where such a region meets a flat one), then
   components shorter than `min_outline_px` (no speckle on gravel); drawn `outline_width_px` wide (1 px lines
   survive neither the L1 regression nor the training guided filter) and antialiased, as a darkening of the colour
   underneath, never pure black.

All arrays are (H, W, 3) uint8 RGB. Deterministic: the same picture and recipe always give the same target.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import cv2
import numpy as np
import torch

from core.atomic_files import atomic_output
from core.cancel import CancelToken, Cancelled
from core.guided_filter import guided_filter
from core.image_io import ImageReadError, read_image, write_image
from trainer.representations import fill_segments, slic_labels

REFERENCE_AREA_PX = 256 * 256  # the crop size the pixel sizes below are tuned at; other sizes scale by sqrt(area)


@dataclass(frozen=True)
class CartoonTargetRecipe:
    """Parameters of `cartoon_target`; `key()` names a cache of targets made with them."""

    smoothing_passes: int = 2
    smoothing_sigma_colour: float = 24.0   # bilateral range σ on the 0..255 scale
    smoothing_sigma_space_px: float = 3.0  # at 256², scaled with the picture
    pixels_per_region: int = 220           # SLIC segments = area / this
    region_compactness: float = 8.0
    flatness: float = 0.65                 # 1: pure region means; 0: the smoothed picture
    palette_colours: int = 12
    palette_softness: float = 7.0          # Lab distance of the soft assignment's temperature
    palette_strength: float = 0.6          # how far pixels move toward their palette mix
    cleanup_radius_px: int = 2             # self-guided filter, at 256²
    cleanup_eps: float = 0.01
    saturation: float = 1.2
    brightness: float = 1.04
    outline_low: int = 45                  # Canny hysteresis thresholds on the outline finder's grey picture
    outline_high: int = 110
    min_outline_px: int = 30               # shorter edge components are dropped (at 256²)
    outline_darkness: float = 0.55         # 1: black lines; 0: none
    outline_softness_px: float = 0.6       # Gaussian σ that antialiases the lines
    # Added after the first recipe; the value after "off:" switches a feature off (see `key`).
    outline_width_px: int = 2              # line width at 256², never less (1 px lines are not learnt); off: 1
    outline_flatten_sigma_space_px: float = 0.0  # domain transform before Canny, at 256² (fewer lines); off: 0
    outline_flatten_sigma_range: float = 0.35
    texture_density: float = 0.15          # edge pixels per pixel that make a side of a line "texture"; off: 1
    texture_radius_px: float = 8.0         # window radius of that density, at 256²
    texture_low: int = 45                  # Canny thresholds of the texture edges (on the smoothed picture)
    texture_high: int = 110

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any]) -> "CartoonTargetRecipe":
        """The default recipe with some parameters replaced; unknown names are a ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown cartoon target parameter(s) {unknown}; the parameters are {sorted(known)}")
        return cls(**{name: type(getattr(cls(), name))(value) for name, value in overrides.items()})

    def key(self) -> str:
        """A short stable name for this recipe's parameters (the cache folder's name). A feature added after the
        first recipe is left out while it is off, with the parameters only it uses: a recipe that does not use it
        keeps the key (and the cache of targets) it had before the feature existed."""
        parameters = asdict(self)
        for switch, is_off, only_its in _LATER_FEATURES:
            if is_off(parameters[switch]):
                for name in (switch, *only_its):
                    del parameters[name]
        text = json.dumps(parameters, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


# (parameter, whether its value switches the feature off (as the code below reads it), the parameters only that
# feature uses): every off value gives the same key, since they all make the same targets
_LATER_FEATURES: tuple[tuple[str, Callable[[Any], bool], tuple[str, ...]], ...] = (
    ("outline_width_px", lambda width: width <= 1, ()),
    ("outline_flatten_sigma_space_px", lambda sigma: sigma <= 0, ("outline_flatten_sigma_range",)),
    ("texture_density", lambda density: density >= 1, ("texture_radius_px", "texture_low", "texture_high")),
)


def cartoon_target(rgb: np.ndarray, recipe: CartoonTargetRecipe = CartoonTargetRecipe()) -> np.ndarray:
    """The recipe's cartoon of one picture: (H, W, 3) uint8 RGB → same shape and dtype."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[:2]
    scale = math.sqrt(height * width / REFERENCE_AREA_PX)
    smooth = _smooth(rgb, recipe, scale)
    flat = _flatten_regions(smooth, recipe, height * width)
    flat = _soft_quantize(flat, recipe)
    flat = _cleanup(flat, recipe, scale)
    flat = _lift_palette(flat, recipe)
    outlines = _outline_alpha(smooth, recipe, scale)  # (H, W) float32 in [0, 1]
    inked = flat * (1.0 - recipe.outline_darkness * outlines[..., None])
    return np.clip(inked * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _smooth(rgb: np.ndarray, recipe: CartoonTargetRecipe, scale: float) -> np.ndarray:
    """Bilateral passes: texture goes, region borders stay. uint8 → uint8."""
    sigma_space = recipe.smoothing_sigma_space_px * scale
    diameter = max(3, int(round(sigma_space * 2)) * 2 + 1)
    smooth = rgb
    for _ in range(recipe.smoothing_passes):
        smooth = cv2.bilateralFilter(smooth, diameter, recipe.smoothing_sigma_colour, sigma_space)
    return smooth


def _flatten_regions(smooth: np.ndarray, recipe: CartoonTargetRecipe, area_px: int) -> np.ndarray:
    """Superpixel means mixed with the smoothed picture: uint8 → float32 [0, 1]."""
    image = torch.from_numpy(smooth).permute(2, 0, 1)[None].float() / 127.5 - 1.0  # (1, 3, H, W) in [-1, 1]
    segments = max(8, round(area_px / recipe.pixels_per_region))
    with torch.no_grad():
        labels = slic_labels(image, segments, recipe.region_compactness, iterations=10)
        means = fill_segments(image, labels, "mean")
    mixed = recipe.flatness * means + (1.0 - recipe.flatness) * image
    return ((mixed[0].permute(1, 2, 0).numpy() + 1.0) * 0.5).astype(np.float32)


def _soft_quantize(rgb01: np.ndarray, recipe: CartoonTargetRecipe) -> np.ndarray:
    """Move each pixel toward a softmax mix of a per-picture Lab palette (k-means, fixed seed)."""
    if recipe.palette_strength <= 0 or recipe.palette_colours < 2:
        return rgb01
    lab = cv2.cvtColor(rgb01, cv2.COLOR_RGB2LAB)  # float32: L 0..100, a/b about −128..127
    pixels = lab.reshape(-1, 3)
    step = max(1, len(pixels) // 20_000)  # k-means on a subsample: the palette, not the assignment, needs it
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _compactness, _labels, palette = cv2.kmeans(np.ascontiguousarray(pixels[::step]), recipe.palette_colours, None,
                                                criteria, 2, cv2.KMEANS_PP_CENTERS)
    distance_sq = ((pixels[:, None, :] - palette[None, :, :]) ** 2).sum(-1)  # (P, K)
    logits = -distance_sq / (2.0 * recipe.palette_softness**2)
    logits -= logits.max(1, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(1, keepdims=True)
    quantized = (weights @ palette).reshape(lab.shape).astype(np.float32)
    moved = lab + recipe.palette_strength * (quantized - lab)
    return np.clip(cv2.cvtColor(moved, cv2.COLOR_LAB2RGB), 0.0, 1.0)


def _cleanup(rgb01: np.ndarray, recipe: CartoonTargetRecipe, scale: float) -> np.ndarray:
    """Self-guided filter: smooths superpixel jaggies and leftover grain, keeps strong borders."""
    radius = max(1, round(recipe.cleanup_radius_px * scale))
    image = torch.from_numpy(rgb01).permute(2, 0, 1)[None] * 2.0 - 1.0  # (1, 3, H, W) in [-1, 1]
    with torch.no_grad():
        filtered = guided_filter(image, image, radius, recipe.cleanup_eps)
    return np.clip((filtered[0].permute(1, 2, 0).numpy() + 1.0) * 0.5, 0.0, 1.0).astype(np.float32)


def _lift_palette(rgb01: np.ndarray, recipe: CartoonTargetRecipe) -> np.ndarray:
    """Saturation and value scaled in HSV (the anime look: cleaner, brighter colours)."""
    hsv = cv2.cvtColor(rgb01, cv2.COLOR_RGB2HSV)  # float32: H 0..360, S and V 0..1
    hsv[..., 1] = np.clip(hsv[..., 1] * recipe.saturation, 0.0, 1.0)
    hsv[..., 2] = np.clip(hsv[..., 2] * recipe.brightness, 0.0, 1.0)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _outline_alpha(smooth: np.ndarray, recipe: CartoonTargetRecipe, scale: float) -> np.ndarray:
    """Soft lines on strong, long edges that are not inside texture: (H, W) float32 in [0, 1]."""
    if recipe.outline_darkness <= 0:
        return np.zeros(smooth.shape[:2], np.float32)
    grey = cv2.cvtColor(_outline_source(smooth, recipe, scale), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, recipe.outline_low, recipe.outline_high, L2gradient=True)
    if recipe.texture_density < 1.0:
        edges[_inside_texture(edges, grey, smooth, recipe, scale)] = 0
    count, labels, stats, _centroids = cv2.connectedComponentsWithStats(edges, connectivity=8)
    long_enough = stats[:, cv2.CC_STAT_AREA] >= recipe.min_outline_px * scale
    long_enough[0] = False  # label 0 is the background
    lines = long_enough[labels].astype(np.float32)
    if recipe.outline_width_px > 1:
        return _smooth_stroke(lines, recipe, scale)
    sigma = recipe.outline_softness_px * max(scale, 1.0)
    if sigma > 0:
        # a blurred 1 px line peaks at 1/(√(2π)·σ): scale it back so the line's centre keeps full strength
        lines = np.clip(cv2.GaussianBlur(lines, (0, 0), sigma) * math.sqrt(2.0 * math.pi) * sigma, 0.0, 1.0)
    return lines


def _smooth_stroke(lines: np.ndarray, recipe: CartoonTargetRecipe, scale: float) -> np.ndarray:
    """An antialiased band `outline_width_px` wide (at 256², never thinner) around 1 px edge chains, with smooth
    sides instead of the chains' pixel stairs, and tapered ends: the chains are blurred into a ridge (1 on a
    straight line), the ridge's height gives each pixel's distance from the line, and the band is that distance
    below half the width, with an `outline_softness_px` ramp."""
    half_width = recipe.outline_width_px * max(scale, 1.0) / 2.0
    sigma = max(half_width, 1.0)
    ridge = cv2.GaussianBlur(lines, (0, 0), sigma) * math.sqrt(2.0 * math.pi) * sigma
    distance = sigma * np.sqrt(-2.0 * np.log(np.clip(ridge, 1e-6, 1.0)))
    ramp = max(recipe.outline_softness_px * max(scale, 1.0), 0.25)
    return np.clip((half_width - distance) / (2.0 * ramp) + 0.5, 0.0, 1.0).astype(np.float32)


def _outline_source(smooth: np.ndarray, recipe: CartoonTargetRecipe, scale: float) -> np.ndarray:
    """What the outline finder looks at: the smoothed picture, further flattened by a domain transform (an
    edge-preserving filter that wipes low-contrast texture much further than a bilateral pass) when enabled, so
    that Canny follows object contours rather than every shading step. uint8 RGB → uint8 RGB."""
    if recipe.outline_flatten_sigma_space_px <= 0:
        return smooth
    return cv2.edgePreservingFilter(np.ascontiguousarray(smooth), flags=cv2.RECURS_FILTER,
                                    sigma_s=recipe.outline_flatten_sigma_space_px * scale,
                                    sigma_r=recipe.outline_flatten_sigma_range)


def _inside_texture(edges: np.ndarray, grey: np.ndarray, smooth: np.ndarray, recipe: CartoonTargetRecipe,
                    scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The edge pixels with texture on both sides (foliage, grass, fur, strands of hair), as index arrays.

    Texture is a high density of Canny edges of the smoothed picture within `texture_radius_px`. The density is
    read just beyond that radius on either side of each edge pixel, across the edge (along the gradient): a
    contour between a textured and a flat region (a horse against grass, a cheek against hair) keeps its line,
    an edge within texture loses it."""
    texture = cv2.Canny(cv2.cvtColor(smooth, cv2.COLOR_RGB2GRAY), recipe.texture_low, recipe.texture_high,
                        L2gradient=True)
    radius = max(1, round(recipe.texture_radius_px * scale))
    density = cv2.blur(texture.astype(np.float32) / 255.0, (2 * radius + 1, 2 * radius + 1))
    soft_grey = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), 1.0)
    grad_x, grad_y = cv2.Sobel(soft_grey, cv2.CV_32F, 1, 0), cv2.Sobel(soft_grey, cv2.CV_32F, 0, 1)
    ys, xs = np.nonzero(edges)
    length = np.hypot(grad_x[ys, xs], grad_y[ys, xs]) + 1e-6
    normal_x, normal_y = grad_x[ys, xs] / length, grad_y[ys, xs] / length
    offset = radius + 2  # just past the window that holds the edge itself
    height, width = grey.shape

    def density_at(sign: int) -> np.ndarray:
        """The density on one side; beyond the picture's border it counts as texture, so the other side decides."""
        row = np.round(ys + sign * offset * normal_y).astype(np.intp)
        column = np.round(xs + sign * offset * normal_x).astype(np.intp)
        inside = (row >= 0) & (row < height) & (column >= 0) & (column < width)
        return np.where(inside, density[np.clip(row, 0, height - 1), np.clip(column, 0, width - 1)], np.inf)

    textured = np.minimum(density_at(1), density_at(-1)) >= recipe.texture_density
    return ys[textured], xs[textured]


# --- the precomputed cache ------------------------------------------------------------------------------------------
RECIPE_FILE = "recipe.json"


@dataclass(frozen=True)
class TargetProgress:
    """After each photo of `make_cartoon_targets`: how far, and how many were made now vs found done."""

    done: int
    total: int
    made: int
    reused: int
    failed: int


def target_path(cache_dir: Path, photos_dir: Path, photo: Path) -> Path:
    """Where the target of `photo` (a file under `photos_dir`) lives: same relative path, .png."""
    return Path(cache_dir) / photo.relative_to(photos_dir).with_suffix(".png")


def make_cartoon_targets(photos_dir: str | Path, cache_dir: str | Path, recipe: CartoonTargetRecipe,
                         cancel: CancelToken | None = None) -> Iterator[TargetProgress]:
    """Write the recipe's target of every training photo under `photos_dir` into `cache_dir`, skipping those
    already there (so an interrupted run resumes), one atomic PNG each. Yields progress after every photo.

    `cache_dir` belongs to one recipe: its recipe.json must match, or this refuses (a ValueError) rather than mix
    targets of two recipes. Unreadable photos are counted as failed and left out; the training data skips them too.
    """
    from trainer.data import find_images  # local: trainer.data imports this module

    photos_dir, cache_dir = Path(photos_dir), Path(cache_dir)
    _claim_cache(cache_dir, recipe)
    photos = find_images(photos_dir)
    made = reused = failed = 0
    for done, photo in enumerate(photos, start=1):
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        destination = target_path(cache_dir, photos_dir, photo)
        if destination.is_file() and destination.stat().st_size > 0:
            reused += 1
        else:
            try:
                rgb = read_image(photo).rgb  # (H, W, 3) float32 [0, 1]
            except ImageReadError:
                failed += 1
            else:
                target = cartoon_target((rgb * 255.0 + 0.5).astype(np.uint8), recipe)
                write_image(destination, target.astype(np.float32) / 255.0)
                made += 1
        yield TargetProgress(done, len(photos), made, reused, failed)


def _claim_cache(cache_dir: Path, recipe: CartoonTargetRecipe) -> None:
    """Create `cache_dir` for `recipe`, or check that it already holds this recipe's targets."""
    record = {"key": recipe.key(), "recipe": asdict(recipe)}
    recipe_file = cache_dir / RECIPE_FILE
    if recipe_file.is_file():
        stored = json.loads(recipe_file.read_text(encoding="utf-8"))
        if stored.get("key") != record["key"]:
            raise ValueError(f"{cache_dir} holds cartoon targets of another recipe ({stored.get('key')}); "
                             f"this recipe is {record['key']}")
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_output(recipe_file) as temp:
        temp.write_text(json.dumps(record, indent=2), encoding="utf-8")
