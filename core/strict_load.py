"""Strict loading, shared by every file of weights this project reads (generator and segmenter files, training
checkpoints): the file must carry our format marker and a version this build reads, and every weight must fit the
network, by name and shape. Failures are one short reason a person reads, raised as the caller's error type;
nothing is ever loaded with `strict=False`."""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

import torch
from torch import nn


def check_format(data: Any, name: str, version: int, what: str, error: type[Exception], origin: str = "") -> None:
    """`data` (a file's metadata dict, or a checkpoint dict) must say `format: name` and `format_version: version`;
    otherwise `error` names `what` the file should have been (and `origin`, the file, when given)."""
    prefix = f"{origin}: " if origin else ""
    if not isinstance(data, Mapping) or data.get("format") != name:
        raise error(f"{prefix}not a {what} (no {name!r} format marker)")
    found = data.get("format_version")
    if found != version:
        raise error(f"{prefix}{what} format version {found} is not supported (this build reads {version})")


def format_json(fields: Mapping[str, Any], name: str, version: int) -> str:
    """A metadata dict as the JSON our files carry: the fields plus the format marker and version."""
    return json.dumps({**fields, "format": name, "format_version": version}, sort_keys=True)


def parse_format_json(text: str, name: str, version: int, what: str, error: type[Exception],
                      field_names: Iterable[str]) -> dict[str, Any]:
    """The fields of `format_json` text, after checking the marker, the version and that every key is one of
    `field_names`; `error` says what is wrong, naming `what` the file should have been."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what} metadata is not JSON ({exc})") from exc
    check_format(data, name, version, what, error)
    fields = {key: value for key, value in data.items() if key not in ("format", "format_version")}
    unknown = sorted(set(fields) - set(field_names))
    if unknown:
        raise error(f"unknown metadata keys in {what}: {unknown}")
    return fields


def weights_mismatch(expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]) -> str | None:
    """What keeps `state` from loading into a network whose state dict is `expected` (the first few missing,
    unexpected and wrongly shaped keys), or None when it fits exactly."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if not (missing or unexpected or wrong_shape):
        return None
    return f"missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong_shape[:3]}"


def load_weights_strictly(module: nn.Module, state: Mapping[str, torch.Tensor], origin: str,
                          error: type[Exception]) -> None:
    """Load `state` into `module` only if every key and shape fits; else `error` with a readable message instead of
    PyTorch's wall of key names, naming `origin` (the file or network)."""
    problem = weights_mismatch(module.state_dict(), state)
    if problem is not None:
        raise error(f"{origin}: weights do not match the architecture ({problem})")
    module.load_state_dict(state, strict=True)
