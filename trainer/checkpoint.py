"""Training checkpoints: everything needed to continue a run exactly, written atomically, the newest N kept.

A checkpoint is one dict (nanoGPT's shape) saved with `torch.save` and read back with `torch.load(weights_only=True)`,
so it holds only tensors and plain values: network and optimiser states, the AMP scaler, the step, the config dict,
the architecture of every network, the Python/NumPy/PyTorch(/CUDA) RNG states, the data streams' positions, the
metrics history and anything else the loop adds under "extra". It is not a released generator (that is
`core.model_file.save_model`). Files sit in `<run_dir>/checkpoints/` as `step_00001000.pt`, beside a `latest` file
naming the newest; each is written to a temporary file, synced and renamed, so a crash leaves the previous one intact.
"""
from __future__ import annotations

import logging
import os
import pickle
import random
import re
import sys
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from core.atomic_files import atomic_output, remove_stale_partials
from core.strict_load import check_format, load_weights_strictly

log = logging.getLogger(__name__)

FORMAT_NAME = "cartoonizer-training-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_FOLDER = "checkpoints"
LATEST_POINTER = "latest"
_CHECKPOINT_NAME = re.compile(r"^step_(\d+)\.pt$")


class CheckpointError(Exception):
    """A checkpoint that cannot be written, read or resumed from; the message says why."""


class ArchitectureMismatch(CheckpointError):
    """The run's networks are not the ones the checkpoint was saved from."""


# --- RNG ------------------------------------------------------------------------------------------------------------
def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy (legacy global) and PyTorch CPU RNG states, plus every CUDA device's, as tensors and plain
    values (NumPy's key array becomes an int64 tensor; Python's state stays a tuple of ints)."""
    version, internal, gauss_next = random.getstate()
    _name, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {"version": version, "internal": tuple(internal), "gauss_next": gauss_next},
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Put back what `capture_rng_state` returned, so the next random numbers are the ones the saved run would
    have drawn. CUDA states are restored where this machine has CUDA (a GPU run may be resumed on the CPU)."""
    python = state["python"]
    random.setstate((int(python["version"]), tuple(int(v) for v in python["internal"]), python["gauss_next"]))
    numpy = state["numpy"]
    np.random.set_state(("MT19937", numpy["keys"].cpu().numpy().astype(np.uint32), int(numpy["position"]),
                         int(numpy["has_gauss"]), float(numpy["cached_gaussian"])))
    torch.set_rng_state(state["torch"].cpu())
    cuda_states = state.get("cuda")
    if cuda_states and torch.cuda.is_available():
        count = torch.cuda.device_count()
        if count != len(cuda_states):
            log.warning("checkpoint holds RNG states for %d CUDA devices, this machine has %d", len(cuda_states),
                        count)
        for index, device_state in enumerate(cuda_states[:count]):
            torch.cuda.set_rng_state(device_state.cpu(), index)
    elif cuda_states:
        log.warning("checkpoint holds CUDA RNG states but CUDA is not available: they are not restored")


# --- architecture ---------------------------------------------------------------------------------------------------
@runtime_checkable
class ArchitectureConfig(Protocol):
    """A network's `config`: its constructor's arguments, as the generator's and discriminators' config dataclasses
    record them."""

    def to_dict(self) -> dict[str, Any]: ...


def unwrap(module: nn.Module) -> nn.Module:
    """The network inside DistributedDataParallel and torch.compile wrappers (whose state-dict keys are prefixed)."""
    while True:
        if isinstance(module, nn.parallel.DistributedDataParallel | nn.DataParallel):
            module = module.module
        elif isinstance(module, _compiled_module_types()):
            module = module._orig_mod
        else:
            return module


def _compiled_module_types() -> tuple[type, ...]:
    """torch.compile's wrapper class, once torch.compile has been loaded: no module can be wrapped before, and
    importing it just to look takes seconds."""
    eval_frame = sys.modules.get("torch._dynamo.eval_frame")
    return (eval_frame.OptimizedModule,) if eval_frame is not None else ()


def architecture_of(models: Mapping[str, nn.Module]) -> dict[str, dict[str, Any]]:
    """Per network: its class name and config (`module.config.to_dict()`), or its parameter shapes when it has no
    config. Equal dicts mean the states can be exchanged."""
    described: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        model = unwrap(model)
        config = getattr(model, "config", None)
        if isinstance(config, ArchitectureConfig):
            described[name] = {"class": type(model).__name__, **config.to_dict()}
        else:
            described[name] = {"class": type(model).__name__,
                               **{key: list(value.shape) for key, value in model.state_dict().items()}}
    return described


def check_architecture(stored: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise ArchitectureMismatch listing every difference between a checkpoint's networks and this run's."""
    differences = []
    for name in sorted(set(stored) | set(current)):
        if name not in current:
            differences.append(f"{name}: in the checkpoint, not built by this run")
        elif name not in stored:
            differences.append(f"{name}: built by this run, not in the checkpoint")
        else:
            for key in sorted(set(stored[name]) | set(current[name])):
                before, now = stored[name].get(key, "(absent)"), current[name].get(key, "(absent)")
                if before != now:
                    differences.append(f"{name}.{key}: checkpoint {before!r}, this run {now!r}")
    if differences:
        raise ArchitectureMismatch("the checkpoint was saved from different networks than this run builds:\n  "
                                   + "\n  ".join(differences)
                                   + "\nset the architecture back to the checkpoint's, or train in a new run folder")


# --- files ----------------------------------------------------------------------------------------------------------
def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_FOLDER


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's checkpoint files, oldest step first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if _CHECKPOINT_NAME.match(path.name)]
    return sorted(found, key=_step_of)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The file the `latest` pointer names; without a pointer the highest step; None for a run with none."""
    folder = checkpoint_dir(run_dir)
    pointer = folder / LATEST_POINTER
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        path = folder / name
        if not _CHECKPOINT_NAME.match(name) or not path.is_file():
            raise CheckpointError(f"{pointer} names {name!r}, which is not a checkpoint in {folder}")
        return path
    found = list_checkpoints(run_dir)
    if found:
        log.warning("%s has no %r pointer; using the highest step, %s", folder, LATEST_POINTER, found[-1].name)
    return found[-1] if found else None


def save_checkpoint(run_dir: str | Path, step: int, *, models: Mapping[str, nn.Module],
                    optimizers: Mapping[str, torch.optim.Optimizer], scaler: torch.amp.GradScaler | None = None,
                    config: Mapping[str, Any], data_state: Mapping[str, Any] | None = None,
                    metrics: list[Mapping[str, Any]] | None = None, extra: Mapping[str, Any] | None = None,
                    keep: int = 3) -> Path:
    """Write `step_<step>.pt` atomically, point `latest` at it, then delete all but the newest `keep`.

    Captures the RNG states itself (call it where the loop would draw its next random numbers). `config`,
    `data_state`, `metrics` and `extra` must be plain values (NumPy scalars are converted); anything else is
    refused here rather than becoming a file that weights-only loading rejects."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    checkpoint = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "step": int(step),
        "config": _plain_tree(dict(config), "config"),
        "architecture": architecture_of(models),
        "models": {name: unwrap(model).state_dict() for name, model in models.items()},
        "optimizers": {name: optimizer.state_dict() for name, optimizer in optimizers.items()},
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": capture_rng_state(),
        "data": _plain_tree(dict(data_state or {}), "data_state"),
        "metrics": _plain_tree(list(metrics or []), "metrics"),
        "extra": _plain_tree(dict(extra or {}), "extra"),
    }
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(folder)
    path = folder / f"step_{int(step):08d}.pt"
    with atomic_output(path) as temp, open(temp, "wb") as handle:
        torch.save(checkpoint, handle)
        handle.flush()
        os.fsync(handle.fileno())
    with atomic_output(folder / LATEST_POINTER) as temp:
        temp.write_text(path.name + "\n", encoding="utf-8")
    for old in list_checkpoints(run_dir)[:-keep]:
        if old != path:
            old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with `weights_only=True` (tensors and plain values only: nothing is unpickled that could
    run code) and check its format."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError as exc:
        raise CheckpointError(f"checkpoint {path} not found") from exc
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path.name} holds objects other than tensors and plain values, so it is not "
                              f"loaded ({str(exc).splitlines()[0]})") from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{path.name} is not a readable checkpoint ({exc})") from exc
    check_format(checkpoint, FORMAT_NAME, FORMAT_VERSION, "cartoonizer training checkpoint", CheckpointError,
                 path.name)
    return checkpoint


def restore_training_state(checkpoint: Mapping[str, Any], *, models: Mapping[str, nn.Module],
                           optimizers: Mapping[str, torch.optim.Optimizer],
                           scaler: torch.amp.GradScaler | None = None) -> None:
    """Load networks (strictly), optimisers and scaler from a checkpoint, after checking the architecture.

    RNG states are not touched: call `restore_rng_state(checkpoint["rng"])` last, once everything that draws
    random numbers while being built (network init, data streams) exists. Step, data and metrics are read from
    the dict by the caller."""
    check_architecture(checkpoint["architecture"], architecture_of(models))
    for name, model in models.items():
        load_weights_strictly(unwrap(model), checkpoint["models"][name], f"checkpoint network {name!r}",
                              ArchitectureMismatch)
    missing = sorted(set(optimizers) - set(checkpoint["optimizers"]))
    if missing:
        raise CheckpointError(f"the checkpoint has no state for optimiser(s) {missing} "
                              f"(it has {sorted(checkpoint['optimizers'])})")
    for name, optimizer in optimizers.items():
        try:
            optimizer.load_state_dict(checkpoint["optimizers"][name])
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"optimiser {name!r} does not match the checkpoint's ({exc})") from exc
    if scaler is not None and checkpoint.get("scaler"):
        scaler.load_state_dict(checkpoint["scaler"])


def _step_of(path: Path) -> int:
    return int(_CHECKPOINT_NAME.match(path.name).group(1))


def _plain_tree(value: Any, where: str) -> Any:
    """`value` with NumPy scalars made Python numbers; a TypeError for anything weights-only loading refuses."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: key {key!r} is not text or an integer")
        return {key: _plain_tree(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_plain_tree(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    raise TypeError(f"{where}: {type(value).__name__} cannot go into a weights-only checkpoint; "
                    "store tensors, numbers, text, lists or dicts")
