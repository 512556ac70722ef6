"""`train(cfg)`: the whole GAN training run, top to bottom, in nanoGPT's flat style.

Setup (processes, device, seeds) → cartoon targets → generator and discriminators → optimisers → resume → the loop
with logging, sample grids and checkpoints → export of an engine model file. The loop has three phases, each optional:
"pretrain" (L1 reconstruction of the photo, White-box's start), "warmstart" (L1 toward the photo's precomputed
algorithmic cartoon, `trainer.cartoon_target`: the look first, cheaply) and "train" (per step a discriminator step and
a generator step, optionally with a decaying L1 anchor toward the same target). The generator output the losses see
is `guided_filter(photo, G(photo), 1, 1e-2)`, as in White-box's training. With `ema_decay` an exponential moving
average of G's weights is kept beside G; it is what samples show and what is exported.

Under `torchrun` (the RANK and WORLD_SIZE variables are set) the networks are wrapped in DistributedDataParallel
(NCCL on CUDA, Gloo on the CPU), each process reads its own shard of the data, and only rank 0 (`is_main`) prints,
writes samples, checkpoints and the model. Every other side effect sits behind that flag too.

SIGINT/SIGTERM and a cancelled `CancelToken` stop the run between steps: a checkpoint is written, then `Cancelled`
is raised. `resume=True` continues from the run folder's latest checkpoint exactly: networks, optimisers, scaler,
step, data positions and RNG states; the colour-shift draws are seeded from (seed, rank, step), so they need no state.

Progress goes to `emit` as `trainer.events` (TargetsProgress, TrainingStarted, TrainingProgress, SampleWritten,
CheckpointSaved, TrainingStopped, ModelExported); the CLI prints them as JSON lines or as console text.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import signal
import sys
import threading
import time
from dataclasses import fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core.cancel import CancelToken, Cancelled
from core.devices import resolve_device
from core.generator import GeneratorConfig, UNetGenerator
from core.guided_filter import guided_filter
from core.image_io import write_image
from core.model_file import CartoonModel, ModelMetadata, save_model
from core.model_registry import load_model
from trainer.backbones import FeatureBackbone, build_backbone
from trainer.cartoon_target import CartoonTargetRecipe, make_cartoon_targets
from trainer.checkpoint import (
    latest_checkpoint, list_checkpoints, load_checkpoint, restore_rng_state, restore_training_state, save_checkpoint,
)
from trainer.config import ConfigError, TrainConfig
from trainer.data import SampleKey, TrainingBatches, training_batches
from trainer.discriminator import DiscriminatorConfig, PatchDiscriminator
from trainer.events import (
    CheckpointSaved, EventSink, ModelExported, SampleWritten, TargetsProgress, TrainingProgress, TrainingStarted,
    TrainingStopped, ignore_event, print_json_event,
)
from trainer.losses import (
    LossWeights, discriminator_losses, feature_l1_loss, feature_weight_scale, generator_losses,
)
from trainer.representations import RepresentationConfig
from trainer.semantic import SemanticSegmenter, load_segmenter

TRAINING_FILTER_RADIUS_PX = 1  # White-box train.py: guided_filter(input_photo, output, r=1, eps=1e-2)
TRAINING_FILTER_EPS = 1e-2
SAMPLE_COUNT = 4  # photos in each sample grid
SAMPLES_FOLDER = "samples"
TARGET_CACHE_FOLDER = Path("cache") / "cartoon-targets"  # under the user data folder
SUPERPIXEL_REFERENCE_AREA_PX = 256 * 256  # superpixel_segments is per this area


def train(cfg: TrainConfig, cancel: CancelToken | None = None, *, emit: EventSink = print_json_event) -> Path:
    """Run (or resume) the training `cfg` describes and return the exported model file's path.

    Raises `Cancelled` after saving a checkpoint when stopped by a signal or `cancel`.
    """
    # --- setup: processes, device, precision, seeds --------------------------------------------------------------
    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank = int(os.environ.get("RANK", 0))
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = training_device(cfg.device, local_rank if distributed else None)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if device.type == "cpu":
        torch.set_flush_denormal(True)  # denormal weights made CPU fine-tune steps ~8x slower (73 s vs 8.5 s)
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    is_main = rank == 0
    if not is_main:
        emit = ignore_event
    try:
        amp_dtype = autocast_dtype(cfg.precision, device)
        channels_last = device.type == "cuda"
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
        np.random.seed(cfg.seed)

        run_dir = Path(cfg.run_dir)
        checkpoint_path = latest_checkpoint(run_dir) if cfg.resume else None
        if cfg.resume and checkpoint_path is None:
            raise ConfigError(f"resume: {run_dir} has no checkpoint to continue from")
        if not cfg.resume and list_checkpoints(run_dir):
            raise ConfigError(f"{run_dir} already holds a run's checkpoints: pass --resume (resume=true) to continue "
                              "it, or choose another run_dir")
        adversarial_start = cfg.pretrain_steps + cfg.warm_start_steps
        total_steps = adversarial_start + cfg.adversarial_steps

        # --- data: cartoon targets made once, then one endless, resumable, sharded stream per domain ------------------
        target_dir = None
        if cfg.uses_cartoon_targets:
            target_dir = ensure_cartoon_targets(cfg, emit, make=is_main)
            if distributed:
                dist.barrier()
        pin_memory = device.type == "cuda"
        photos = training_batches(cfg.photos_dir, cfg.crop_size, cfg.batch_size, seed=cfg.seed,
                                  target_folder=target_dir, num_workers=cfg.num_workers, rank=rank,
                                  world_size=world_size, pin_memory=pin_memory)
        cartoons = training_batches(cfg.cartoons_dir, cfg.crop_size, cfg.batch_size, seed=cfg.seed + 1,
                                    num_workers=cfg.num_workers, rank=rank, world_size=world_size,
                                    pin_memory=pin_memory) if cfg.adversarial_steps else None

        # --- networks: G (scratch or a base model), Ds, frozen loss networks --------------------------------------
        generator, base = build_generator(cfg)
        surface_disc = PatchDiscriminator(DiscriminatorConfig(3, cfg.discriminator_base_channels,
                                                              cfg.discriminator_head_spectral_norm))
        texture_disc = PatchDiscriminator(DiscriminatorConfig(1, cfg.discriminator_base_channels,
                                                              cfg.discriminator_head_spectral_norm))
        for network in (generator, surface_disc, texture_disc):
            network.to(device, memory_format=memory_format).train()
        ema = make_ema(generator) if cfg.ema_decay else None
        backbone = segmenter = None
        if cfg.adversarial_steps or cfg.warm_start_perceptual:  # else unneeded (and VGG weights may be offline)
            backbone = build_backbone(cfg.backbone, cfg.backbone_weights, cfg.backbone_layer).to(
                device, memory_format=memory_format)
        if cfg.adversarial_steps:
            segmenter = load_training_segmenter(cfg)
            if segmenter is not None:
                segmenter.to(device, memory_format=memory_format)
        weights = loss_weights(cfg, segmenter, backbone)
        representations = RepresentationConfig(superpixel_segments=scaled_superpixel_segments(cfg))

        # --- optimisers and mixed precision -----------------------------------------------------------------------
        betas = tuple(cfg.adam_betas)
        optimizer_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr, betas=betas)
        optimizer_d = torch.optim.Adam([*surface_disc.parameters(), *texture_disc.parameters()],
                                       lr=cfg.lr_discriminator or cfg.lr, betas=betas)
        scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
        models = {"generator": generator, "surface_discriminator": surface_disc, "texture_discriminator": texture_disc}
        if ema is not None:
            models["generator_ema"] = ema
        optimizers = {"generator": optimizer_g, "discriminators": optimizer_d}

        # --- resume -----------------------------------------------------------------------------------------------
        step, history = 0, []
        if checkpoint_path is not None:
            checkpoint = load_checkpoint(checkpoint_path)
            restore_training_state(checkpoint, models=models, optimizers=optimizers, scaler=scaler)
            step, history = int(checkpoint["step"]), list(checkpoint["metrics"])
            photos.load_state_dict(checkpoint["data"]["photos"])
            if cartoons is not None and "cartoons" in checkpoint["data"]:
                cartoons.load_state_dict(checkpoint["data"]["cartoons"])
            restore_rng_state(checkpoint["rng"])

        # DDP wraps G and the Ds for their own steps; the G step reads the Ds unwrapped (their grads are zeroed).
        train_generator, train_surface, train_texture = generator, surface_disc, texture_disc
        if distributed:
            device_ids = [device.index] if device.type == "cuda" else None
            train_generator = DistributedDataParallel(generator, device_ids=device_ids)
            train_surface = DistributedDataParallel(surface_disc, device_ids=device_ids)
            train_texture = DistributedDataParallel(texture_disc, device_ids=device_ids)

        sample_photos = fixed_sample_photos(photos, cfg.seed).to(device) if is_main else None
        export_filter = inference_filter(base)
        images_per_step = cfg.batch_size * world_size
        emit(TrainingStarted(run_dir=run_dir, step=step, total_steps=total_steps, pretrain_steps=cfg.pretrain_steps,
                             warm_start_steps=cfg.warm_start_steps, device=str(device), world_size=world_size,
                             precision=str(amp_dtype).removeprefix("torch.") if amp_dtype else "fp32",
                             photos=len(photos.dataset), cartoons=len(cartoons.dataset) if cartoons else 0,
                             resumed_from=checkpoint_path))

        # --- the loop ---------------------------------------------------------------------------------------------
        stop = StopRequest(cancel)
        running: dict[str, torch.Tensor] = {}  # sum of each loss over the steps that computed it
        counted: dict[str, int] = {}  # how many steps computed it (the semantic term: every segmenter_every-th)
        interval_steps, interval_start, paused_s = 0, time.perf_counter(), 0.0
        with stop.handling_signals():  # before the first batch: DataLoader workers fork inside
            while step < total_steps:
                phase = phase_at(step, cfg)
                set_learning_rates(optimizer_g, optimizer_d, cfg, phase)  # the config's, also after a resume
                if (step == adversarial_start and cfg.warm_start_steps and cfg.reset_optimizer_after_warm_start
                        and step > 0):
                    # The warm start's Adam moments describe an L1 landscape; the GAN starts from fresh ones.
                    optimizer_g.state.clear()
                batch = next(photos)
                photo = batch["image"].to(device, non_blocking=True, memory_format=memory_format)
                target = batch["target"].to(device, non_blocking=True, memory_format=memory_format) \
                    if "target" in batch else None
                autocast = torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None)
                generator_learns = generator_learns_at(step, cfg)
                if phase == "pretrain":
                    # L1 reconstruction only: without it G starts from noise and the GAN collapses to flat colour.
                    with autocast:
                        losses = {"reconstruction": F.l1_loss(train_generator(photo), photo)}
                    optimizer_g.zero_grad(set_to_none=True)
                    scaler.scale(losses["reconstruction"]).backward()
                    scaler.step(optimizer_g)
                    scaler.update()
                elif phase == "warmstart":
                    with autocast:
                        output = guided_filter(photo, train_generator(photo), TRAINING_FILTER_RADIUS_PX,
                                               TRAINING_FILTER_EPS)  # (N, 3, H, W)
                        losses = {"target_l1": F.l1_loss(output, target)}
                        total = losses["target_l1"]
                        if cfg.warm_start_perceptual:
                            with torch.no_grad():
                                target_features = backbone(target)
                            losses["target_features"] = feature_l1_loss(backbone(output), target_features)
                            total = total + cfg.warm_start_perceptual * weights.content * losses["target_features"]
                    optimizer_g.zero_grad(set_to_none=True)
                    scaler.scale(total).backward()
                    scaler.step(optimizer_g)
                    scaler.update()
                else:
                    cartoon = next(cartoons)["image"].to(device, non_blocking=True, memory_format=memory_format)
                    colour_rng = torch.Generator().manual_seed(_step_seed(cfg.seed, rank, step))
                    step_segmenter = segmenter if (step - adversarial_start) % cfg.segmenter_every == 0 else None
                    with autocast, torch.set_grad_enabled(generator_learns):
                        output = guided_filter(photo, train_generator(photo), TRAINING_FILTER_RADIUS_PX,
                                               TRAINING_FILTER_EPS)  # (N, 3, H, W) in ~[-1, 1]
                    # D step (the G step below leaves no grads on the Ds when they are frozen there)
                    optimizer_d.zero_grad(set_to_none=True)
                    with autocast:
                        d_losses = discriminator_losses(cartoon, output, surface_disc=train_surface,
                                                        texture_disc=train_texture, segmenter=step_segmenter,
                                                        weights=weights, representations=representations,
                                                        rng=colour_rng)
                    scaler.scale(d_losses["total"]).backward()
                    scaler.step(optimizer_d)
                    losses = {f"d_{k}": v for k, v in d_losses.items()}
                    if generator_learns:  # G step (none in the discriminator warm-up)
                        optimizer_g.zero_grad(set_to_none=True)
                        frozen = (surface_disc, texture_disc) if cfg.freeze_discriminators_in_g_step else ()
                        with autocast, without_weight_grads(*frozen):
                            g_losses = generator_losses(photo, output, surface_disc=surface_disc,
                                                        texture_disc=texture_disc, backbone=backbone,
                                                        segmenter=step_segmenter, weights=weights,
                                                        representations=representations, rng=colour_rng)
                            anchor = anchor_weight_at(step - adversarial_start - cfg.discriminator_warmup_steps, cfg)
                            if anchor and target is not None:
                                g_losses["anchor"] = F.l1_loss(output, target)
                                g_losses["total"] = g_losses["total"] + anchor * g_losses["anchor"]
                        scaler.scale(g_losses["total"]).backward()
                        scaler.step(optimizer_g)
                        losses.update({f"g_{k}": v for k, v in g_losses.items()})
                    scaler.update()
                if ema is not None and generator_learns:
                    update_ema(ema, generator, cfg.ema_decay, step)
                step += 1
                interval_steps += 1
                for name, value in losses.items():
                    running[name] = running.get(name, 0.0) + value.detach().float()
                    counted[name] = counted.get(name, 0) + 1

                # log
                if step % cfg.log_every == 0 or step == total_steps:
                    elapsed_s = max(time.perf_counter() - interval_start - paused_s, 1e-9)
                    seconds_per_step = elapsed_s / interval_steps
                    progress = TrainingProgress(
                        step=step, phase=phase,
                        losses={name: float(value / counted[name]) for name, value in running.items()},
                        images_per_s=round(images_per_step / seconds_per_step, 3),
                        eta_s=round(seconds_per_step * (total_steps - step), 1))
                    record = progress.record()
                    history.append(record)
                    emit(progress)
                    running, counted, interval_steps, interval_start, paused_s = {}, {}, 0, time.perf_counter(), 0.0
                    if not all(math.isfinite(value) for value in record.values() if isinstance(value, float)):
                        raise FloatingPointError(f"step {step}: a loss is not finite ({record}); lower lr, or "
                                                 "use precision=fp32")

                # sample and checkpoint (rank 0 writes; the time they take is left out of images/s)
                io_start = time.perf_counter()
                if is_main and (step % cfg.sample_every == 0 or step == total_steps):
                    path = write_sample_grid(run_dir / SAMPLES_FOLDER / f"step_{step:08d}.png", ema or generator,
                                             sample_photos, export_filter)
                    emit(SampleWritten(step=step, path=path))
                stopping = stop.agreed(distributed, device)
                if step % cfg.checkpoint_every == 0 or step == total_steps or stopping:
                    if is_main:
                        data_state = {"photos": photos.state_dict()}
                        if cartoons is not None:
                            data_state["cartoons"] = cartoons.state_dict()
                        path = save_checkpoint(run_dir, step, models=models, optimizers=optimizers, scaler=scaler,
                                               config=cfg.to_dict(), data_state=data_state, metrics=history,
                                               keep=cfg.keep_checkpoints)
                        emit(CheckpointSaved(step=step, path=path))
                paused_s += time.perf_counter() - io_start
                if stopping:
                    emit(TrainingStopped(step=step, reason=stop.reason))
                    raise Cancelled()

        # --- export -----------------------------------------------------------------------------------------------
        model_path = run_dir / f"{run_dir.name}.safetensors"
        if is_main:
            data = {"photos_dir": str(cfg.photos_dir), "photos": len(photos.dataset), "crop_size": cfg.crop_size,
                    "batch_size": cfg.batch_size, "world_size": world_size}
            if cartoons is not None:
                data.update(cartoons_dir=str(cfg.cartoons_dir), cartoons=len(cartoons.dataset))
            exported = ema if ema is not None else generator
            segmenter_info = ({"path": str(cfg.segmenter_path), **segmenter.metadata.provenance}
                              if segmenter is not None else None)
            metadata = export_metadata(cfg, base, exported, weights, data, history, step,
                                       backbone.describe() if backbone is not None else None, segmenter_info,
                                       export_filter)
            save_model(model_path, exported, metadata, half=True)
            emit(ModelExported(step=step, model=model_path))
        photos.close()
        if cartoons is not None:
            cartoons.close()
        return model_path
    finally:
        if distributed and dist.is_initialized():
            with contextlib.suppress(Exception):
                dist.barrier()
            dist.destroy_process_group()


# --- setup helpers -------------------------------------------------------------------------------------------------
def training_device(spec: str, local_rank: int | None = None) -> torch.device:
    """`core.devices.resolve_device(spec)`; under torchrun on CUDA, each process takes the GPU of its LOCAL_RANK."""
    device = resolve_device(spec)
    if local_rank is not None and device.type == "cuda":
        if spec.strip().lower() not in ("auto", "cuda"):
            raise ConfigError(f"device={spec} names one GPU, but under torchrun each process uses the GPU of its "
                              "LOCAL_RANK: use device=cuda or device=auto")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    return device


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `precision` (TrainConfig.precision); None means plain fp32.

    "auto": bf16 on CUDA where supported (no loss scaling needed), else fp16; fp32 on the CPU and MPS."""
    if precision == "fp32":
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def build_generator(cfg: TrainConfig) -> tuple[UNetGenerator, CartoonModel | None]:
    """A fresh generator of the configured width, or the base model's own (its architecture wins)."""
    if cfg.base_model:
        base = load_model(cfg.base_model)
        return base.generator, base
    config = GeneratorConfig(base_channels=cfg.generator_base_channels,
                             num_residual_blocks=cfg.generator_residual_blocks)
    return UNetGenerator(config), None


def load_training_segmenter(cfg: TrainConfig) -> SemanticSegmenter | None:
    """The frozen semantic module from `segmenter_path`; None (no semantic terms, no region weights) without one."""
    if cfg.segmenter_path is None:
        return None
    if not Path(cfg.segmenter_path).is_file():
        raise ConfigError(f"segmenter_path: {cfg.segmenter_path} does not exist (train one with "
                          "`cartoonize-train train-segmenter`, or set segmenter_path=none)")
    return load_segmenter(cfg.segmenter_path, frozen=True)


def set_learning_rates(optimizer_g: torch.optim.Optimizer, optimizer_d: torch.optim.Optimizer, cfg: TrainConfig,
                       phase: str) -> None:
    """The learning rates of `phase` from the config: a resumed run may be given new ones (the checkpoint keeps the
    Adam moments, not the rates)."""
    rate_g = cfg.warm_start_lr if phase == "warmstart" and cfg.warm_start_lr is not None else cfg.lr
    for group in optimizer_g.param_groups:
        group["lr"] = rate_g
    for group in optimizer_d.param_groups:
        group["lr"] = cfg.lr_discriminator or cfg.lr


def phase_at(step: int, cfg: TrainConfig) -> str:
    """The phase step `step` (0-based) belongs to: "pretrain", "warmstart" or "train"."""
    if step < cfg.pretrain_steps:
        return "pretrain"
    if step < cfg.pretrain_steps + cfg.warm_start_steps:
        return "warmstart"
    return "train"


def generator_learns_at(step: int, cfg: TrainConfig) -> bool:
    """False in the discriminator warm-up: the adversarial phase's first `discriminator_warmup_steps` steps train
    only the discriminators against the warm-started G's fixed outputs. Young discriminators barely tell anime crops
    from G's outputs (campaign, session 3: patch scores 0.53 vs 0.37 after 685 steps), so G's adversarial gradients
    start as noise that pulls it off its warm start."""
    adversarial_start = cfg.pretrain_steps + cfg.warm_start_steps
    return not adversarial_start <= step < adversarial_start + cfg.discriminator_warmup_steps


def anchor_weight_at(adversarial_step: int, cfg: TrainConfig) -> float:
    """The L1 anchor's weight at G's `adversarial_step`-th adversarial step (after the discriminator warm-up):
    linear from anchor_weight to 0."""
    if not cfg.anchor_weight:
        return 0.0
    span = cfg.anchor_decay_steps or cfg.adversarial_steps - cfg.discriminator_warmup_steps
    return cfg.anchor_weight * max(0.0, 1.0 - adversarial_step / max(span, 1))


def scaled_superpixel_segments(cfg: TrainConfig) -> int:
    """`superpixel_segments` is per 256² crop: keep the superpixels' size (in pixels) at any crop size."""
    return max(4, round(cfg.superpixel_segments * cfg.crop_size**2 / SUPERPIXEL_REFERENCE_AREA_PX))


def cartoon_target_dir(cfg: TrainConfig) -> Path:
    """The cache folder of `cfg`'s target recipe: `target_cache_dir`, else one per recipe in the user data folder."""
    from core.model_registry import user_data_dir

    recipe = cartoon_target_recipe(cfg)
    if cfg.target_cache_dir is not None:
        return Path(cfg.target_cache_dir)
    return user_data_dir() / TARGET_CACHE_FOLDER / recipe.key()


def cartoon_target_recipe(cfg: TrainConfig) -> CartoonTargetRecipe:
    try:
        return CartoonTargetRecipe.from_overrides(cfg.target_recipe)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"target_recipe: {exc}") from exc


def ensure_cartoon_targets(cfg: TrainConfig, emit: EventSink, make: bool = True) -> Path:
    """The folder of `cfg`'s cartoon targets, made first for any photo that lacks one (when `make`)."""
    folder = cartoon_target_dir(cfg)
    if make:
        last_report = 0.0
        for progress in make_cartoon_targets(cfg.photos_dir, folder, cartoon_target_recipe(cfg)):
            now = time.perf_counter()
            if progress.made and (now - last_report > 2.0 or progress.done == progress.total):
                emit(TargetsProgress(done=progress.done, total=progress.total, made=progress.made,
                                     reused=progress.reused, failed=progress.failed, folder=folder))
                last_report = now
    return folder


def make_ema(generator: nn.Module) -> nn.Module:
    """A frozen copy of G whose weights follow G's as an exponential moving average (`update_ema`)."""
    ema = copy.deepcopy(generator).eval()
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, generator: nn.Module, decay: float, step: int) -> None:
    """ema ← d·ema + (1 − d)·G, with d ramped up from 0 over the first steps (an early average is all noise)."""
    effective = min(decay, (1.0 + step) / (10.0 + step))
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in generator.parameters()], 1.0 - effective)
    for ema_buffer, buffer in zip(ema.buffers(), generator.buffers()):
        ema_buffer.copy_(buffer)


@contextlib.contextmanager
def without_weight_grads(*modules: nn.Module) -> Iterator[None]:
    """Inside, `modules`' parameters need no gradients (gradients still flow through them to their inputs)."""
    previous = [[p.requires_grad for p in module.parameters()] for module in modules]
    for module in modules:
        module.requires_grad_(False)
    try:
        yield
    finally:
        for module, flags in zip(modules, previous):
            for parameter, flag in zip(module.parameters(), flags):
                parameter.requires_grad_(flag)


def loss_weights(cfg: TrainConfig, segmenter: SemanticSegmenter | None,
                 backbone: FeatureBackbone | None = None) -> LossWeights:
    """`LossWeights` from the config: named terms replace the defaults, region weights are merged into them. The
    content and structure defaults are scaled to the backbone's features (`trainer.losses.feature_weight_scale`)."""
    terms = {f.name for f in fields(LossWeights)} - {"region_weights"}
    unknown = sorted(set(cfg.loss_weights) - terms)
    if unknown:
        raise ConfigError(f"loss_weights: unknown term(s) {unknown}; the terms are {sorted(terms)}")
    defaults = LossWeights()
    regions = {region: dict(values) for region, values in defaults.region_weights.items()}
    for region, values in cfg.region_weights.items():
        regions.setdefault(region, {}).update(values)
    if segmenter is not None:
        unknown_regions = sorted(set(regions) - set(segmenter.regions))
        if unknown_regions:
            raise ConfigError(f"region_weights names {unknown_regions}, but the segmenter's regions are "
                              f"{list(segmenter.regions)}")
    scaled = {}
    if backbone is not None:
        scale = feature_weight_scale(backbone.name, backbone.feature_layer)
        scaled = {term: getattr(defaults, term) * scale for term in ("content", "structure")}
    try:
        return LossWeights(**{**scaled, **cfg.loss_weights}, region_weights=regions)
    except ValueError as exc:
        raise ConfigError(f"region_weights: {exc}") from exc


def fixed_sample_photos(photos: TrainingBatches, seed: int, count: int = SAMPLE_COUNT) -> torch.Tensor:
    """The same few photo crops at every sample step, spread over the dataset: (count, 3, crop, crop) in [-1, 1].

    Read straight from the dataset by key, so the stream's position is untouched."""
    size = len(photos.dataset)
    count = min(count, size)
    indices = [round(i * (size - 1) / max(count - 1, 1)) for i in range(count)]
    return torch.stack([photos.dataset[SampleKey(index, seed)]["image"] for index in indices])


def inference_filter(base: CartoonModel | None) -> tuple[int, float]:
    """The inference guided filter of the exported model: the base model's, else the engine's default."""
    metadata = base.metadata if base is not None else ModelMetadata(display_name="")
    return metadata.guided_filter_radius, metadata.guided_filter_eps


def _step_seed(seed: int, rank: int, step: int) -> int:
    """The colour shift's seed for one step of one rank: no RNG state to carry across a resume."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, np.uint64)[0] >> np.uint64(1))


# --- stopping ------------------------------------------------------------------------------------------------------
class StopRequest:
    """SIGINT/SIGTERM (while `handling_signals()` is active) or a cancelled token: stop after the current step."""

    def __init__(self, cancel: CancelToken | None = None):
        self.cancel = cancel
        self.signal_name: str | None = None

    @property
    def requested(self) -> bool:
        return self.signal_name is not None or (self.cancel is not None and self.cancel.cancelled)

    @property
    def reason(self) -> str:
        return self.signal_name or "cancelled"

    @contextlib.contextmanager
    def handling_signals(self) -> Iterator[None]:
        """While inside, SIGINT and SIGTERM only set the request; a second SIGINT interrupts at once.

        Only the main thread may install handlers; elsewhere (a GUI worker thread) the cancel token does the job.
        DataLoader workers forked inside inherit the handler, so Ctrl-C (sent to the whole process group) does not
        kill them mid-batch."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, _frame: Any) -> None:
            if self.signal_name is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.signal_name = signal.Signals(signum).name

        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, handler)
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def agreed(self, distributed: bool, device: torch.device) -> bool:
        """Whether to stop now; under DDP every rank agrees (one rank stopping alone would hang the others)."""
        stop = self.requested
        if distributed:
            votes = torch.tensor([1.0 if stop else 0.0], device=device)
            dist.all_reduce(votes, op=dist.ReduceOp.MAX)
            stop = bool(votes.item())
        return stop


# --- samples and export --------------------------------------------------------------------------------------------
@torch.no_grad()
def write_sample_grid(path: Path, generator: UNetGenerator, photos: torch.Tensor, filter_params: tuple[int, float],
                      ) -> Path:
    """A PNG with one row per photo: photo | cartoon (the exported model's output, guided filter included)."""
    radius, eps = filter_params
    cartoons = guided_filter(photos, generator(photos), radius, eps).clamp(-1.0, 1.0)  # (N, 3, H, W)
    rows = torch.cat([photos, cartoons], dim=3)                                      # (N, 3, H, 2W)
    grid = torch.cat(list(rows), dim=1)                                              # (3, N·H, 2W)
    rgb = ((grid.float().cpu() + 1.0) * 0.5).permute(1, 2, 0).numpy()               # (N·H, 2W, 3) in [0, 1]
    return write_image(path, rgb)


def export_metadata(cfg: TrainConfig, base: CartoonModel | None, generator: UNetGenerator, weights: LossWeights,
                    data: dict[str, Any], history: list[dict[str, Any]], step: int, backbone: dict[str, Any] | None,
                    segmenter: dict[str, Any] | None, filter_params: tuple[int, float]) -> ModelMetadata:
    """The model card: what the generator was trained from, on what, with which losses and how far. `backbone` and
    `segmenter` describe the loss networks (None: not used)."""
    run_name = Path(cfg.run_dir).name
    warm_start_done = min(max(0, step - cfg.pretrain_steps), cfg.warm_start_steps)
    discriminator_only = min(max(0, step - cfg.pretrain_steps - cfg.warm_start_steps), cfg.discriminator_warmup_steps)
    adversarial_done = max(0, step - cfg.pretrain_steps - cfg.warm_start_steps - discriminator_only)  # G's steps
    steps = {"pretrain": min(step, cfg.pretrain_steps), "warm_start": warm_start_done, "adversarial": adversarial_done,
             "total": step}
    if cfg.discriminator_warmup_steps:
        steps["discriminator_warmup"] = discriminator_only  # G unchanged by these
    provenance = {
        "trainer": "cartoonize-train",
        "base_model": base.name if base is not None else None,
        "base_model_provenance": base.metadata.provenance if base is not None else None,
        "data": data,
        "steps": steps,
        "loss_weights": {f.name: getattr(weights, f.name) for f in fields(LossWeights)},
        "backbone": backbone,
        "segmenter": segmenter,
        "final_metrics": history[-1] if history else {},
        "config": cfg.to_dict(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
    }
    kind = "cartoonizer"
    if adversarial_done == 0:
        kind = ("warm-started toward algorithmic cartoon targets (no adversarial training yet)" if warm_start_done
                else "pre-trained (reconstruction only, not yet a cartoonizer)")
    description = f"{kind}, trained by cartoonize-train in {run_name} for {step} steps"
    if base is not None:
        description += f", fine-tuned from {base.name}"
        return replace(base.metadata, display_name=run_name, description=description, provenance=provenance)
    radius, eps = filter_params
    return ModelMetadata(display_name=run_name, config=generator.config, guided_filter_radius=radius,
                         guided_filter_eps=eps, description=description,
                         license="unknown: depends on the training data", provenance=provenance)
