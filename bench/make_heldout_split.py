"""Link N photos and N cartoons that a training run never drew, for an honest FID/KID evaluation.

    .venv/bin/python bench/make_heldout_split.py --run runs/gan-128 --out runs/eval [--count 50]

The crop streams of `trainer.data` visit each epoch in a seeded permutation; a run still in its first epoch has
drawn exactly the images before its saved position. This picks `count` (seeded) of the rest of epoch 0 and
symlinks them under OUT/photos and OUT/anime, which `cartoonize-train evaluate --photos … --cartoons …` reads.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.checkpoint import latest_checkpoint, load_checkpoint  # noqa: E402
from trainer.data import InfiniteShardedSampler, find_images  # noqa: E402


def link_unseen(folder: Path, stream_state: dict, seed: int, batch_size: int, count: int, out: Path) -> int:
    if stream_state["epoch"] != 0:
        raise SystemExit(f"the run is past its first epoch of {folder}; no image is unseen")
    images = find_images(folder)
    order = InfiniteShardedSampler(len(images), batch_size, seed).permutation(0).tolist()
    unseen = order[stream_state["index"]:]
    chosen = sorted(np.random.default_rng(0).choice(unseen, count, replace=False).tolist())
    out.mkdir(parents=True, exist_ok=True)
    for index in chosen:
        link = out / images[index].relative_to(folder).as_posix().replace("/", "_")
        if not link.exists():
            os.symlink(images[index].resolve(), link)
    return len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder with checkpoints/")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    checkpoint = load_checkpoint(latest_checkpoint(args.run))
    state, config = checkpoint["data"], checkpoint["config"]
    batch = int(config.get("batch_size", 4))
    # the photo stream is seeded with the run's seed, the cartoon stream with seed + 1 (trainer.loop)
    seed = int(config.get("seed", 0))
    for name, folder, key, stream_seed in (("photos", args.shared / "photos", "photos", seed),
                                           ("anime", args.shared / "cartoons", "cartoons", seed + 1)):
        linked = link_unseen(folder, state[key], stream_seed, batch, args.count, args.out / name)
        print(f"{name}: {state[key]['index']} drawn by the run; {linked} unseen linked under {args.out / name}")


if __name__ == "__main__":
    main()
