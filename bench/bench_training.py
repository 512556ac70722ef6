"""Training speed (images/s of the adversarial step) and where the step's time goes: superpixels, backbone,
generator, discriminators, semantic module, for the step before the cost levers ("old") and with them ("new":
the shipped EfficientNet-Lite0 backbone, the semantic module every 4th step, discriminators frozen in the G step,
superpixels scaled with the crop; "new-vgg": the same with VGG19 to conv2_2), measured side by side in one run.

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

    .venv/bin/python bench/bench_training.py --steps 8 --batch 4 --size 128 --threads 1 --backbone vgg19 \\
        --backbone-weights ../shared/weights/vgg19_conv1_1-conv3_4_caffe.safetensors \\
        --segmenter resources/models/segmenters/semantic-lite0.safetensors
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
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from core.devices import resolve_device  # noqa: E402
from core.generator import GeneratorConfig, UNetGenerator  # noqa: E402
from core.guided_filter import guided_filter  # noqa: E402
from trainer.backbones import build_backbone  # noqa: E402
from trainer.discriminator import DiscriminatorConfig, PatchDiscriminator  # noqa: E402
from trainer.loop import (  # noqa: E402
    TRAINING_FILTER_EPS, TRAINING_FILTER_RADIUS_PX, autocast_dtype, without_weight_grads,
)
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


@dataclass(frozen=True)
class StepRecipe:
    """The cost levers of one adversarial step (the TrainConfig keys of the same names)."""

    name: str
    backbone: str | None = None  # None: --backbone
    backbone_layer: str = "auto"
    segmenter_every: int = 1
    freeze_discriminators_in_g_step: bool = False
    superpixels_per_256: int = 200
    scale_superpixels: bool = False


# Before the levers: the finetune preset as it was (VGG to conv3_4, semantic module every step, Ds taking weight
# gradients in the G step, 200 superpixels whatever the crop). "new" is trainer/configs/finetune.toml now: the
# backbone the app ships (EfficientNet-Lite0; no VGG19 file on users' machines), the semantic module every 4th
# step, frozen Ds, scaled superpixels. "new-vgg" is the same with VGG19 to conv2_2, for runs that have VGG weights.
RECIPES = {
    "old": StepRecipe("old"),
    "new": StepRecipe("new", backbone="efficientnet_lite0", segmenter_every=4, freeze_discriminators_in_g_step=True,
                      scale_superpixels=True),
    "new-vgg": StepRecipe("new-vgg", backbone_layer="conv2_2", segmenter_every=4,
                          freeze_discriminators_in_g_step=True, scale_superpixels=True),
}


class RecipeBench:
    """One recipe's own networks, optimisers and inputs (so memory formats and optimiser states never mix), and
    its full step and its parts."""

    def __init__(self, recipe: StepRecipe, args: argparse.Namespace, device: torch.device):
        torch.manual_seed(0)
        self.recipe, self.args, self.device = recipe, args, device
        self.amp_dtype = autocast_dtype(args.precision, device)
        self.memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        to = dict(device=device, memory_format=self.memory_format)
        self.generator = UNetGenerator(GeneratorConfig(args.width, args.blocks)).to(**to)
        self.surface_disc = PatchDiscriminator(DiscriminatorConfig(3, args.width)).to(**to)
        self.texture_disc = PatchDiscriminator(DiscriminatorConfig(1, args.width)).to(**to)
        backbone = recipe.backbone or args.backbone
        weights = args.backbone_weights if backbone == args.backbone else None
        self.backbone = build_backbone(backbone, weights, recipe.backbone_layer).to(**to)
        self.segmenter = load_segmenter(args.segmenter).to(**to) if args.segmenter else None
        self.optimizer_g = torch.optim.Adam(self.generator.parameters(), 2e-4, betas=(0.5, 0.99))
        self.optimizer_d = torch.optim.Adam([*self.surface_disc.parameters(), *self.texture_disc.parameters()], 2e-4,
                                            betas=(0.5, 0.99))
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        self.weights = LossWeights()
        segments = recipe.superpixels_per_256
        if recipe.scale_superpixels:
            segments = max(4, round(segments * args.size**2 / 256**2))
        self.representations = RepresentationConfig(superpixel_segments=segments)
        self.photo = smooth_pictures(args.batch, args.size, 1).to(**to)
        self.cartoon = smooth_pictures(args.batch, args.size, 2).to(**to)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def frozen(self) -> tuple[torch.nn.Module, ...]:
        return (self.surface_disc, self.texture_disc) if self.recipe.freeze_discriminators_in_g_step else ()

    def step_segmenter(self, index: int):
        return self.segmenter if index % self.recipe.segmenter_every == 0 else None

    def full_step(self, index: int) -> None:
        """What one adversarial iteration of trainer.loop.train does with this recipe's levers."""
        photo, cartoon, segmenter = self.photo, self.cartoon, self.step_segmenter(index)
        with self.autocast():
            output = guided_filter(photo, self.generator(photo), TRAINING_FILTER_RADIUS_PX, TRAINING_FILTER_EPS)
        self.optimizer_d.zero_grad(set_to_none=True)
        with self.autocast():
            d_losses = discriminator_losses(cartoon, output, surface_disc=self.surface_disc,
                                            texture_disc=self.texture_disc, segmenter=segmenter,
                                            weights=self.weights, representations=self.representations)
        self.scaler.scale(d_losses["total"]).backward()
        self.scaler.step(self.optimizer_d)
        self.optimizer_g.zero_grad(set_to_none=True)
        with self.autocast(), without_weight_grads(*self.frozen()):
            g_losses = generator_losses(photo, output, surface_disc=self.surface_disc, texture_disc=self.texture_disc,
                                        backbone=self.backbone, segmenter=segmenter, weights=self.weights,
                                        representations=self.representations)
        self.scaler.scale(g_losses["total"]).backward()
        self.scaler.step(self.optimizer_g)
        self.scaler.update()

    def parts(self, index: int, totals: dict[str, float]) -> None:
        """The step's parts one by one (forward and backward each), on the same inputs."""
        photo, cartoon, device, shapes = self.photo, self.cartoon, self.device, self.representations
        with timed(totals, "generator", device):
            with self.autocast():
                output = guided_filter(photo, self.generator(photo), TRAINING_FILTER_RADIUS_PX, TRAINING_FILTER_EPS)
            output.float().mean().backward()
        output = output.detach().requires_grad_()
        with timed(totals, "superpixels", device):
            superpixel = structure_representation(output, shapes.superpixel_segments, shapes.superpixel_compactness,
                                                  shapes.superpixel_iterations, shapes.superpixel_colour)
        with timed(totals, "backbone", device):
            with self.autocast():
                features = self.backbone(output)
                with torch.no_grad():
                    photo_features, superpixel_features = self.backbone(photo), self.backbone(superpixel)
                loss = feature_l1_loss(features, photo_features) + feature_l1_loss(features, superpixel_features)
            loss.backward()
        with timed(totals, "discriminators", device):
            with self.autocast():
                d_losses = discriminator_losses(cartoon, output, surface_disc=self.surface_disc,
                                                texture_disc=self.texture_disc, weights=self.weights)
            d_losses["total"].backward()
            with self.autocast(), without_weight_grads(*self.frozen()):
                (texture,) = random_colour_shift(output)
                fake = self.surface_disc(surface_representation(output)).mean() + self.texture_disc(texture).mean()
            fake.backward()
        totals.setdefault("segmenter", 0.0)
        segmenter = self.step_segmenter(index)
        if segmenter is not None:
            with timed(totals, "segmenter", device):
                with self.autocast():
                    masks = segmenter.region_masks(output)
                    with torch.no_grad():
                        segmenter.region_masks(photo), segmenter.region_masks(cartoon), segmenter.region_masks(output)
                masks.float().mean().backward()
        for network in (self.generator, self.surface_disc, self.texture_disc):
            network.zero_grad(set_to_none=True)


def bench_device(args: argparse.Namespace, device: torch.device) -> None:
    benches = [RecipeBench(RECIPES[name], args, device) for name in args.recipes]
    for bench in benches:
        for index in range(args.warmup):
            bench.full_step(index)
            bench.parts(index, defaultdict(float))
    step_seconds = {bench.recipe.name: [] for bench in benches}
    totals = {bench.recipe.name: defaultdict(float) for bench in benches}
    for index in range(args.steps):  # recipes alternate step by step, so a slow phase of a shared machine hits all
        for bench in benches:
            name = bench.recipe.name
            with timed(totals[name], "_step", device):
                bench.full_step(index)
            step_seconds[name].append(totals[name].pop("_step"))
            bench.parts(index, totals[name])

    amp_dtype = benches[0].amp_dtype
    precision = str(amp_dtype).removeprefix("torch.") if amp_dtype else "fp32"
    print(f"\ndevice {device} ({_device_name(device)}), {precision}, batch {args.batch}, {args.size}², "
          f"G width {args.width} × {args.blocks} blocks, backbone {args.backbone}, "
          f"segmenter {'yes' if args.segmenter else 'no'}, {args.steps} steps after {args.warmup} warm-up")
    mean_step = {}
    for bench in benches:
        name = bench.recipe.name
        # the mean, not the median: with segmenter_every > 1 the steps differ by design
        step_s = mean_step[name] = statistics.mean(step_seconds[name])
        measured = {part: totals[name][part] / args.steps for part in PARTS if part in totals[name]}
        parts_s = sum(measured.values())
        print(f"\n[{name}] {bench.recipe}")
        print(f"full adversarial step: {step_s * 1e3:.0f} ms (mean) → {args.batch / step_s:.2f} images/s")
        print(f"{'part':<16}{'ms/step':>10}{'share':>9}")
        for part, seconds in measured.items():
            print(f"{part:<16}{seconds * 1e3:>10.1f}{seconds / parts_s:>9.1%}")
        print(f"{'parts / step':<16}{parts_s * 1e3:>10.1f}{parts_s / step_s:>9.2f}")
    if {"old", "new"} <= set(mean_step):
        print(f"\nnew step vs old step: {mean_step['old'] / mean_step['new']:.2f}× faster (images/s ratio)")


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
    parser.add_argument("--recipes", nargs="+", default=["old", "new", "new-vgg"], choices=sorted(RECIPES),
                        help="step recipes to time side by side (default: all)")
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
