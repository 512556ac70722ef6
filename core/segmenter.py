"""The semantic segmenter at inference time: its file format, strict loading and soft region masks.

A segmenter file is safetensors plus JSON metadata (smp architecture, encoder, smp kwargs, region names, input
convention, provenance). Loading never unpickles and is strict: every weight must fit the rebuilt network. The engine
uses the bundled `semantic-lite0` file for region strength (`core.region_strength`); `trainer.semantic` builds, trains
and saves segmenters on top of this module.

Masks are a softmax over the regions: regions partition the image (every pixel belongs to exactly one, "background"
being the rest). At least two regions are required.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from core.model_file import ModelFileError, read_metadata_json
from core.resource_paths import resources_dir
from core.strict_load import format_json, load_weights_strictly, parse_format_json

FORMAT_NAME = "cartoonizer-segmenter"
FORMAT_VERSION = 1
DEFAULT_REGIONS = ("background", "foreground")
DEFAULT_ARCHITECTURE = "Unet"
DEFAULT_ENCODER = "tu-tf_efficientnet_lite0"
MASK_ACTIVATION = "softmax"
BUNDLED_SEGMENTER = "semantic-lite0"


class SegmenterFileError(Exception):
    """A segmenter file that cannot be used: wrong format, unknown version, mismatched weights."""


@dataclass(frozen=True)
class PixelConvention:
    """What pretrained weights expect (a segmenter's encoder, the trainer's feature backbones): channels in
    `channel_order`, each mapped (x01 − mean) / std, x01 the 0..1 value; `mean` and `std` in 0..1 units and in
    `channel_order`; `source` says where the numbers come from."""

    channel_order: str  # "RGB" or "BGR"
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    source: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(self.mean))   # lists read from JSON or file metadata
        object.__setattr__(self, "std", tuple(self.std))

    def to_dict(self) -> dict:
        return asdict(self)


# EfficientNet-Lite's reference preprocessing (x·255 − 127) / 128, the default encoder's
DEFAULT_CONVENTION = PixelConvention("RGB", (127 / 255.0,) * 3, (128 / 255.0,) * 3,
                                     "EfficientNet-Lite reference preprocessing (x·255 − 127) / 128")


@dataclass(frozen=True)
class SegmenterMetadata:
    """Everything in a segmenter file besides the weights; enough to rebuild the network with smp."""

    regions: tuple[str, ...] = DEFAULT_REGIONS
    architecture: str = DEFAULT_ARCHITECTURE  # smp class name, e.g. "Unet", "FPN", "DeepLabV3Plus"
    encoder: str = DEFAULT_ENCODER
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # further smp constructor arguments
    convention: PixelConvention = DEFAULT_CONVENTION
    mask_activation: str = MASK_ACTIVATION
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        regions = tuple(self.regions)
        if len(regions) < 2 or len(set(regions)) != len(regions) or not all(isinstance(r, str) and r for r in regions):
            raise ValueError(f"regions must be at least two distinct non-empty names, got {list(regions)}")
        object.__setattr__(self, "regions", regions)
        if self.mask_activation != MASK_ACTIVATION:
            raise ValueError(f"mask activation {self.mask_activation!r} is not supported (only {MASK_ACTIVATION!r})")
        if self.convention.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"unknown channel order {self.convention.channel_order!r}")

    def to_json(self) -> str:
        return format_json(asdict(self), FORMAT_NAME, FORMAT_VERSION)

    @classmethod
    def from_json(cls, text: str) -> "SegmenterMetadata":
        data = parse_format_json(text, FORMAT_NAME, FORMAT_VERSION, "cartoonizer segmenter file", SegmenterFileError,
                                 cls.__dataclass_fields__)
        try:
            convention = dict(data.get("convention", {}))
            for key in ("mean", "std"):
                if key in convention:
                    convention[key] = tuple(convention[key])
            data["convention"] = PixelConvention(**convention)
            data["regions"] = tuple(data.get("regions", DEFAULT_REGIONS))
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise SegmenterFileError(f"invalid segmenter metadata ({exc})") from exc


class SemanticSegmenter(nn.Module):
    """Images (N, 3, H, W) RGB in [-1, 1], any H and W → region logits (N, R, H, W), R = len(regions).

    The input is converted to the encoder's convention and reflect-padded to the network's size multiple inside.
    """

    def __init__(self, network: nn.Module, metadata: SegmenterMetadata):
        super().__init__()
        self.network = network
        self.metadata = metadata
        self.pad_multiple = 2 ** int(metadata.model_kwargs.get("encoder_depth", 5))
        self.register_buffer("mean", torch.tensor(metadata.convention.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(metadata.convention.std).view(1, 3, 1, 1), persistent=False)

    @property
    def regions(self) -> tuple[str, ...]:
        return self.metadata.regions

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x01 = (images + 1.0) * 0.5
        if self.metadata.convention.channel_order == "BGR":
            x01 = x01.flip(1)
        x = (x01 - self.mean.to(x01.dtype)) / self.std.to(x01.dtype)  # (N, 3, H, W)
        h, w = x.shape[-2:]
        pad_h, pad_w = -h % self.pad_multiple, -w % self.pad_multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if max(pad_h, pad_w) < min(h, w) else "replicate")
        return self.network(x)[..., :h, :w]  # (N, R, H, W)

    def region_masks(self, images: torch.Tensor) -> torch.Tensor:
        """Soft masks (N, R, H, W) in [0, 1] that sum to 1 over the regions at every pixel."""
        return self(images).softmax(1)

    def region_index(self, name: str) -> int:
        """The channel of region `name` in `region_masks`; SegmenterFileError if the file has no such region."""
        if name not in self.regions:
            raise SegmenterFileError(f"the segmenter has no {name!r} region (it knows {', '.join(self.regions)})")
        return self.regions.index(name)

    def freeze(self) -> "SemanticSegmenter":
        """Eval mode, no weight gradients: the loss networks' state (gradients still reach the input)."""
        self.requires_grad_(False)
        return self.eval()


def create_network(metadata: SegmenterMetadata) -> nn.Module:
    """The bare smp network the metadata describes, with random weights (smp is asked for none: no download)."""
    import segmentation_models_pytorch as smp  # imported here: it pulls in timm, slow to import

    try:
        return smp.create_model(metadata.architecture, encoder_name=metadata.encoder, encoder_weights=None,
                                classes=len(metadata.regions), **metadata.model_kwargs)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise SegmenterFileError(f"cannot build a {metadata.architecture!r} segmenter with encoder "
                                 f"{metadata.encoder!r} ({exc})") from exc


def read_segmenter_metadata(path: str | Path) -> SegmenterMetadata:
    """Only the metadata (cheap: no weights are read)."""
    try:
        raw = read_metadata_json(path)
    except ModelFileError as exc:
        raise SegmenterFileError(str(exc)) from exc
    return SegmenterMetadata.from_json(raw)


def load_segmenter(path: str | Path, frozen: bool = True) -> SemanticSegmenter:
    """Rebuild from the stored metadata and load strictly (CPU, float32, eval); `frozen` also stops weight grads."""
    path = Path(path)
    metadata = read_segmenter_metadata(path)
    segmenter = SemanticSegmenter(create_network(metadata), metadata)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    load_weights_strictly(segmenter.network, state, path.name, SegmenterFileError)
    segmenter.eval()
    return segmenter.freeze() if frozen else segmenter


def bundled_segmenter_path() -> Path:
    """The segmenter shipped with the application (`resources/models/segmenters/semantic-lite0.safetensors`)."""
    return resources_dir() / "models" / "segmenters" / f"{BUNDLED_SEGMENTER}.safetensors"
