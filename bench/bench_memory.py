"""Peak memory of cartoonizing one large photo through the real batch path (decode, tiles, encode).

    .venv/bin/python bench/bench_memory.py [--width 6000 --height 4000] [--device cpu] [--model NAME]

The default-architecture generator with random weights is used unless --model names one: memory depends on the
architecture and the tiling, not on the weights. Prints the process's peak resident memory (ru_maxrss) beside the
baseline after importing torch and building the model, and the target (3 GB for a 6000×4000 photo on the CPU).
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.batch import BatchOptions, plan_batch, run_batch  # noqa: E402
from core.cartoonizer import Cartoonizer  # noqa: E402
from core.generator import UNetGenerator  # noqa: E402
from core.model_file import CartoonModel, ModelMetadata  # noqa: E402
from core.model_registry import load_model  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def synthetic_photo(path: Path, width: int, height: int) -> None:
    """A smooth gradient with noise, saved as a JPEG (what a camera gives, roughly)."""
    rng = np.random.default_rng(0)
    row = np.linspace(0, 255, width, dtype=np.float32)
    column = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:, :, 0] = row
    pixels[:, :, 1] = column
    pixels[:, :, 2] = np.clip((row + column) / 2 + rng.normal(0, 8, (height, width)), 0, 255)
    Image.fromarray(pixels).save(path, quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", help="model name or path (default: random weights, default architecture)")
    parser.add_argument("--target-gb", type=float, default=3.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        photo = Path(scratch) / "in" / "large.jpg"
        photo.parent.mkdir()
        synthetic_photo(photo, args.width, args.height)
        model = load_model(args.model) if args.model else CartoonModel(UNetGenerator().eval(),
                                                                        ModelMetadata(display_name="random"))
        cartoonizer = Cartoonizer(model, args.device)
        baseline = peak_rss_mb()
        options = BatchOptions(Path(scratch) / "out")
        started = time.perf_counter()
        for event in run_batch(plan_batch([photo], options), cartoonizer, options):
            summary = getattr(event, "summary", None)
        seconds = time.perf_counter() - started
        assert summary is not None and summary.done == 1, summary

    tiles = len(cartoonizer.tiles_for(args.height, args.width))
    peak = peak_rss_mb()
    print(f"device {cartoonizer.device}, {args.width}x{args.height}, {tiles} tiles of {cartoonizer.tile_size}px, "
          f"model {'random weights' if not args.model else args.model}")
    print(f"baseline (torch + model + synthetic photo made) {baseline:.0f} MB")
    print(f"peak resident memory {peak:.0f} MB = {peak / 1024:.2f} GB; target {args.target_gb:.1f} GB; "
          f"ratio peak/target {peak / 1024 / args.target_gb:.2f}")
    print(f"time {seconds:.1f} s ({args.width * args.height / 1e6 / seconds:.2f} MP/s)")


if __name__ == "__main__":
    main()
