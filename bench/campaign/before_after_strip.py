"""The README's before/after strip: the bundled sample photos and two held-out scenes on top, a model's cartoons below.

    .venv/bin/python bench/campaign/before_after_strip.py --model cartoon-v4 -o docs/samples-before-after.jpg

Every picture is shown at a 256 px height; the cartoons come from the engine at the picture's full size (as
`cartoonize` makes them), then are scaled like the photo.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.cartoonizer import Cartoonizer  # noqa: E402
from core.image_io import read_image, write_image  # noqa: E402
from core.model_registry import load_model, user_data_dir  # noqa: E402
from core.resource_paths import resources_dir  # noqa: E402

ROW_HEIGHT_PX = 256
SCENES = ("170054.jpg", "220003.jpg")  # two held-out scenes of bench/campaign/make_split.py (landscape)


def at_row_height(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    size = (round(width * ROW_HEIGHT_PX / height), ROW_HEIGHT_PX)
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="engine model name or file")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--scenes", type=Path, default=user_data_dir() / "campaign" / "split" / "heldout" / "scenes")
    args = parser.parse_args()
    cartoonizer = Cartoonizer(load_model(args.model), device="cpu")
    pictures = sorted((resources_dir() / "samples").glob("*.jpg")) + [args.scenes / name for name in SCENES]
    top, bottom = [], []
    for path in pictures:
        photo = read_image(path).rgb
        top.append(at_row_height(photo))
        bottom.append(at_row_height(cartoonizer.cartoonize(photo)))
    strip = np.concatenate([np.concatenate(top, axis=1), np.concatenate(bottom, axis=1)], axis=0)
    write_image(args.output, strip, fmt="jpeg", quality=88)
    print(f"{args.output}: {strip.shape[1]}×{strip.shape[0]}, {len(pictures)} pictures")


if __name__ == "__main__":
    main()
