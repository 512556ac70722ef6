"""One frozen `TrainConfig` for a training run, read from a TOML file plus `key=value` overrides.

nanoGPT's flatness without its `exec`: every setting is a top-level field with a default, the CLI and the wizard both
produce this same object, and unknown keys or values of the wrong type are errors that name the key. Dotted keys
reach into the dict fields (`loss_weights.texture=2`, `region_weights.foreground.surface=0.5`). Relative paths are
relative to the working directory, as on a command line. `to_dict()` gives plain TOML/JSON-able values for
checkpoints and model provenance; `TrainConfig.from_dict(cfg.to_dict()) == cfg`.

The machinery is generic over frozen config dataclasses (the segmenter's config uses it too): `load_config` and
`apply_overrides` read and change any of them, `write_config_toml` is the one TOML writer (the wizard hands its run
to the trainer as such a file), and `resolve_config_file` finds the bundled presets in `trainer/configs/`.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence, TypeVar

from core.atomic_files import atomic_output

# the feature networks trainer.backbones builds, named here, where the GUI can read them without loading torchvision
BACKBONES = ("vgg19", "efficientnet_lite0")
BACKBONE_LAYERS = ("auto", "conv4_4", "conv3_4", "conv2_2")  # VGG19 feature layers; auto: the deepest available
PRECISIONS = ("auto", "fp32", "fp16", "bf16")  # auto: bf16/fp16 autocast on CUDA, fp32 elsewhere
NONE_WORDS = ("none", "null")  # how an override clears an optional field (TOML has no null)


class ConfigError(ValueError):
    """A config file or override that cannot become a TrainConfig; the message names the key and the problem."""


Config = TypeVar("Config")  # a frozen config dataclass: TrainConfig, trainer.segmenter_training's config


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; the defaults train the White-box generator from scratch on ./data."""

    # --- data ---------------------------------------------------------------------------------------------------
    photos_dir: Path = Path("data/photos")                  # searched recursively
    cartoons_dir: Path = Path("data/cartoons")              # searched recursively
    photo_masks_dir: Path | None = None                     # soft foreground masks, same relative name or stem
    cartoon_masks_dir: Path | None = None
    segmenter_path: Path | None = None                      # a trainer.semantic segmenter file
    crop_size: int = 256                                    # training crops are crop_size × crop_size
    batch_size: int = 16                                    # per process (DDP multiplies it by the world size)
    num_workers: int = 2                                    # DataLoader decoding processes per training process
    # --- schedule: pre-training, then the warm start, then adversarial training ---------------------------------
    pretrain_steps: int = 50_000                            # generator-only reconstruction steps
    warm_start_steps: int = 0                               # L1 toward algorithmic cartoon targets (instead of or
                                                            # after pre-training; see trainer.cartoon_target)
    adversarial_steps: int = 100_000                        # G + discriminator steps after the two above
    discriminator_warmup_steps: int = 0                     # the adversarial phase's first steps train only the Ds
    # --- cartoon targets (warm start and anchor) ----------------------------------------------------------------
    target_recipe: dict[str, float] = field(default_factory=dict)  # CartoonTargetRecipe parameters to change
    target_cache_dir: Path | None = None                    # None: <user data>/cache/cartoon-targets/<recipe key>
    warm_start_perceptual: float = 0.0                      # feature L1 to the target, × the content weight
    anchor_weight: float = 0.0                              # adversarial phase: L1 to the target, weight decaying
    anchor_decay_steps: int = 0                             # … linearly to 0 over this many steps (0: the phase)
    # --- optimiser ----------------------------------------------------------------------------------------------
    lr: float = 2e-4                                        # the generator's (and the discriminators' by default)
    lr_discriminator: float | None = None                   # None: lr
    warm_start_lr: float | None = None                      # G's rate in the warm start; None: lr
    adam_betas: tuple[float, float] = (0.5, 0.99)
    reset_optimizer_after_warm_start: bool = True           # the adversarial phase starts with fresh Adam moments
    ema_decay: float = 0.0                                  # EMA of G's weights (exported and sampled); 0: off
    # --- losses (names and defaults belong to trainer.losses; empty = its defaults) -----------------------------
    loss_weights: dict[str, float] = field(default_factory=dict)
    region_weights: dict[str, dict[str, float]] = field(default_factory=dict)
    # --- networks -----------------------------------------------------------------------------------------------
    base_model: str | None = None                           # engine model name or file to fine-tune; None: scratch
    generator_base_channels: int = 32                       # scratch only: a base model brings its own architecture
    generator_residual_blocks: int = 4
    discriminator_base_channels: int = 32
    discriminator_head_spectral_norm: bool = False          # also normalise the 1×1 scoring conv
    backbone: str = "vgg19"                                 # content-loss features: see BACKBONES
    backbone_weights: Path | None = None                    # None: the backbone's own default weights
    backbone_layer: str = "auto"                            # VGG19 layer: see BACKBONE_LAYERS (conv2_2 is cheapest)
    # --- cost levers --------------------------------------------------------------------------------------------
    freeze_discriminators_in_g_step: bool = True            # no D weight gradients while G learns (same maths)
    segmenter_every: int = 1                                # semantic terms on every k-th adversarial step
    superpixel_segments: int = 200                          # structure loss superpixels per 256² (scaled by area)
    threads: int = 0                                        # torch CPU threads; 0: torch's default
    # --- machine ------------------------------------------------------------------------------------------------
    device: str = "auto"                                    # as core.devices.resolve_device
    precision: str = "auto"                                 # see PRECISIONS
    seed: int = 0
    # --- run folder, logging, checkpoints -----------------------------------------------------------------------
    run_dir: Path = Path("runs/cartoon")
    resume: bool = False                                    # continue from run_dir's latest checkpoint
    log_every: int = 50                                     # steps between log lines
    sample_every: int = 1000                                # steps between sample images
    checkpoint_every: int = 2000                            # steps between training checkpoints
    keep_checkpoints: int = 3                               # the newest N are kept

    def __post_init__(self) -> None:
        positive = ("crop_size", "batch_size", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints",
                    "generator_base_channels", "discriminator_base_channels", "segmenter_every",
                    "superpixel_segments")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("num_workers", "pretrain_steps", "warm_start_steps", "adversarial_steps",
                     "generator_residual_blocks", "anchor_decay_steps", "threads",
                     "discriminator_warmup_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.crop_size % 8:
            raise ConfigError(f"crop_size must be a multiple of 8 (generator and discriminator strides), "
                              f"got {self.crop_size}")
        if self.discriminator_warmup_steps > self.adversarial_steps:
            raise ConfigError(f"discriminator_warmup_steps ({self.discriminator_warmup_steps}) is part of the "
                              f"adversarial phase and cannot exceed adversarial_steps ({self.adversarial_steps})")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        for name in ("lr_discriminator", "warm_start_lr"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        for name in ("warm_start_perceptual", "anchor_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.backbone_layer not in BACKBONE_LAYERS:
            raise ConfigError(f"backbone_layer must be one of {', '.join(BACKBONE_LAYERS)}, "
                              f"got {self.backbone_layer!r}")
        if not all(0.0 <= beta < 1.0 for beta in self.adam_betas):
            raise ConfigError(f"adam_betas must lie in [0, 1), got {list(self.adam_betas)}")
        if self.backbone not in BACKBONES:
            raise ConfigError(f"backbone must be one of {', '.join(BACKBONES)}, got {self.backbone!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def uses_cartoon_targets(self) -> bool:
        """Whether the photo stream must carry precomputed cartoon targets (warm start or anchor)."""
        return self.warm_start_steps > 0 or (self.anchor_weight > 0 and self.adversarial_steps > 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (str, int, float, bool, None, lists, dicts): safe for TOML, JSON and weights-only
        checkpoint loading."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """Check every key and type against the fields; a missing key keeps its default."""
        return config_from_dict(cls, data)


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain values (str, int, float, bool, None, lists, dicts)."""
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def config_from_dict(cls: type[Config], data: Mapping[str, Any]) -> Config:
    """`cls` from a dict whose every key and type is checked against the fields; a missing key keeps its default."""
    return cls(**_checked_fields(cls, data, prefix=""))


def read_toml_file(path: str | Path) -> dict[str, Any]:
    """A TOML config file as a dict; a missing or malformed file is a ConfigError with the reason."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}") from exc


def load_config(path: str | Path | None = None, overrides: Sequence[str] = (),
                cls: type[Config] = TrainConfig) -> Config:
    """A `cls` (TrainConfig by default) from an optional TOML file, then `key=value` overrides applied in order."""
    config = config_from_dict(cls, read_toml_file(path) if path is not None else {})
    return apply_overrides(config, overrides)


def apply_overrides(config: Config, overrides: Sequence[str]) -> Config:
    """`config` with each `key=value` applied; the value is read as TOML (`lr=1e-4`, `adam_betas=[0.5, 0.9]`),
    or as plain text where the field holds text (`device=cuda:1`, `run_dir=runs/a b`); `none` clears optional
    fields. Dotted keys set one entry of a dict field."""
    cls = type(config)
    data = config_to_dict(config)
    hints = typing.get_type_hints(cls)
    for override in overrides:
        key, sep, raw = override.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            raise ConfigError(f"override {override!r} is not of the form key=value")
        top, *rest = key.split(".")
        if top not in hints:
            raise ConfigError(_unknown_key_message(top, hints))
        hint = hints[top]
        for part in rest:
            if typing.get_origin(hint) is not dict:
                raise ConfigError(f"{key}: {'.'.join(key.split('.')[:-1])} is not a table, so it has no keys")
            hint = typing.get_args(hint)[1]
        value = _parse_override_value(raw, hint)
        target = data
        for part in [top, *rest][:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        target[[top, *rest][-1]] = value
    return config_from_dict(cls, data)


def write_config_toml(config: Any, path: str | Path, comment: str = "") -> Path:
    """The whole config as a TOML file (after `comment` as # lines), written atomically; `load_config(path,
    cls=type(config))` gives it back. Optional fields that are None are left out (TOML has no null; absent means
    the default, which is None)."""
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines += [f"{key} = {_toml_value(value)}" for key, value in config_to_dict(config).items() if value is not None]
    path = Path(path)
    with atomic_output(path) as temp:
        temp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- bundled presets ------------------------------------------------------------------------------------------------
def preset_names() -> list[str]:
    """The bundled presets in trainer/configs/, without their .toml suffix."""
    folder = importlib.resources.files("trainer") / "configs"
    return sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir() if entry.name.endswith(".toml"))


def resolve_config_file(name_or_path: str) -> Path:
    """An existing file wins; otherwise the bundled preset of that name (`finetune`, `train`, …)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    preset = importlib.resources.files("trainer") / "configs" / f"{name_or_path.removesuffix('.toml')}.toml"
    if preset.is_file():
        return Path(str(preset))
    raise ConfigError(f"--config {name_or_path}: neither a file nor a preset (presets: {', '.join(preset_names())})")


# --- type checking --------------------------------------------------------------------------------------------------
def _checked_fields(cls: type, data: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix or 'config'} must be a table, got {_type_name(data)}")
    hints = typing.get_type_hints(cls)
    unknown = [key for key in data if key not in hints]
    if unknown:
        raise ConfigError(_unknown_key_message(unknown[0], hints, prefix))
    return {key: _coerce(value, hints[key], f"{prefix}{key}") for key, value in data.items()}


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """`value` as the field type `hint`, or a ConfigError naming `key`. Ints widen to float, text to Path and lists
    to tuples; nothing else is converted (no bool from 0/1, no number from text)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [arg for arg in args if arg is not type(None)]
        errors = []
        for option in options:
            try:
                return _coerce(value, option, key)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif hint is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
    elif origin is tuple:
        if isinstance(value, (list, tuple)) and len(value) == len(args):
            return tuple(_coerce(item, arg, f"{key}[{i}]") for i, (item, arg) in enumerate(zip(value, args)))
        if isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must hold {len(args)} values, got {len(value)}")
    elif origin is dict:
        if isinstance(value, Mapping):
            key_type, value_type = args
            return {_coerce(k, key_type, key): _coerce(v, value_type, f"{key}.{k}") for k, v in value.items()}
    else:  # a type this module was not written for: a programming error, not a user one
        raise TypeError(f"{key}: unsupported field type {hint!r}")
    raise ConfigError(f"{key} must be {_hint_name(hint)}, got {_type_name(value)} {value!r}")


def _parse_override_value(raw: str, hint: Any) -> Any:
    if raw.lower() in NONE_WORDS and _is_optional(hint):
        return None
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw  # bare text: a device name, a path, a model name
    if not isinstance(value, str) and _accepts_text(hint):
        value = raw  # `base_model=2024` is the name "2024", not a number
    return value


def _is_optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def _accepts_text(hint: Any) -> bool:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_accepts_text(arg) for arg in typing.get_args(hint))
    return hint in (str, Path)


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _toml_value(value: Any) -> str:
    """TOML for the plain values `config_to_dict` gives: JSON strings are valid TOML basic strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {type(value).__name__}")


def _unknown_key_message(key: str, known: Mapping[str, Any], prefix: str = "") -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean {prefix}{close[0]!r}?)" if close else ""
    return f"unknown config key {prefix}{key!r}{hint}"


def _hint_name(hint: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "text", Path: "a path (text)"}
    if hint in names:
        return names[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        return f"a list of {len(args)} values"
    if origin is dict:
        return "a table"
    return str(hint)


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "text", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)
