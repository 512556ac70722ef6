"""Feature backbones: weights load strictly, each applies its own weights' convention, nothing random in silence."""
from __future__ import annotations

import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from torchvision.models import VGG19_Weights
from torchvision.models.vgg import cfgs, make_layers

from trainer.backbones import (
    EFFICIENTNET_LITE0_CONVENTION,
    BackboneUnavailableError,
    build_backbone,
    efficientnet_lite0_timm_state,
    efficientnet_lite0_weights_path,
    load_efficientnet_lite0_classifier,
    vgg19_conv_indices,
)

ROOT = Path(__file__).resolve().parents[2]
VGG_CAFFE_FILE = ROOT.parent / "shared" / "weights" / "vgg19_conv1_1-conv3_4_caffe.safetensors"
SAMPLES = ROOT / "resources" / "samples"
needs_vgg_file = pytest.mark.skipif(not VGG_CAFFE_FILE.is_file(), reason=f"{VGG_CAFFE_FILE} not present")


def _sample(name: str, size: int) -> torch.Tensor:
    image = Image.open(SAMPLES / name).convert("RGB").resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]


def _assert_frozen(backbone: nn.Module) -> None:
    assert all(not p.requires_grad for p in backbone.parameters())
    backbone.train()
    assert not backbone.training and not any(m.training for m in backbone.modules())


def test_vgg_conv_names_follow_torchvision_layout():
    indices = vgg19_conv_indices()
    assert indices["conv1_1"] == 0 and indices["conv3_4"] == 16 and indices["conv4_4"] == 25


@needs_vgg_file
def test_partial_caffe_vgg_gives_conv3_4_with_caffe_preprocessing():
    backbone = build_backbone("vgg19", VGG_CAFFE_FILE)
    assert (backbone.feature_layer, backbone.stride, backbone.out_channels) == ("conv3_4", 4, 256)
    _assert_frozen(backbone)

    # Manual Caffe convention: RGB [-1, 1] → 0..255 → BGR → minus the mean the file states.
    with safe_open(str(VGG_CAFFE_FILE), framework="pt") as handle:
        mean_bgr = torch.tensor([float(v) for v in handle.metadata()["mean_bgr"].split(",")])
    reference = make_layers(cfgs["E"])[:17].eval()
    reference.load_state_dict({k.removeprefix("features."): v for k, v in load_file(str(VGG_CAFFE_FILE)).items()})
    photo = _sample("coffee.jpg", 48)
    caffe_input = (photo + 1) * 127.5
    caffe_input = caffe_input.flip(1) - mean_bgr.view(1, 3, 1, 1)
    with torch.no_grad():
        expected = reference(caffe_input)
        got = backbone(photo)
    assert got.shape == (1, 256, 12, 12)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-2)
    assert (got < 0).any()  # pre-ReLU features, as White-box used


@needs_vgg_file
def test_gradient_reaches_the_input_but_not_the_weights():
    backbone = build_backbone("vgg19", VGG_CAFFE_FILE)
    x = torch.zeros(1, 3, 16, 16, requires_grad=True)
    backbone(x).abs().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in backbone.parameters())


def test_full_torchvision_vgg_file_gives_conv4_4_with_torchvision_preset(tmp_path):
    torch.manual_seed(0)
    features = make_layers(cfgs["E"])[:26]
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # torchvision's file carries the classifier; it is dropped
    path = tmp_path / "vgg19-copy.pth"
    torch.save(state, path)
    backbone = build_backbone("vgg19", path)
    assert (backbone.feature_layer, backbone.stride, backbone.out_channels) == ("conv4_4", 8, 512)
    preset = VGG19_Weights.IMAGENET1K_V1.transforms()
    assert backbone.convention.channel_order == "RGB"
    assert list(backbone.convention.mean) == list(preset.mean) and list(backbone.convention.std) == list(preset.std)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    manual = ((x + 1) / 2 - torch.tensor(preset.mean).view(1, 3, 1, 1)) / torch.tensor(preset.std).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(backbone(x), features.eval()(manual), atol=1e-4)


def test_vgg_download_failure_is_a_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(VGG19_Weights, "get_state_dict", offline)
    with pytest.raises(BackboneUnavailableError, match="could not be downloaded.*vgg19_conv1_1-conv3_4_caffe"):
        build_backbone("vgg19")


def test_vgg_safetensors_without_a_stated_convention_is_refused(tmp_path):
    path = tmp_path / "anonymous.safetensors"
    save_file({"features.0.weight": torch.zeros(64, 3, 3, 3)}, str(path))
    with pytest.raises(BackboneUnavailableError, match="convention"):
        build_backbone("vgg19", path)


def test_vgg_weights_that_stop_early_are_refused(tmp_path):
    path = tmp_path / "conv1.safetensors"
    save_file({"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, str(path),
              metadata={"mean_bgr": "103.939,116.779,123.68"})
    with pytest.raises(BackboneUnavailableError, match=r"do not reach VGG19's .*conv4_4 or conv3_4"):
        build_backbone("vgg19", path)
    with pytest.raises(BackboneUnavailableError, match="conv2_2"):
        build_backbone("vgg19", path, layer="conv2_2")


@needs_vgg_file
def test_a_shallower_vgg_layer_is_cheaper_and_deeper_than_the_file_is_refused():
    shallow = build_backbone("vgg19", VGG_CAFFE_FILE, layer="conv2_2")
    assert (shallow.feature_layer, shallow.stride, shallow.out_channels) == ("conv2_2", 2, 128)
    full = build_backbone("vgg19", VGG_CAFFE_FILE)
    photo = _sample("coffee.jpg", 48)
    with torch.no_grad():  # the same weights: conv2_2 features are a prefix of the conv3_4 network
        assert torch.allclose(shallow(photo), full.layers[:8](full.preprocess(photo)), atol=1e-4)
    with pytest.raises(BackboneUnavailableError, match="conv4_4"):
        build_backbone("vgg19", VGG_CAFFE_FILE, layer="conv4_4")
    with pytest.raises(BackboneUnavailableError, match="vgg19 only"):
        build_backbone("efficientnet_lite0", layer="conv2_2")


def test_efficientnet_state_dict_maps_one_to_one_onto_timm():
    import timm

    source = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    renamed = efficientnet_lite0_timm_state()
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    assert list(renamed) == list(model.state_dict())  # no missing, no unexpected, same order
    result = model.load_state_dict(renamed, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(model.conv_stem.weight, source["_conv_stem.weight"])
    assert torch.equal(model.classifier.bias, source["_fc.bias"])


def test_efficientnet_classifies_sample_photos_deterministically():
    model = load_efficientnet_lite0_classifier()
    convention = EFFICIENTNET_LITE0_CONVENTION
    batch = torch.cat([_sample("chelsea.jpg", 224), _sample("coffee.jpg", 224)])
    mean, std = torch.tensor(convention.mean).view(1, 3, 1, 1), torch.tensor(convention.std).view(1, 3, 1, 1)
    x = ((batch + 1) / 2 - mean) / std
    with torch.no_grad():
        first, second = model(x), model(x)
    assert torch.equal(first, second)
    categories = VGG19_Weights.IMAGENET1K_V1.meta["categories"]
    assert [categories[i] for i in first.argmax(1).tolist()] == ["Egyptian cat", "espresso"]


def test_efficientnet_backbone_is_frozen_stride_8():
    backbone = build_backbone("efficientnet_lite0")
    assert (backbone.feature_layer, backbone.stride, backbone.out_channels) == ("blocks.2", 8, 40)
    _assert_frozen(backbone)
    assert backbone(torch.zeros(2, 3, 64, 48)).shape == (2, 40, 8, 6)
    assert backbone.describe()["convention"]["mean"] == pytest.approx((127 / 255,) * 3)


def test_missing_efficientnet_file_and_unknown_names_are_errors(tmp_path):
    with pytest.raises(BackboneUnavailableError, match="not found"):
        build_backbone("efficientnet_lite0", tmp_path / "nothing.pth")
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("resnet50")
