"""Score cartoon-target recipe variants against the anime frames, on the campaign's TRAINING split.

The held-out split judges models; tuning the recipe on it would tune to the test. So this scores each variant's
targets of N training portraits against N training anime frames (FID/KID on evaluate's Inception features, same
KID subsets and seed) and writes a small sheet per variant (photo | target, 4 rows) to look at:

    .venv/bin/python bench/campaign/score_recipes.py --out /tmp/recipes \\
        '{"default": {}, "more lines": {"outline_low": 30, "outline_high": 80}}'

A variant is a JSON object of `CartoonTargetRecipe` overrides; the names "photos" and "stylization" score the
photos themselves and OpenCV's filter instead. One JSON line per variant on stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.image_io import write_image  # noqa: E402
from core.model_registry import user_data_dir  # noqa: E402
from trainer.cartoon_target import CartoonTargetRecipe, cartoon_target  # noqa: E402
from trainer.data import find_images  # noqa: E402
from trainer.evaluate import (  # noqa: E402
    _choose, _readable, frechet_distance, inception_features, kernel_inception_distance, load_inception,
    opencv_stylization,
)

SHEET_ROWS = (0, 7, 50, 120)


def recipe_stylize(overrides: dict) -> Callable[[np.ndarray], np.ndarray]:
    recipe = CartoonTargetRecipe.from_overrides(overrides)
    return lambda rgb: cartoon_target((rgb * 255.0 + 0.5).astype(np.uint8), recipe).astype(np.float32) / 255.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", help="JSON object: name → recipe overrides")
    parser.add_argument("--split", type=Path, default=user_data_dir() / "campaign" / "split" / "train")
    parser.add_argument("--count", type=int, default=300, help="training portraits and anime frames")
    parser.add_argument("--out", type=Path, required=True, help="folder for the sheets and the feature cache")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    inception = load_inception("cpu")
    photos = list(_readable(_choose(find_images(args.split / "photos" / "selfies"), args.count, 1), None))
    cache = args.out / f"features-{args.count}.npz"
    if cache.exists():
        saved = np.load(cache)
        anime_features, photo_features = saved["anime"], saved["photos"]
    else:
        anime = _readable(_choose(find_images(args.split / "cartoons"), args.count, 1), None)
        anime_features = inception_features(anime, "cpu", 32, inception)
        photo_features = inception_features(photos, "cpu", 32, inception)
        np.savez(cache, anime=anime_features, photos=photo_features)

    for name, overrides in json.loads(args.variants).items():
        stylize = {"photos": lambda rgb: rgb, "stylization": opencv_stylization}.get(name) or recipe_stylize(overrides)
        outputs = [stylize(photo) for photo in photos]
        features = inception_features(outputs, "cpu", 32, inception)
        kid = kernel_inception_distance(features, anime_features, 100, 1000, 0).mean
        print(json.dumps({"variant": name, "kid_to_anime_x1e3": round(kid * 1e3, 1),
                          "fid_to_anime": round(frechet_distance(features, anime_features), 1),
                          "fid_to_photos": round(frechet_distance(features, photo_features), 1),
                          "overrides": overrides}), flush=True)
        rows = [np.concatenate([photos[i], outputs[i]], axis=1) for i in SHEET_ROWS if i < len(photos)]
        write_image(args.out / f"sheet-{name.replace(' ', '-')}.png", np.concatenate(rows, axis=0))


if __name__ == "__main__":
    main()
