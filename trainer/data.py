"""Training batches from folders of images: random square crops with flips, optional soft masks, and an endless,
resumable, shardable order.

Every sample is addressed by a `SampleKey` (image index, augmentation seed). The order and the seeds are pure
functions of (seed, epoch, position), so a stream's whole state is a few integers: the loop stores `state_dict()` in
its checkpoint and a resumed run gets exactly the batch it would have got next. Crops and flips come from the key's
seed, not from worker RNGs, so batches are the same for any number of DataLoader workers.

Tensors: "image" (N, 3, crop, crop) float32 RGB in [-1, 1]; "mask" (N, 1, crop, crop) float32 in [0, 1]
(1 = foreground) when a mask folder is given; "target" (N, 3, crop, crop) in [-1, 1], the same crop of the photo's
precomputed cartoon target (`trainer.cartoon_target`), when a target folder is given; "index" (N,) int64 indices.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset, Sampler

from core.atomic_files import is_partial_file
from core.image_io import ImageReadError, read_image
from trainer.cartoon_target import target_path

log = logging.getLogger(__name__)

TRAINING_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
MAX_DECODE_ATTEMPTS = 16  # unreadable files in a row before a sample gives up


class SampleKey(NamedTuple):
    """What the sampler hands the dataset: which image, and the seed of its crop and flip."""

    index: int
    seed: int


# --- finding files --------------------------------------------------------------------------------------------------
def find_images(folder: str | Path) -> list[Path]:
    """JPEG, PNG and WebP files under `folder` (recursive, hidden and partial files skipped), in a fixed order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    found = [path for path in folder.rglob("*")
             if path.suffix.lower() in TRAINING_IMAGE_SUFFIXES and path.is_file()
             and not is_partial_file(path) and not any(part.startswith(".") for part in path.relative_to(folder).parts)]
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())


def match_masks(images: list[Path], image_root: Path, mask_root: Path) -> list[Path | None]:
    """The mask of each image: same relative path without suffix (photos/selfies/a.jpg ↔ masks/selfies/a.png),
    else the only mask with the same stem anywhere under `mask_root`; None when there is no such mask."""
    masks = find_images(mask_root)
    by_relative = {path.relative_to(mask_root).with_suffix("").as_posix(): path for path in masks}
    by_stem: dict[str, list[Path]] = {}
    for path in masks:
        by_stem.setdefault(path.stem, []).append(path)
    matched: list[Path | None] = []
    for image in images:
        relative = image.relative_to(image_root).with_suffix("").as_posix()
        candidates = by_stem.get(image.stem, [])
        matched.append(by_relative.get(relative) or (candidates[0] if len(candidates) == 1 else None))
    return matched


# --- decoding and cropping ------------------------------------------------------------------------------------------
def random_crop(rgb: torch.Tensor, mask: torch.Tensor | None, crop_size: int,
                rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A crop_size² window of (C, H, W) float32 [0, 1] `rgb` (a photo, or a photo stacked with its target) and of
    its (1, h, w) float32 [0, 1] `mask` (at any resolution), flipped left-right half of the time. Pictures whose
    shorter side is below crop_size are enlarged first (bicubic); the mask is resized (bilinear, antialiased when shrinking) to the picture before cropping.

    Torch, not OpenCV, resizes here: this runs in forked DataLoader workers, where OpenCV's thread pool inherited
    from a parent that already used it can deadlock."""
    height, width = rgb.shape[1:]
    if min(height, width) < crop_size:
        scale = crop_size / min(height, width)
        width, height = max(crop_size, round(width * scale)), max(crop_size, round(height * scale))
        rgb = F.interpolate(rgb[None], size=(height, width), mode="bicubic", align_corners=False)[0].clamp_(0, 1)
    top = int(rng.integers(0, height - crop_size + 1))
    left = int(rng.integers(0, width - crop_size + 1))
    flip = bool(rng.integers(0, 2))
    rgb = rgb[:, top:top + crop_size, left:left + crop_size]
    if mask is not None:
        if mask.shape[1:] != (height, width):
            shrinking = mask.shape[1] > height or mask.shape[2] > width
            mask = F.interpolate(mask[None], size=(height, width), mode="bilinear", align_corners=False,
                                 antialias=shrinking)[0].clamp_(0, 1)
        mask = mask[:, top:top + crop_size, left:left + crop_size]
    if flip:
        rgb = rgb.flip(2)
        mask = None if mask is None else mask.flip(2)
    return rgb.contiguous(), None if mask is None else mask.contiguous()


def read_mask(path: Path) -> np.ndarray:
    """(h, w) float32 in [0, 1] from an 8- or 16-bit greyscale (or colour: its luminance) mask file."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.clip(np.asarray(image, dtype=np.float32) / 65535.0, 0.0, 1.0)
            return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"unreadable mask ({exc})") from exc


class ImageCropDataset(Dataset):
    """Random training crops of every image under a folder, with their masks when `mask_folder` is given.

    Indexed by `SampleKey`: the same key always gives the same crop. An unreadable image (or mask) is logged once
    per worker and replaced by the next index, with the same seed, so a bad file never stops a run. Images without
    a mask are left out (with one warning) when masks are asked for: a sample must not pretend to know its regions.
    """

    def __init__(self, folder: str | Path, crop_size: int, mask_folder: str | Path | None = None,
                 target_folder: str | Path | None = None):
        self.folder = Path(folder)
        self.crop_size = crop_size
        images = find_images(self.folder)
        if not images:
            raise FileNotFoundError(f"no JPEG, PNG or WebP images under {self.folder}")
        self.masks: list[Path] | None = None
        if mask_folder is not None:
            mask_folder = Path(mask_folder)
            matched = match_masks(images, self.folder, mask_folder)
            kept = [(image, mask) for image, mask in zip(images, matched) if mask is not None]
            if not kept:
                raise FileNotFoundError(f"none of the {len(images)} images under {self.folder} has a mask in "
                                        f"{mask_folder} (same relative name or unique stem, any image suffix)")
            if len(kept) < len(images):
                log.warning("%d of %d images under %s have no mask in %s and are left out", len(images) - len(kept),
                            len(images), self.folder, mask_folder)
            images = [image for image, _mask in kept]
            self.masks = [mask for _image, mask in kept]
        self.targets: list[Path] | None = None
        if target_folder is not None:
            keep = [target_path(Path(target_folder), self.folder, image).is_file() for image in images]
            if not any(keep):
                raise FileNotFoundError(f"none of the {len(images)} images under {self.folder} has a cartoon target "
                                        f"in {target_folder} (run `cartoonize-train make-targets`)")
            if not all(keep):
                log.warning("%d of %d images under %s have no cartoon target in %s and are left out",
                            keep.count(False), len(images), self.folder, target_folder)
            if self.masks is not None:
                self.masks = [mask for mask, kept_image in zip(self.masks, keep) if kept_image]
            images = [image for image, kept_image in zip(images, keep) if kept_image]
            self.targets = [target_path(Path(target_folder), self.folder, image) for image in images]
        self.images = images
        self._warned: set[Path] = set()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: SampleKey) -> dict[str, Any]:
        index, seed = key
        for attempt in range(min(MAX_DECODE_ATTEMPTS, len(self.images))):
            candidate = (index + attempt) % len(self.images)
            try:
                return self._sample(candidate, seed)
            except ImageReadError as exc:
                path = self.images[candidate]
                if path not in self._warned:
                    self._warned.add(path)
                    log.warning("skipping unreadable training image %s: %s", path, exc)
        raise RuntimeError(f"{MAX_DECODE_ATTEMPTS} images in a row under {self.folder} could not be read "
                           f"(from index {index}); see the warnings above")

    def _sample(self, index: int, seed: int) -> dict[str, Any]:
        rgb = torch.from_numpy(read_image(self.images[index]).rgb).permute(2, 0, 1)  # (3, H, W) float32 [0, 1]
        mask = torch.from_numpy(read_mask(self.masks[index]))[None] if self.masks is not None else None  # (1, h, w)
        if self.targets is not None:  # cropped together with the photo: stacked as channels 3..5
            target = torch.from_numpy(read_image(self.targets[index]).rgb).permute(2, 0, 1)
            if target.shape != rgb.shape:
                raise ImageReadError(f"its cartoon target {self.targets[index]} is {tuple(target.shape[1:])}, the "
                                     f"photo {tuple(rgb.shape[1:])}: remake the targets")
            rgb = torch.cat([rgb, target])                                                 # (6, H, W)
        rgb, mask = random_crop(rgb, mask, self.crop_size, np.random.default_rng(seed))
        sample: dict[str, Any] = {"image": rgb[:3] * 2.0 - 1.0, "index": index}             # (3, crop, crop)
        if self.targets is not None:
            sample["target"] = rgb[3:] * 2.0 - 1.0                                         # (3, crop, crop)
        if mask is not None:
            sample["mask"] = mask                                                          # (1, crop, crop)
        return sample


# --- order ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamPosition:
    """Where an endless stream is: `index` samples of `epoch`'s permutation are used up (counted over all ranks)."""

    epoch: int = 0
    index: int = 0


class InfiniteShardedSampler(Sampler):
    """Endless batches of SampleKeys for one rank, epoch after epoch, each epoch a fresh permutation.

    Like DistributedSampler (drop_last=False): each epoch's permutation is padded by wrapping to a multiple of
    `world_size`, and rank r takes positions r, r + world_size, …; all ranks advance in step. Batches run across
    epoch boundaries. A sample's seed depends only on (seed, epoch, position in the padded permutation).
    """

    def __init__(self, dataset_size: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1,
                 start: StreamPosition = StreamPosition()):
        if dataset_size < 1 or batch_size < 1:
            raise ValueError("dataset_size and batch_size must be at least 1")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        self.dataset_size = dataset_size
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.start = start

    @property
    def samples_per_rank(self) -> int:
        """Samples each rank takes from one epoch."""
        return math.ceil(self.dataset_size / self.world_size)

    def permutation(self, epoch: int) -> torch.Tensor:
        """Epoch `epoch`'s order of all indices, the same on every rank."""
        generator = torch.Generator().manual_seed(_mix(self.seed, epoch))
        return torch.randperm(self.dataset_size, generator=generator)

    def advanced(self, position: StreamPosition, batches: int) -> StreamPosition:
        """Where the stream is after `batches` more batches from `position`."""
        local = position.index // self.world_size + batches * self.batch_size
        epochs, local = divmod(local, self.samples_per_rank)
        return StreamPosition(position.epoch + epochs, local * self.world_size)

    def __iter__(self) -> Iterator[list[SampleKey]]:
        epoch, local = self.start.epoch, self.start.index // self.world_size
        batch: list[SampleKey] = []
        while True:
            order = self.permutation(epoch).tolist()
            for slot in range(local, self.samples_per_rank):
                position = slot * self.world_size + self.rank  # < the padded length; the padding wraps around
                batch.append(SampleKey(order[position % self.dataset_size],
                                       _mix(self.seed, epoch, position)))
                if len(batch) == self.batch_size:
                    yield batch
                    batch = []
            epoch, local = epoch + 1, 0


def _mix(*numbers: int) -> int:
    """A well-spread 63-bit seed from a few integers (nearby inputs give unrelated seeds)."""
    return int(np.random.SeedSequence([n & 0xFFFFFFFFFFFFFFFF for n in numbers]).generate_state(2, np.uint64)[0]
               >> np.uint64(1))


# --- the stream the training loop reads -----------------------------------------------------------------------------
class TrainingBatches:
    """Endless batches from an ImageCropDataset, decoded in DataLoader workers, with a resumable position.

    `state_dict()` describes the next batch `next()` will return (not the workers' prefetch position), so it can be
    saved at any step. `load_state_dict()` restarts the workers at that position. The state is plain ints, safe for
    weights-only checkpoints; it refuses a state saved for a dataset of a different size (the order would differ).
    """

    def __init__(self, dataset: ImageCropDataset, batch_size: int, seed: int = 0, num_workers: int = 2,
                 rank: int = 0, world_size: int = 1, pin_memory: bool = False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.num_workers = num_workers
        self.rank = rank
        self.world_size = world_size
        self.pin_memory = pin_memory
        self.position = StreamPosition()
        self._iterator: Iterator[dict[str, Any]] | None = None

    def _sampler(self, start: StreamPosition) -> InfiniteShardedSampler:
        return InfiniteShardedSampler(len(self.dataset), self.batch_size, self.seed, self.rank, self.world_size, start)

    def __iter__(self) -> "TrainingBatches":
        return self

    def __next__(self) -> dict[str, Any]:
        if self._iterator is None:
            loader = DataLoader(self.dataset, batch_sampler=self._sampler(self.position),
                                num_workers=self.num_workers, pin_memory=self.pin_memory,
                                prefetch_factor=2 if self.num_workers else None)
            self._iterator = iter(loader)
        batch = next(self._iterator)
        self.position = self._sampler(self.position).advanced(self.position, 1)
        return batch

    @property
    def epoch(self) -> int:
        return self.position.epoch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.position.epoch, "index": self.position.index, "seed": self.seed,
                "dataset_size": len(self.dataset), "world_size": self.world_size, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["dataset_size"] != len(self.dataset):
            raise ValueError(f"the data stream was saved for {state['dataset_size']} images but {self.dataset.folder} "
                             f"now has {len(self.dataset)}; the order cannot be resumed exactly (start a new run, "
                             "or restore the folder)")
        if state["world_size"] != self.world_size:
            log.warning("data stream saved with %d processes, resumed with %d: the sample order will differ",
                        state["world_size"], self.world_size)
        self.seed = int(state["seed"])
        self.position = StreamPosition(int(state["epoch"]), int(state["index"]))
        self.close()

    def close(self) -> None:
        """Stop the worker processes (they restart on the next `next()`)."""
        self._iterator = None


def training_batches(folder: str | Path, crop_size: int, batch_size: int, *, seed: int = 0,
                     mask_folder: str | Path | None = None, target_folder: str | Path | None = None,
                     num_workers: int = 2, rank: int = 0, world_size: int = 1,
                     pin_memory: bool = False) -> TrainingBatches:
    """The usual way to get a stream: one folder (its masks, its cartoon targets) → endless resumable batches."""
    dataset = ImageCropDataset(folder, crop_size, mask_folder, target_folder)
    return TrainingBatches(dataset, batch_size, seed, num_workers, rank, world_size, pin_memory)
