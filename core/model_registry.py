"""Where models live and how they are found by name: bundled ones in `resources/models/`, the user's in the
platformdirs user data folder (override with the CARTOONIZER_DATA_DIR environment variable).

`load_model(name_or_path)` is the one call everything else uses.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import torch

from core.generator import GeneratorConfig, UNetGenerator
from core.resource_paths import resources_dir
from core.model_file import (
    CartoonModel,
    ModelFileError,
    ModelMetadata,
    load_generator_weights,
    load_model_file,
    read_metadata,
    save_model,
)

APP_NAME = "cartoonizer"
MODEL_SUFFIX = ".safetensors"
DEFAULT_MODEL_MARKER = "default"  # a bundled model whose provenance has {"default": true} is the default
_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def is_valid_model_name(name: str) -> bool:
    """Whether `name` may name a user model (it becomes a file name): letters, digits, '.', '_' or '-', starting
    with a letter or digit, at most 64 characters."""
    return bool(_VALID_NAME.match(name))


@dataclass(frozen=True)
class ModelEntry:
    """One model the registry knows: its name, file, whether it ships with the app, and its metadata."""

    name: str
    path: Path
    bundled: bool
    metadata: ModelMetadata


def user_data_dir() -> Path:
    override = os.environ.get("CARTOONIZER_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_models_dir() -> Path:
    return user_data_dir() / "models"


def bundled_models_dir() -> Path:
    return resources_dir() / "models"


@dataclass(frozen=True)
class BrokenModel:
    """A model file in a model folder that cannot be used, and why."""

    path: Path
    bundled: bool
    reason: str


def list_broken_models() -> list[BrokenModel]:
    """The files `list_models` leaves out because they cannot be read, with the reason (for --list-models)."""
    broken: list[BrokenModel] = []
    for folder, bundled in ((bundled_models_dir(), True), (user_models_dir(), False)):
        for path in sorted(folder.glob(f"*{MODEL_SUFFIX}")) if folder.is_dir() else []:
            try:
                read_metadata(path)
            except ModelFileError as exc:
                broken.append(BrokenModel(path, bundled, str(exc)))
    return broken


def list_models() -> list[ModelEntry]:
    """Bundled models first, then the user's; unreadable files are left out here (they cannot be chosen) and listed
    by `list_broken_models`."""
    entries: list[ModelEntry] = []
    for folder, bundled in ((bundled_models_dir(), True), (user_models_dir(), False)):
        for path in sorted(folder.glob(f"*{MODEL_SUFFIX}")) if folder.is_dir() else []:
            try:
                entries.append(ModelEntry(path.stem, path, bundled, read_metadata(path)))
            except ModelFileError:
                continue
    return entries


def default_model_name() -> str | None:
    """The bundled model marked as default, else the first bundled one, else None (nothing to run yet)."""
    bundled = [e for e in list_models() if e.bundled]
    for entry in bundled:
        if entry.metadata.provenance.get(DEFAULT_MODEL_MARKER):
            return entry.name
    return bundled[0].name if bundled else None


def resolve_model_path(name_or_path: str | Path) -> Path:
    """A path to an existing file wins; otherwise look the name up among the user's models, then the bundled ones."""
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate
    for entry in sorted(list_models(), key=lambda e: e.bundled):  # user models shadow bundled ones
        if entry.name == str(name_or_path):
            return entry.path
    for broken in list_broken_models():
        if broken.path.stem == str(name_or_path):
            raise ModelFileError(broken.reason)
    known = ", ".join(e.name for e in list_models()) or "none yet"
    raise ModelFileError(f"no model named or at {str(name_or_path)!r} (known models: {known})")


def load_model(name_or_path: str | Path) -> CartoonModel:
    """Load a model by registered name or by path to a .safetensors model file."""
    return load_model_file(resolve_model_path(name_or_path))


def import_model(source: str | Path, name: str, display_name: str | None = None, replace: bool = False) -> ModelEntry:
    """Convert a model file into the user's model folder under `name`.

    Accepts our .safetensors files, `.pt/.pth` generator state dicts (read with `weights_only=True`, never
    unpickled) and White-box `.tflite` files. Anything else is refused with a reason.
    """
    source = Path(source).expanduser()
    if not is_valid_model_name(name):
        raise ModelFileError(f"invalid model name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    if not source.is_file():
        raise ModelFileError(f"{source}: no such file")
    destination = user_models_dir() / f"{name}{MODEL_SUFFIX}"
    if destination.exists() and not replace:
        raise ModelFileError(f"a user model named {name!r} already exists; remove it first or choose another name")

    suffix = source.suffix.lower()
    if suffix == MODEL_SUFFIX:
        model = load_model_file(source)
        generator, metadata = model.generator, model.metadata
    elif suffix in (".pt", ".pth"):
        generator, metadata = _generator_from_state_dict_file(source)
    elif suffix == ".tflite":
        from core.whitebox_import import whitebox_metadata, load_whitebox_tflite

        generator, metadata = load_whitebox_tflite(source), whitebox_metadata(source)
    else:
        raise ModelFileError(f"{source.name}: unsupported model format {suffix or '(none)'}; "
                             "expected .safetensors, .pt/.pth (state dict) or .tflite (White-box)")
    if display_name:
        metadata = ModelMetadata(**{**metadata.__dict__, "display_name": display_name})
    save_model(destination, generator, metadata)
    return ModelEntry(name, destination, False, read_metadata(destination))


def remove_model(name: str) -> None:
    """Delete a user model; bundled models cannot be removed."""
    path = user_models_dir() / f"{name}{MODEL_SUFFIX}"
    if not path.is_file():
        bundled = any(e.name == name and e.bundled for e in list_models())
        reason = "it is bundled with the application" if bundled else "there is no user model of that name"
        raise ModelFileError(f"cannot remove {name!r}: {reason}")
    path.unlink()


def _generator_from_state_dict_file(path: Path) -> tuple[UNetGenerator, ModelMetadata]:
    """A bare PyTorch state dict of our architecture; width and block count are read from the tensor shapes."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for non-weights content
        raise ModelFileError(f"{path.name}: not a weights-only PyTorch file ({exc.__class__.__name__})") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or "stem.weight" not in state:
        raise ModelFileError(f"{path.name}: not a state dict of this project's generator (no 'stem.weight')")
    blocks = {k.split(".")[1] for k in state if k.startswith("blocks.")}
    config = GeneratorConfig(base_channels=int(state["stem.weight"].shape[0]), num_residual_blocks=len(blocks))
    generator = UNetGenerator(config)
    load_generator_weights(generator, {k: v.float() for k, v in state.items()}, path.name)
    metadata = ModelMetadata(display_name=path.stem, provenance={"imported_from": path.name, "format": "state dict"})
    return generator.eval(), metadata
