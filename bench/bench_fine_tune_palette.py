"""Does a fine-tune take on the key-frames' palette? Palette distances of photos, outputs before and outputs after
fine-tuning to the key-frames, and a side-by-side picture (photo | before | after | a key-frame) to look at.

    .venv/bin/python bench/bench_fine_tune_palette.py --before cartoon-v1 --after runs/finetune/finetune.safetensors \\
        --photos PHOTOS/ --keyframes KEYFRAMES/ --sheet palette.jpg [--rows 4] [--size 256]

The palette distance is the sliced Wasserstein distance (SWD) between the CIELAB colours of all pixels of one set
and of the key-frames: both pixel clouds are projected onto 64 fixed random directions in Lab, and the mean absolute
difference of their quantiles is averaged over the directions. It is in Lab units (ΔE-like; a pure shift of d along
one axis scores about d/2, the mean |cosine| of a random direction with that axis), compares whole colour
distributions (not only the mean cast: also how much colour, how bright, how saturated) and needs no binning, unlike a histogram distance. The Fréchet colour distance (Lab means and
covariances as Gaussians, the square root of FID's formula, also in Lab units) and the mean L*, a*, b* are printed
beside it to say *how* the palettes differ. Outputs are the engine's own (`core.cartoonizer.Cartoonizer` on the
CPU, full strength); pictures are read at `--size` px (longer side) so every picture weighs about the same.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.cartoonizer import Cartoonizer  # noqa: E402
from core.image_io import is_image_path, read_image  # noqa: E402
from core.model_registry import load_model  # noqa: E402
from trainer.representations import rgb_to_lab  # noqa: E402

DIRECTIONS = 64
QUANTILES = 256
MAX_PIXELS_PER_SET = 200_000  # a random subset of a set's pixels (seeded) keeps the sort cheap
SHEET_TILE_PX = 192
LABEL_PX = 18


def lab_pixels(pictures: list[np.ndarray], seed: int = 0) -> np.ndarray:
    """All pixels of (H, W, 3) float RGB [0, 1] pictures as Lab: (P, 3) float64, at most MAX_PIXELS_PER_SET."""
    flat = np.concatenate([p.reshape(-1, 3) for p in pictures]).astype(np.float32)
    if len(flat) > MAX_PIXELS_PER_SET:
        flat = flat[np.random.default_rng(seed).choice(len(flat), MAX_PIXELS_PER_SET, replace=False)]
    rgb = torch.from_numpy(flat).T.reshape(1, 3, -1, 1)  # (1, 3, P, 1)
    return rgb_to_lab(rgb).reshape(3, -1).T.double().numpy()


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, directions: int = DIRECTIONS, seed: int = 0) -> float:
    """SWD-1 between two (P, 3) point clouds of any sizes: mean over fixed random unit directions of the mean
    absolute difference of the projections' quantiles."""
    units = np.random.default_rng(seed).normal(size=(directions, 3))
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    levels = (np.arange(QUANTILES) + 0.5) / QUANTILES
    qa = np.quantile(a @ units.T, levels, axis=0)  # (QUANTILES, directions)
    qb = np.quantile(b @ units.T, levels, axis=0)
    return float(np.abs(qa - qb).mean())


def frechet_colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    """sqrt(|μa − μb|² + Tr(Σa + Σb − 2(Σa Σb)^½)): the 2-Wasserstein distance of the two Gaussians, in Lab units."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrtm_psd(cov_a)
    cross = _sqrtm_psd(root_a @ cov_b @ root_a)  # same trace as (Σa Σb)^½, and symmetric
    value = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * cross)
    return float(np.sqrt(max(value, 0.0)))


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def read_pictures(folder: Path, size: int) -> tuple[list[Path], list[np.ndarray]]:
    """The folder's pictures (sorted, not recursive) as float RGB [0, 1], the longer side scaled to `size`."""
    paths = sorted(p for p in folder.iterdir() if is_image_path(p))
    if not paths:
        raise SystemExit(f"{folder}: no pictures")
    pictures = []
    for path in paths:
        rgb = read_image(path).rgb
        image = Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8))
        scale = size / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.LANCZOS)
        pictures.append(np.asarray(image, dtype=np.float32) / 255.0)
    return paths, pictures


def cartoonize_all(model_name_or_path: str, pictures: list[np.ndarray]) -> list[np.ndarray]:
    cartoonizer = Cartoonizer(load_model(model_name_or_path), device="cpu")
    return [cartoonizer.cartoonize(picture) for picture in pictures]


def write_sheet(path: Path, rows: list[list[np.ndarray]], titles: list[str]) -> Path:
    """One row per photo: its tiles side by side, each scaled to SHEET_TILE_PX, titles on top."""
    tile = SHEET_TILE_PX
    sheet = Image.new("RGB", (tile * len(titles), LABEL_PX + tile * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for column, title in enumerate(titles):
        draw.text((column * tile + 4, 3), title, fill="black")
    for row, pictures in enumerate(rows):
        for column, picture in enumerate(pictures):
            image = Image.fromarray((np.clip(picture, 0, 1) * 255).round().astype(np.uint8)).resize((tile, tile))
            sheet.paste(image, (column * tile, LABEL_PX + row * tile))
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".part")
    if path.suffix.lower() == ".png":
        sheet.save(temp, format="PNG")
    else:
        sheet.save(temp, format="JPEG", quality=92)
    temp.replace(path)
    return path


def describe(name: str, pixels: np.ndarray, keyframe_pixels: np.ndarray) -> str:
    light, a, b = pixels.mean(0)
    return (f"{name:<10} SWD {sliced_wasserstein(pixels, keyframe_pixels):6.2f}   Fréchet "
            f"{frechet_colour_distance(pixels, keyframe_pixels):6.2f}   mean L* {light:5.1f} a* {a:6.1f} b* {b:6.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="model name or file before fine-tuning")
    parser.add_argument("--after", required=True, help="model name or file after fine-tuning")
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--keyframes", type=Path, required=True)
    parser.add_argument("--sheet", type=Path, required=True,
                        help="side-by-side picture to write (.png: PNG, else JPEG)")
    parser.add_argument("--rows", type=int, default=4, help="photos on the sheet, spread over the folder")
    parser.add_argument("--size", type=int, default=256, help="longer side the pictures are read at")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    photo_paths, photos = read_pictures(args.photos, args.size)
    _keyframe_paths, keyframes = read_pictures(args.keyframes, args.size)
    before = cartoonize_all(args.before, photos)
    after = cartoonize_all(args.after, photos)
    keyframe_pixels = lab_pixels(keyframes)
    print(f"{len(photos)} photos ({args.photos}) vs {len(keyframes)} key-frames ({args.keyframes}), "
          f"Lab, {args.size} px")
    print(describe("key-frames", keyframe_pixels, keyframe_pixels))
    distances = {}
    for name, pictures in (("photos", photos), ("before", before), ("after", after)):
        pixels = lab_pixels(pictures)
        distances[name] = sliced_wasserstein(pixels, keyframe_pixels)
        print(describe(name, pixels, keyframe_pixels))
    print(f"after/before SWD ratio {distances['after'] / distances['before']:.2f} (below 1: closer to the key-frames)")

    count = min(args.rows, len(photos))
    picked = [round(i * (len(photos) - 1) / max(count - 1, 1)) for i in range(count)]
    rows = [[photos[i], before[i], after[i], keyframes[(i * len(keyframes)) // len(photos)]] for i in picked]
    titles = ["photo", f"before: {Path(args.before).stem}", f"after: {Path(args.after).stem}", "a key-frame"]
    print(f"sheet: {write_sheet(args.sheet, rows, titles)} ({', '.join(photo_paths[i].name for i in picked)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
