"""The training campaign's fixed split of ../shared/data: what the default model trains on, and what it never sees.

    .venv/bin/python bench/campaign/make_split.py [--out DIR]     # default: <user data folder>/campaign/split

Held out (seeded, stable across machines): 400 portraits (selfies), 400 anime key-frames and 20 scenes; the rest is
linked under train/. Everything is a symlink into ../shared, so nothing is copied. Re-running changes nothing.

    DIR/train/photos/{selfies,scenes}/…   DIR/train/cartoons/anime/…
    DIR/heldout/{portraits,anime,scenes}/…

`cartoonize-train evaluate --photos DIR/heldout/portraits --cartoons DIR/heldout/anime --scenes DIR/heldout/scenes`
scores on it; bench/campaign/cpu.toml trains on it.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.model_registry import user_data_dir  # noqa: E402
from trainer.data import find_images  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
HELDOUT = {"portraits": ("photos/selfies", 400), "anime": ("cartoons/anime", 400), "scenes": ("photos/scenes", 20)}
TRAIN = {"photos/selfies": "portraits", "photos/scenes": "scenes", "cartoons/anime": "anime"}
SEED = 2026


def heldout_names(folder: Path, count: int, seed: int = SEED) -> set[str]:
    """`count` file names of `folder`, drawn with a fixed seed from the sorted listing."""
    names = [path.name for path in find_images(folder)]
    chosen = np.random.default_rng(seed).choice(len(names), count, replace=False)
    return {names[i] for i in chosen}


def link(source: Path, link_path: Path) -> None:
    link_path.parent.mkdir(parents=True, exist_ok=True)
    if not link_path.is_symlink():
        os.symlink(source.resolve(), link_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED_DATA, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=user_data_dir() / "campaign" / "split")
    args = parser.parse_args()
    held = {name: heldout_names(args.shared / sub, count) for name, (sub, count) in HELDOUT.items()}
    for name, (sub, _count) in HELDOUT.items():
        for path in find_images(args.shared / sub):
            if path.name in held[name]:
                link(path, args.out / "heldout" / name / path.name)
    for sub, name in TRAIN.items():
        kept = 0
        for path in find_images(args.shared / sub):
            if path.name not in held[name]:
                link(path, args.out / "train" / sub / path.name)
                kept += 1
        print(f"{sub}: {kept} for training, {len(held[name])} held out")
    print(f"split under {args.out}")


if __name__ == "__main__":
    main()
