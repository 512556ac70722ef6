"""Training speed (images/s of the adversarial step) and where the step's time goes: superpixels, backbone,
generator, discriminators, semantic module.

The full step is the loop's own sequence (G forward + training guided filter, D step, G step with both Adam
updates), on the configured device, precision and memory format (bf16/fp16 autocast and channels_last on CUDA).
Each part is then timed on its own, forward and backward together, on the same inputs in the same round:
- generator: G forward, training guided filter, backward into G's weights;
- superpixels: the structure target (SLIC + segment colours) of the output;
- backbone: features of output (with backward to it), photo and superpixel target, and the two L1s;
- discriminators: the D step (both representations of cartoons and outputs, backward) plus the G step's D forward
  and backward into the output;
- segmenter (with --segmenter): masks of the output (with backward), the photo, and the D step's two batches.
Shares are of the parts' sum; "parts / step" says how much of the full step they explain (the rest is the loss
arithmetic, the optimiser updates and, for the parts, recomputing shared inputs). CUDA is synchronised around
every timed region; on the CPU plain perf_counter is exact.

    .venv/bin/python bench/bench_training.py --steps 5 --batch 4 --size 256 --backbone vgg19 \\
        --backbone-weights ../shared/weights/vgg19_conv1_1-conv3_4_caffe.safetensors
    .venv/bin/python bench/bench_training.py --device cuda --batch 16 --segmenter runs/segmenter/segmenter.safetensors

Inputs are smooth random pictures (speed does not depend on content; SLIC runs a fixed number of iterations).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from typing import Iterator

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from core.devices import resolve_device  # noqa: E402
from core.generator import GeneratorConfig, UNetGenerator  # noqa: E402
from core.guided_filter import guided_filter  # noqa: E402
from trainer.backbones import build_backbone  # noqa: E402
from trainer.discriminator import DiscriminatorConfig, PatchDiscriminator  # noqa: E402
from trainer.loop import TRAINING_FILTER_EPS, TRAINING_FILTER_RADIUS_PX, autocast_dtype  # noqa: E402
from trainer.losses import LossWeights, discriminator_losses, feature_l1_loss, generator_losses  # noqa: E402
from trainer.representations import (  # noqa: E402
    RepresentationConfig, random_colour_shift, structure_representation, surface_representation,
)
from trainer.semantic import load_segmenter  # noqa: E402

PARTS = ("generator", "superpixels", "backbone", "discriminators", "segmenter")


def smooth_pictures(batch: int, size: int, seed: int) -> torch.Tensor:
    """(batch, 3, size, size) in [-1, 1]: random colours at 1/16 resolution, upsampled, plus a little noise."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, max(2, size // 16), max(2, size // 16), generator=generator)
    pictures = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    pictures = pictures + 0.03 * torch.randn(pictures.shape, generator=generator)
    return (pictures.clamp(0, 1) * 2 - 1).contiguous()


@contextlib.contextmanager
def timed(totals: dict[str, float], name: str, device: torch.device) -> Iterator[None]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    yield
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    totals[name] += time.perf_counter() - start


def bench_device(args: argparse.Namespace, device: torch.device) -> None:
    torch.manual_seed(0)
    amp_dtype = autocast_dtype(args.precision, device)
    memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    generator = UNetGenerator(GeneratorConfig(args.width, args.blocks)).to(device, memory_format=memory_format)
    surface_disc = PatchDiscriminator(DiscriminatorConfig(3, args.width)).to(device, memory_format=memory_format)
    texture_disc = PatchDiscriminator(DiscriminatorConfig(1, args.width)).to(device, memory_format=memory_format)
    backbone = build_backbone(args.backbone, args.backbone_weights).to(device, memory_format=memory_format)
    segmenter = load_segmenter(args.segmenter).to(device, memory_format=memory_format) if args.segmenter else None
    optimizer_g = torch.optim.Adam(generator.parameters(), 2e-4, betas=(0.5, 0.99))
    optimizer_d = torch.optim.Adam([*surface_disc.parameters(), *texture_disc.parameters()], 2e-4, betas=(0.5, 0.99))
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    weights, representations = LossWeights(), RepresentationConfig()
    photo = smooth_pictures(args.batch, args.size, 1).to(device, memory_format=memory_format)
    cartoon = smooth_pictures(args.batch, args.size, 2).to(device, memory_format=memory_format)

    def autocast():
        return torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None)

    def full_step() -> None:
        """What one adversarial iteration of trainer.loop.train does."""
        with autocast():
            output = guided_filter(photo, generator(photo), TRAINING_FILTER_RADIUS_PX, TRAINING_FILTER_EPS)
        optimizer_d.zero_grad(set_to_none=True)
        with autocast():
            d_losses = discriminator_losses(cartoon, output, surface_disc=surface_disc, texture_disc=texture_disc,
                                            segmenter=segmenter, weights=weights)
        scaler.scale(d_losses["total"]).backward()
        scaler.step(optimizer_d)
        optimizer_g.zero_grad(set_to_none=True)
        with autocast():
            g_losses = generator_losses(photo, output, surface_disc=surface_disc, texture_disc=texture_disc,
                                        backbone=backbone, segmenter=segmenter, weights=weights)
        scaler.scale(g_losses["total"]).backward()
        scaler.step(optimizer_g)
        scaler.update()

    def parts(totals: dict[str, float]) -> None:
        """The step's parts one by one (forward and backward each), on the same inputs."""
        with timed(totals, "generator", device):
            with autocast():
                output = guided_filter(photo, generator(photo), TRAINING_FILTER_RADIUS_PX, TRAINING_FILTER_EPS)
            output.float().mean().backward()
        output = output.detach().requires_grad_()
        with timed(totals, "superpixels", device):
            superpixel = structure_representation(output, representations.superpixel_segments,
                                                  representations.superpixel_compactness,
                                                  representations.superpixel_iterations,
                                                  representations.superpixel_colour)
        with timed(totals, "backbone", device):
            with autocast():
                features = backbone(output)
                with torch.no_grad():
                    photo_features, superpixel_features = backbone(photo), backbone(superpixel)
                loss = feature_l1_loss(features, photo_features) + feature_l1_loss(features, superpixel_features)
            loss.backward()
        with timed(totals, "discriminators", device):
            with autocast():
                d_losses = discriminator_losses(cartoon, output, surface_disc=surface_disc,
                                                texture_disc=texture_disc, weights=weights)
            d_losses["total"].backward()
            with autocast():
                (texture,) = random_colour_shift(output)
                fake = surface_disc(surface_representation(output)).mean() + texture_disc(texture).mean()
            fake.backward()
        if segmenter is not None:
            with timed(totals, "segmenter", device):
                with autocast():
                    masks = segmenter.region_masks(output)
                    with torch.no_grad():
                        segmenter.region_masks(photo), segmenter.region_masks(cartoon), segmenter.region_masks(output)
                masks.float().mean().backward()
        for network in (generator, surface_disc, texture_disc):
            network.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        full_step()
        parts(defaultdict(float))
    step_seconds, totals = [], defaultdict(float)
    for _ in range(args.steps):  # alternate, so a slow phase of a shared machine hits both
        with timed(totals, "_step", device):
            full_step()
        step_seconds.append(totals.pop("_step"))
        parts(totals)

    step_s = statistics.median(step_seconds)
    measured = {name: totals[name] / args.steps for name in PARTS if name in totals}
    parts_s = sum(measured.values())
    precision = str(amp_dtype).removeprefix("torch.") if amp_dtype else "fp32"
    print(f"\ndevice {device} ({_device_name(device)}), {precision}, "
          f"{'channels_last' if memory_format == torch.channels_last else 'contiguous'}, batch {args.batch}, "
          f"{args.size}², G width {args.width} × {args.blocks} blocks, backbone {backbone.name} "
          f"{backbone.feature_layer}, segmenter {'yes' if segmenter is not None else 'no'}, "
          f"{args.steps} steps after {args.warmup} warm-up")
    print(f"full adversarial step: {step_s * 1e3:.0f} ms (median) → {args.batch / step_s:.2f} images/s")
    print(f"{'part':<16}{'ms/step':>10}{'share':>9}")
    for name, seconds in measured.items():
        print(f"{name:<16}{seconds * 1e3:>10.1f}{seconds / parts_s:>9.1%}")
    print(f"{'parts / step':<16}{parts_s * 1e3:>10.1f}{parts_s / step_s:>9.2f}")


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=256, help="crop size in pixels (default 256)")
    parser.add_argument("--width", type=int, default=32, help="generator and discriminator base width")
    parser.add_argument("--blocks", type=int, default=4, help="generator residual blocks")
    parser.add_argument("--backbone", default="vgg19", choices=("vgg19", "efficientnet_lite0"))
    parser.add_argument("--backbone-weights", help="local weights file (e.g. the shared VGG19 conv3_4 file)")
    parser.add_argument("--segmenter", help="a segmenter file: time the semantic module too")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    parser.add_argument("--device", default="all", help="all (CPU, then CUDA if present), cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "all":
        devices = [torch.device("cpu")] + ([torch.device("cuda", 0)] if torch.cuda.is_available() else [])
    else:
        devices = [resolve_device(args.device)]
    print(f"torch {torch.__version__}, python {platform.python_version()}")
    for device in devices:
        bench_device(args, device)


if __name__ == "__main__":
    main()
