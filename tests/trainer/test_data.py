from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from trainer.data import (
    ImageCropDataset, InfiniteShardedSampler, SampleKey, StreamPosition, TrainingBatches, find_images, random_crop,
    training_batches,
)

CROP = 16


def _write(path: Path, width: int, height: int, seed: int, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    channels = 1 if mode == "L" else 3
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    Image.fromarray(pixels[:, :, 0] if mode == "L" else pixels, mode).save(path)
    return path


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """Six readable pictures in nested folders (three formats, one smaller than the crop), one corrupt file, one
    text file, and half-resolution masks matched by relative name (or by stem for one)."""
    root = tmp_path / "photos"
    sizes = {"a/one.jpg": (40, 30), "a/two.png": (24, 20), "b/three.webp": (32, 32), "b/c/four.png": (10, 12),
             "five.jpeg": (50, 18), "six.png": (18, 40)}
    for i, (name, (w, h)) in enumerate(sizes.items()):
        _write(root / name, w, h, i)
        mask_name = "elsewhere/five.png" if name == "five.jpeg" else str(Path(name).with_suffix(".png"))
        _write(tmp_path / "masks" / mask_name, max(1, w // 2), max(1, h // 2), 100 + i, mode="L")
    (root / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    _write(tmp_path / "masks" / "b" / "broken.png", 8, 8, 99, mode="L")
    (root / "notes.txt").write_text("not an image")
    return root


def test_find_images_is_recursive_and_sorted(image_folder):
    names = [path.relative_to(image_folder).as_posix() for path in find_images(image_folder)]
    assert names == ["a/one.jpg", "a/two.png", "b/broken.jpg", "b/c/four.png", "b/three.webp", "five.jpeg",
                     "six.png"]


def test_samples_are_crops_in_range_with_matching_masks(image_folder):
    dataset = ImageCropDataset(image_folder, CROP, image_folder.parent / "masks")
    assert len(dataset) == 7
    for index in range(len(dataset)):
        sample = dataset[SampleKey(index, seed=index)]
        assert sample["image"].shape == (3, CROP, CROP) and sample["image"].dtype == torch.float32
        assert sample["mask"].shape == (1, CROP, CROP)
        assert -1.0 <= sample["image"].min() and sample["image"].max() <= 1.0
        assert 0.0 <= sample["mask"].min() and sample["mask"].max() <= 1.0
    first = dataset[SampleKey(3, 42)]
    again = dataset[SampleKey(3, 42)]
    assert torch.equal(first["image"], again["image"]) and torch.equal(first["mask"], again["mask"])


def test_unreadable_image_is_skipped_with_a_warning(image_folder, caplog):
    dataset = ImageCropDataset(image_folder, CROP)
    broken = [path.name for path in dataset.images].index("broken.jpg")
    with caplog.at_level(logging.WARNING, logger="trainer.data"):
        sample = dataset[SampleKey(broken, 5)]
    assert sample["index"] == broken + 1
    assert "broken.jpg" in caplog.text


def test_images_without_masks_are_left_out(image_folder, caplog):
    (image_folder.parent / "masks" / "a" / "two.png").unlink()
    with caplog.at_level(logging.WARNING, logger="trainer.data"):
        dataset = ImageCropDataset(image_folder, CROP, image_folder.parent / "masks")
    assert "two.png" not in [path.name for path in dataset.images] and len(dataset) == 6
    assert "1 of 7 images" in caplog.text


def test_crop_follows_the_mask_and_enlarges_small_pictures():
    rgb = np.zeros((12, 20, 3), np.float32)
    rgb[:, :10] = 1.0                                            # left half white
    mask = np.zeros((6, 10), np.float32)
    mask[:, :5] = 1.0                                            # left half foreground, at half resolution
    rgb, mask = torch.from_numpy(rgb).permute(2, 0, 1), torch.from_numpy(mask)[None]
    for seed in range(8):
        crop, crop_mask = random_crop(rgb, mask, CROP, np.random.default_rng(seed))
        assert crop.shape == (3, CROP, CROP) and crop_mask.shape == (1, CROP, CROP)
        bright = crop.mean(0) > 0.5
        agreement = (bright == (crop_mask[0] > 0.5)).float().mean()
        assert agreement > 0.9, seed


def _all_keys(sampler: InfiniteShardedSampler, batches: int) -> list[SampleKey]:
    iterator = iter(sampler)
    return [key for _ in range(batches) for key in next(iterator)]


def test_sampler_epochs_are_permutations_and_shards_are_disjoint():
    size, world = 10, 3
    shards = [_all_keys(InfiniteShardedSampler(size, 2, seed=1, rank=r, world_size=world), 2) for r in range(world)]
    first_epoch = [key.index for shard in shards for key in shard]          # 4 per rank = ceil(10 / 3)
    assert set(first_epoch) == set(range(size))
    assert len(first_epoch) == 12                                           # 2 padded by wrapping around
    seeds = [key.seed for shard in shards for key in shard]
    assert len(set(seeds)) == len(seeds)
    single = _all_keys(InfiniteShardedSampler(size, 5, seed=1), 4)
    assert sorted(k.index for k in single[:10]) == list(range(10)) == sorted(k.index for k in single[10:])
    assert [k.index for k in single[:10]] != [k.index for k in single[10:]]  # a fresh order each epoch


def test_sampler_position_arithmetic_matches_iteration():
    sampler = InfiniteShardedSampler(7, 3, seed=4, rank=1, world_size=2)
    keys = _all_keys(sampler, 6)
    position = sampler.advanced(StreamPosition(), 4)
    resumed = InfiniteShardedSampler(7, 3, seed=4, rank=1, world_size=2, start=position)
    assert _all_keys(resumed, 2) == keys[12:]


def test_stream_resumes_with_exactly_the_next_batch(image_folder):
    masks = image_folder.parent / "masks"
    stream = training_batches(image_folder, CROP, 3, seed=9, mask_folder=masks, num_workers=0)
    for _ in range(3):
        next(stream)
    state = stream.state_dict()
    expected = [next(stream) for _ in range(3)]
    assert all(isinstance(value, int) for value in state.values())

    resumed = training_batches(image_folder, CROP, 3, seed=0, mask_folder=masks, num_workers=0)
    resumed.load_state_dict(state)
    for want in expected:
        got = next(resumed)
        assert torch.equal(got["image"], want["image"]) and torch.equal(got["mask"], want["mask"])
        assert torch.equal(got["index"], want["index"])
    assert resumed.epoch == 2                          # 6 batches of 3 from 7 images


def test_batches_do_not_depend_on_worker_count(image_folder):
    # OpenCV's thread pool running in the parent once made forked workers deadlock: keep it running here
    cv2.resize(np.zeros((1500, 1500, 3), np.float32), (700, 700), interpolation=cv2.INTER_AREA)
    in_process = training_batches(image_folder, CROP, 4, seed=3, num_workers=0)
    with_workers = training_batches(image_folder, CROP, 4, seed=3, num_workers=2)
    for _ in range(3):
        a, b = next(in_process), next(with_workers)
        assert a["image"].shape == (4, 3, CROP, CROP) and "mask" not in a
        assert torch.equal(a["image"], b["image"])
    assert with_workers.state_dict() == in_process.state_dict()
    with_workers.close()


def test_resume_refuses_a_different_dataset(image_folder):
    stream = training_batches(image_folder, CROP, 2, num_workers=0)
    state = stream.state_dict() | {"dataset_size": 99}
    with pytest.raises(ValueError, match="saved for 99 images"):
        stream.load_state_dict(state)


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no JPEG, PNG or WebP images"):
        ImageCropDataset(tmp_path / "empty", CROP)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TrainingBatches(ImageCropDataset(tmp_path / "missing", CROP), 2)
