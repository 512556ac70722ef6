"""What a training checkpoint's discriminators reward: their mean patch score (1 = cartoon) on training crops of the
anime frames, of G's outputs (the EMA generator through the training guided filter), of the cartoon targets, of the
photos, and of the targets blurred (a check that the texture D dislikes blur).

    .venv/bin/python bench/campaign/score_discriminators.py <run>/checkpoints/step_N.pt [--targets KEY]

A discriminator that scores the photos above the targets pulls G back toward the photos; one that barely separates
the anime crops from G's outputs gives G gradients that carry no cartoon look (campaign log, session 3).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.generator import GeneratorConfig, UNetGenerator  # noqa: E402
from core.guided_filter import guided_filter  # noqa: E402
from core.model_registry import user_data_dir  # noqa: E402
from trainer.checkpoint import load_checkpoint  # noqa: E402
from trainer.data import ImageCropDataset, SampleKey  # noqa: E402
from trainer.discriminator import DiscriminatorConfig, PatchDiscriminator  # noqa: E402
from trainer.loop import TRAINING_FILTER_EPS, TRAINING_FILTER_RADIUS_PX  # noqa: E402
from trainer.representations import random_colour_shift, surface_representation  # noqa: E402

CROP_PX, SEED = 128, 7


def network(checkpoint: dict, name: str, cls: type, config_cls: type) -> torch.nn.Module:
    config = {key: value for key, value in checkpoint["architecture"][name].items() if key != "class"}
    module = cls(config_cls(**config))
    module.load_state_dict(checkpoint["models"][name])
    return module.eval()


def crops(dataset: ImageCropDataset, count: int, rng: np.random.Generator) -> list[dict]:
    return [dataset[SampleKey(int(i), SEED)] for i in rng.choice(len(dataset), count, replace=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--split", type=Path, default=user_data_dir() / "campaign" / "split" / "train")
    parser.add_argument("--targets", default="de96a0844c25", help="the cartoon-target cache key the run used")
    parser.add_argument("--count", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.checkpoint)
    surface_d = network(checkpoint, "surface_discriminator", PatchDiscriminator, DiscriminatorConfig)
    texture_d = network(checkpoint, "texture_discriminator", PatchDiscriminator, DiscriminatorConfig)
    generator = network(checkpoint, "generator_ema", UNetGenerator, GeneratorConfig)
    target_dir = user_data_dir() / "cache" / "cartoon-targets" / args.targets
    rng = np.random.default_rng(0)
    photo_crops = crops(ImageCropDataset(args.split / "photos", CROP_PX, target_folder=target_dir), args.count, rng)
    anime_crops = crops(ImageCropDataset(args.split / "cartoons", CROP_PX), args.count, rng)
    anime = torch.stack([c["image"] for c in anime_crops])
    photos = torch.stack([c["image"] for c in photo_crops])
    targets = torch.stack([c["target"] for c in photo_crops])
    with torch.no_grad():
        outputs = torch.cat([guided_filter(batch, generator(batch), TRAINING_FILTER_RADIUS_PX, TRAINING_FILTER_EPS)
                             for batch in photos.split(16)])
        blurred = F.avg_pool2d(targets, 5, stride=1, padding=2)
        print(f"step {checkpoint['step']}: mean patch score, 1 = cartoon ({args.count} crops of {CROP_PX}²)")
        for name, images in (("anime frames", anime), ("G's outputs", outputs), ("targets", targets),
                             ("photos", photos), ("targets blurred 5 px", blurred)):
            (texture,) = random_colour_shift(images, generator=torch.Generator().manual_seed(0))
            print(f"  {name:22s} surface D {surface_d(surface_representation(images)).mean():+.3f}   "
                  f"texture D {texture_d(texture).mean():+.3f}")


if __name__ == "__main__":
    main()
