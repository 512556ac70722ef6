"""Self-describing generator files: safetensors weights plus the metadata needed to use them correctly.

A model file carries its architecture and config, its input convention (channel order, value range, padding
multiple), its guided-filter parameters and a card (display name, description, licence, provenance). Loading never
unpickles: safetensors only here; `.pt/.pth` state dicts are accepted by the importer in `core.model_registry`
through `torch.load(weights_only=True)`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from core.atomic_files import atomic_output
from core.generator import GeneratorConfig, UNetGenerator
from core.strict_load import format_json, load_weights_strictly, parse_format_json

FORMAT_NAME = "cartoonizer-generator"
FORMAT_VERSION = 1
METADATA_KEY = "cartoonizer"
ARCHITECTURES = {"UNetGenerator": UNetGenerator}


class ModelFileError(Exception):
    """A model file that cannot be used: wrong format, unknown version, mismatched weights."""


@dataclass(frozen=True)
class InputConvention:
    """How pixels must be presented to the generator (and how its output is read back)."""

    channel_order: str = "RGB"  # "RGB" or "BGR"
    value_range: tuple[float, float] = (-1.0, 1.0)
    pad_multiple: int = UNetGenerator.pad_multiple


@dataclass(frozen=True)
class ModelMetadata:
    """Everything in a model file besides the weights."""

    display_name: str
    architecture: str = "UNetGenerator"
    config: GeneratorConfig = GeneratorConfig()
    convention: InputConvention = InputConvention()
    guided_filter_radius: int = 1
    guided_filter_eps: float = 5e-3
    description: str = ""
    license: str = "unknown"
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return format_json(asdict(self), FORMAT_NAME, FORMAT_VERSION)

    @classmethod
    def from_json(cls, text: str) -> "ModelMetadata":
        data = parse_format_json(text, FORMAT_NAME, FORMAT_VERSION, "cartoonizer generator file", ModelFileError,
                                 cls.__dataclass_fields__)
        architecture = data.get("architecture", "UNetGenerator")
        if architecture not in ARCHITECTURES:
            raise ModelFileError(f"unknown architecture {architecture!r} in its metadata "
                                 f"(this build knows {', '.join(sorted(ARCHITECTURES))})")
        try:
            convention = dict(data.get("convention", {}))
            if "value_range" in convention:
                convention["value_range"] = tuple(convention["value_range"])
            data["convention"] = InputConvention(**convention)
            data["config"] = GeneratorConfig.from_dict(data.get("config", {}))
            return cls(**data)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ModelFileError(f"invalid metadata ({exc.__class__.__name__}: {exc})") from exc


@dataclass
class CartoonModel:
    """A loaded generator together with its metadata; `source` is the file it came from, if any."""

    generator: UNetGenerator
    metadata: ModelMetadata
    source: Path | None = None

    def __post_init__(self) -> None:
        # the network itself is the truth about its architecture; keep the metadata in step with it
        if self.metadata.config != self.generator.config:
            self.metadata = replace(self.metadata, config=self.generator.config)

    @property
    def name(self) -> str:
        return self.source.stem if self.source else self.metadata.display_name


def save_model(path: str | Path, generator: UNetGenerator, metadata: ModelMetadata, half: bool = True) -> Path:
    """Write generator weights and metadata atomically; `half` stores fp16 weights (half the size, same outputs
    within fp16 rounding)."""
    path = Path(path)
    if metadata.architecture not in ARCHITECTURES:
        raise ModelFileError(f"unknown architecture {metadata.architecture!r}")
    metadata = replace(metadata, config=generator.config)
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in generator.state_dict().items()}
    with atomic_output(path) as temp:
        save_file(tensors, str(temp), metadata={METADATA_KEY: metadata.to_json()})
    return path


def read_metadata_json(path: str | Path) -> str:
    """The JSON text this project keeps in a safetensors header (generators and segmenters alike), read without
    loading any weights; ModelFileError if the file is unreadable or carries none."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(METADATA_KEY)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path.name}: not a readable safetensors file ({exc})") from exc
    if raw is None:
        raise ModelFileError(f"{path.name}: safetensors file without cartoonizer metadata")
    return raw


def read_metadata(path: str | Path) -> ModelMetadata:
    """Read only the metadata (cheap: no weights are loaded); used to list models. Errors name the file."""
    raw = read_metadata_json(path)
    try:
        return ModelMetadata.from_json(raw)
    except ModelFileError as exc:
        raise ModelFileError(f"{Path(path)}: {exc}") from None


def load_model_file(path: str | Path) -> CartoonModel:
    """Rebuild the generator from its stored config and load its weights strictly (float32, CPU, eval mode)."""
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise ModelFileError(
            f"{path.name}: model files are .safetensors; import other formats first "
            "(`cartoonize --import-model FILE --name NAME`, or `--import-whitebox` for White-box .tflite files)"
        )
    metadata = read_metadata(path)
    try:
        generator = ARCHITECTURES[metadata.architecture](metadata.config)
        state = {k: v.float() for k, v in load_file(str(path)).items()}
    except (SafetensorError, OSError, ValueError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: cannot be loaded ({exc.__class__.__name__}: {exc})") from exc
    load_generator_weights(generator, state, path.name)
    return CartoonModel(generator.eval(), metadata, path)


def load_generator_weights(generator: UNetGenerator, state: dict[str, torch.Tensor], origin: str) -> None:
    """Strict load (`core.strict_load`); ModelFileError naming `origin` when the weights do not fit."""
    load_weights_strictly(generator, state, origin, ModelFileError)
