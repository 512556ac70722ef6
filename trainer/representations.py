"""White-box cartoon representations: surface (edge-preserving blur), texture (random grey), structure (superpixels).

Every function takes (N, 3, H, W) RGB images in [-1, 1] on any device. The surface and texture representations are
differentiable (the generator learns through them); the structure representation is a target and carries no
gradient.

Texture: White-box's code (`train_code/utils.py`, `color_shift`, uniform mode) rather than this paper's Eq. 6. The code
draws one weight per channel for the whole batch, r ~ U(0.199, 0.399), g ~ U(0.487, 0.687), b ~ U(0.014, 0.214)
(BT.601 luma ± 0.1; White-box reads images with OpenCV, so its `b, g, r = split(...)` really is B, G, R), and returns
(r·R + g·G + b·B) / (r + g + b): a jittered luma that stays in [-1, 1]. It is what the White-box reference model was
trained with. Eq. 6, (1 − α)(β₁R + β₂G + β₃B) + αY with α = 0.8, β ~ U(−1, 1), mixes in signed colour contrasts and
can leave [-1, 1]; it is available as mode "paper" (Y = BT.601 luma).

Structure: SLIC superpixels computed in PyTorch on the training device (no CPU round trip, no worker pool), each
segment filled with its mean colour, or with White-box's adaptive colour (mean if the segment's std < 20 on the 0..255
scale, mean/median average below 40, median above). White-box's training default was `simple_superpixel`: skimage SLIC
with 200 segments, compactness 10, sigma 1, in Lab, painted by skimage's `label2rgb(kind='mix')`, which in the
skimage of its time meant the segment mean (every kind but 'overlay' did). Its own adaptive rule sits in the optional
selective-search path, and there it received [-1, 1] images, whose std never reaches 20: the mean again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.guided_filter import guided_filter

COLOUR_SHIFT_MODES = ("whitebox", "paper")
SUPERPIXEL_COLOURS = ("mean", "adaptive")

# White-box `color_shift` (uniform mode) ranges, here in R, G, B order.
WHITEBOX_SHIFT_RANGES_RGB = ((0.199, 0.399), (0.487, 0.687), (0.014, 0.214))
BT601_LUMA_RGB = (0.299, 0.587, 0.114)
PAPER_LUMA_SHARE = 0.8  # α in Eq. 6

# sRGB (D65) → CIE XYZ and the D65 white point, the standard constants (skimage.color.rgb2lab uses the same).
SRGB_TO_XYZ = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227))
D65_WHITE_XYZ = (0.95047, 1.0, 1.08883)


@dataclass(frozen=True)
class RepresentationConfig:
    """Hyperparameters of the three representations; the defaults are White-box's training values."""

    surface_radius_px: int = 5
    surface_eps: float = 0.2
    colour_shift: str = "whitebox"  # one of COLOUR_SHIFT_MODES
    superpixel_segments: int = 200
    superpixel_compactness: float = 10.0
    superpixel_iterations: int = 10
    superpixel_colour: str = "mean"  # one of SUPERPIXEL_COLOURS

    def __post_init__(self) -> None:
        if self.colour_shift not in COLOUR_SHIFT_MODES:
            raise ValueError(f"colour_shift must be one of {COLOUR_SHIFT_MODES}, not {self.colour_shift!r}")
        if self.superpixel_colour not in SUPERPIXEL_COLOURS:
            raise ValueError(f"superpixel_colour must be one of {SUPERPIXEL_COLOURS}, not {self.superpixel_colour!r}")


# --- surface -------------------------------------------------------------------------------------------------------

def surface_representation(images: torch.Tensor, radius_px: int = 5, eps: float = 0.2) -> torch.Tensor:
    """Self-guided filter: flat regions stay, texture and detail go. (N, 3, H, W) → same shape, differentiable."""
    return guided_filter(images, images, radius_px, eps)


# --- texture -------------------------------------------------------------------------------------------------------

def sample_colour_shift_weights(mode: str = "whitebox", generator: torch.Generator | None = None) -> torch.Tensor:
    """One random (3,) float32 CPU vector of R, G, B weights; apply it to the fake and the real batch alike.

    "whitebox": positive weights normalised to sum 1 (see the module docstring); "paper": 0.2·β + 0.8·luma with
    β ~ U(−1, 1)³ (Eq. 6 rewritten as one weighted sum).
    """
    u = torch.rand(3, generator=generator)
    if mode == "whitebox":
        low, high = torch.tensor(WHITEBOX_SHIFT_RANGES_RGB).unbind(1)
        raw = low + (high - low) * u
        return raw / raw.sum()
    if mode == "paper":
        beta = 2.0 * u - 1.0
        return (1.0 - PAPER_LUMA_SHARE) * beta + PAPER_LUMA_SHARE * torch.tensor(BT601_LUMA_RGB)
    raise ValueError(f"colour shift mode must be one of {COLOUR_SHIFT_MODES}, not {mode!r}")


def colour_shift(images: torch.Tensor, rgb_weights: torch.Tensor) -> torch.Tensor:
    """Σ_c w_c·image_c: (N, 3, H, W) → (N, 1, H, W), differentiable in `images`."""
    weights = rgb_weights.to(images.device, images.dtype)
    return torch.einsum("nchw,c->nhw", images, weights).unsqueeze(1)  # (N, 1, H, W)


def random_colour_shift(
    *images: torch.Tensor, mode: str = "whitebox", generator: torch.Generator | None = None
) -> tuple[torch.Tensor, ...]:
    """Texture representations of several batches with ONE draw of weights, so D compares like with like."""
    weights = sample_colour_shift_weights(mode, generator)
    return tuple(colour_shift(batch, weights) for batch in images)


# --- structure -----------------------------------------------------------------------------------------------------

def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] (N, 3, H, W) → CIELAB under D65 (L in 0..100), float32."""
    rgb = rgb.float()
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055).pow(2.4), rgb / 12.92)
    matrix = torch.tensor(SRGB_TO_XYZ, device=rgb.device)
    white = torch.tensor(D65_WHITE_XYZ, device=rgb.device).view(1, 3, 1, 1)
    xyz = torch.einsum("dc,nchw->ndhw", matrix, linear) / white  # (N, 3, H, W)
    f = torch.where(xyz > 0.008856, xyz.clamp(min=1e-12).pow(1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f.unbind(1)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], 1)  # (N, 3, H, W)


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian per channel, reflect borders, truncated at 4σ like skimage.filters.gaussian.

    Written as a weighted sum of shifted views: on CPU that is twice as fast as a depthwise conv for 9 taps.
    """
    radius = max(1, math.ceil(4.0 * sigma))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)  # reflect padding needs radius < size
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float64) / sigma) ** 2)
    taps = (taps / taps.sum()).tolist()
    h, w = x.shape[-2:]
    padded = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    x = sum(tap * padded[..., i : i + w] for i, tap in enumerate(taps))
    padded = F.pad(x, (0, 0, radius, radius), mode="reflect")
    return sum(tap * padded[..., i : i + h, :] for i, tap in enumerate(taps))


@dataclass(frozen=True)
class _SlicGrid:
    rows: int
    cols: int
    cell_h: float  # in full-resolution pixels
    cell_w: float


def slic_labels(
    images: torch.Tensor,
    segments: int = 200,
    compactness: float = 10.0,
    iterations: int = 10,
    sigma: float = 1.0,
    coarse_factor: int = 2,
) -> torch.Tensor:
    """SLIC superpixels (Achanta et al.), batched in PyTorch: (N, 3, H, W) RGB [-1, 1] → (N, H, W) int64 labels.

    Follows skimage.segmentation.slic: each image is min-max rescaled, converted to Lab and blurred (σ px);
    centres start on a regular grid of about `segments` cells; the distance is |Δlab|² + (compactness/step)²·|Δyx|².
    Each pixel only competes among the 3×3 grid cells around its own (the usual GPU formulation; SLIC's 2S search
    window is the same neighbourhood). The k-means iterations run on a `coarse_factor`× average-pooled image and one
    final assignment at full resolution gives exact boundaries (half the CPU time for the same fill error).
    Connectivity is not enforced: a label may be split into pieces, harmless when segments are only filled with a
    colour. Labels lie in [0, grid cells).
    """
    n, _, h, w = images.shape
    x = images.detach().float()
    low = x.amin(dim=(1, 2, 3), keepdim=True)
    high = x.amax(dim=(1, 2, 3), keepdim=True)
    x01 = (x - low) / (high - low).clamp(min=1e-8)
    lab = _gaussian_blur(rgb_to_lab(x01), sigma) if sigma > 0 else rgb_to_lab(x01)  # (N, 3, H, W)

    step = math.sqrt(h * w / segments)
    rows, cols = max(1, round(h / step)), max(1, round(w / step))
    grid = _SlicGrid(rows, cols, cell_h=h / rows, cell_w=w / cols)
    spatial_scale = compactness / max(grid.cell_h, grid.cell_w)

    full = _slic_features(lab, spatial_scale, 1)  # (N, 5, H, W)
    coarse = _slic_features(lab, spatial_scale, coarse_factor) if coarse_factor > 1 else full
    # Initial centres: the features at each grid cell's centre pixel.
    centre_y = ((torch.arange(grid.rows, device=x.device) + 0.5) * grid.cell_h).long().clamp(max=h - 1)
    centre_x = ((torch.arange(grid.cols, device=x.device) + 0.5) * grid.cell_w).long().clamp(max=w - 1)
    centres = full.index_select(2, centre_y).index_select(3, centre_x)  # (N, 5, rows, cols)
    for _ in range(iterations):
        labels = _assign_to_centres(coarse, centres, grid, coarse_factor)
        centres = _centres_of(coarse, labels, centres)
    return _assign_to_centres(full, centres, grid, 1)


def _slic_features(lab: torch.Tensor, spatial_scale: float, factor: int) -> torch.Tensor:
    """Lab plus position (full-resolution pixels × scale), optionally average-pooled by `factor`: (N, 5, h, w)."""
    if factor > 1:
        lab = F.avg_pool2d(lab, factor, ceil_mode=True)
    n, _, h, w = lab.shape
    ys = torch.arange(h, device=lab.device, dtype=torch.float32) * factor + (factor - 1) / 2
    xs = torch.arange(w, device=lab.device, dtype=torch.float32) * factor + (factor - 1) / 2
    position = torch.stack(torch.meshgrid(ys, xs, indexing="ij")) * spatial_scale  # (2, h, w)
    return torch.cat([lab, position.expand(n, -1, -1, -1)], 1)  # (N, 5, h, w)


def _assign_to_centres(features: torch.Tensor, centres: torch.Tensor, grid: _SlicGrid, factor: int) -> torch.Tensor:
    """Label each pixel with the nearest of the 3×3 grid centres around its home cell: → (N, h, w) int64."""
    n, _, h, w = features.shape
    ys = torch.arange(h, device=features.device) * factor + (factor - 1) / 2
    xs = torch.arange(w, device=features.device) * factor + (factor - 1) / 2
    home_row = (ys / grid.cell_h).floor().long().clamp(max=grid.rows - 1)  # (h,)
    home_col = (xs / grid.cell_w).floor().long().clamp(max=grid.cols - 1)  # (w,)
    rows = torch.stack([(home_row + d).clamp(0, grid.rows - 1) for d in (-1, 0, 1)])  # (3, h) candidate rows
    cols = torch.stack([(home_col + d).clamp(0, grid.cols - 1) for d in (-1, 0, 1)])  # (3, w)
    best = torch.full((n, h, w), math.inf, device=features.device)
    choice = torch.zeros(n, h, w, dtype=torch.long, device=features.device)  # candidate 0..8 = 3·dy + dx
    for dx in range(3):
        # Columns first on the small grid, then whole rows: a row gather copies contiguous memory.
        centre_cols = centres.index_select(3, cols[dx])  # (N, 5, rows, w)
        for dy in range(3):
            candidate = centre_cols.index_select(2, rows[dy])  # (N, 5, h, w)
            distance = (features - candidate).square_().sum(1)  # (N, h, w)
            choice.masked_fill_(distance < best, 3 * dy + dx)  # strict: ties keep the first, like argmin
            torch.minimum(best, distance, out=best)
    row = rows[choice // 3, torch.arange(h, device=features.device).view(1, h, 1)]  # (N, h, w)
    col = cols[choice % 3, torch.arange(w, device=features.device).view(1, 1, w)]  # (N, h, w)
    return row * grid.cols + col


def _centres_of(features: torch.Tensor, labels: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """Mean feature of every labelled cell; a cell with no pixels keeps its previous centre. → (N, 5, rows, cols)."""
    n, c, rows, cols = previous.shape
    cells = rows * cols
    ids = (labels + (torch.arange(n, device=labels.device) * cells).view(n, 1, 1)).reshape(-1)  # (N·h·w,)
    flat = features.flatten(2).transpose(1, 2).reshape(-1, c)  # (N·h·w, 5)
    sums = torch.zeros(n * cells, c, device=features.device).index_add_(0, ids, flat)
    counts = torch.bincount(ids, minlength=n * cells).unsqueeze(1)  # (N·K, 1)
    old = previous.flatten(2).transpose(1, 2).reshape(n * cells, c)
    updated = torch.where(counts > 0, sums / counts.clamp(min=1), old)
    return updated.view(n, rows, cols, c).permute(0, 3, 1, 2)  # (N, 5, rows, cols)


def fill_segments(images: torch.Tensor, labels: torch.Tensor, colour: str = "mean") -> torch.Tensor:
    """Paint each segment one colour: (N, C, H, W) images and (N, H, W) int labels → (N, C, H, W), piecewise constant.

    "mean": the segment's mean. "adaptive": White-box's rule on the segment's std over all its values on the 0..255
    scale (images are taken to be in [-1, 1]): mean below 20, mean/median average below 40, median above.
    """
    if colour not in SUPERPIXEL_COLOURS:
        raise ValueError(f"superpixel colour must be one of {SUPERPIXEL_COLOURS}, not {colour!r}")
    n, c, h, w = images.shape
    labels = labels.long()
    per_image = int(labels.max()) + 1
    segment_ids = (labels + (torch.arange(n, device=labels.device) * per_image).view(n, 1, 1)).reshape(-1)  # (P,)
    values = images.permute(0, 2, 3, 1).reshape(-1, c)  # (P, C)
    total = n * per_image
    counts = torch.bincount(segment_ids, minlength=total)  # (S,)
    safe_counts = counts.clamp(min=1).unsqueeze(1).to(values.dtype)
    means = torch.zeros(total, c, device=values.device, dtype=values.dtype).index_add_(0, segment_ids, values)
    means = means / safe_counts  # (S, C)
    colours = means
    if colour == "adaptive":
        squares = torch.zeros(total, c, device=values.device, dtype=values.dtype).index_add_(0, segment_ids, values**2)
        variance = (squares / safe_counts).mean(1) - means.mean(1) ** 2  # over all the segment's values
        std_255 = variance.clamp(min=0).sqrt() * 127.5  # (S,)
        medians = _segment_medians(values, segment_ids, counts)  # (S, C)
        mixed = torch.where((std_255 < 40).unsqueeze(1), 0.5 * (means + medians), medians)
        colours = torch.where((std_255 < 20).unsqueeze(1), means, mixed)
    return colours[segment_ids].view(n, h, w, c).permute(0, 3, 1, 2).contiguous()  # (N, C, H, W)


def _segment_medians(values: torch.Tensor, segment_ids: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Per-segment, per-channel median (numpy's: mean of the two middle values) by sorting; (P, C) → (S, C)."""
    order_by_value = values.argsort(dim=0)  # (P, C)
    ids_by_value = segment_ids[order_by_value]  # (P, C)
    order = order_by_value.gather(0, ids_by_value.argsort(dim=0, stable=True))  # grouped by segment, ascending
    ordered = values.gather(0, order)  # (P, C)
    starts = counts.cumsum(0) - counts  # (S,)
    last = values.shape[0] - 1
    lower = (starts + (counts - 1).clamp(min=0) // 2).clamp(max=last)
    upper = (starts + counts // 2).clamp(max=last)
    return 0.5 * (ordered[lower] + ordered[upper])  # empty segments get garbage, never used


def structure_representation(
    images: torch.Tensor,
    segments: int = 200,
    compactness: float = 10.0,
    iterations: int = 10,
    colour: str = "mean",
) -> torch.Tensor:
    """Superpixel painting of `images` as a fixed target: (N, 3, H, W) [-1, 1] → same shape and dtype, no gradient.

    Always computed in float32, autocast or not (Lab distances lose too much in half precision).
    """
    with torch.no_grad(), torch.autocast(images.device.type, enabled=False):
        x = images.detach().float()
        labels = slic_labels(x, segments, compactness, iterations)
        return fill_segments(x, labels, colour).to(images.dtype)
