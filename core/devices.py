"""Device choice: what the machine offers, what the user asked for, and how much memory a job may use there."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import torch

CPU_ACTIVATION_BUDGET_BYTES = 1 << 30  # keeps a 6000×4000 photo under ~3 GB of process memory
AUTO = "auto"                          # the device spec that lets the machine choose (see `auto_device`)
AUTO_ORDER = ("cuda", "mps", "cpu")    # device kinds, most preferred first


class DeviceError(Exception):
    """The requested device does not exist or cannot be used; never silently replaced by another."""


@dataclass(frozen=True)
class DeviceInfo:
    """One choice for the user: `spec` is what --device takes, `name` what a person reads."""

    spec: str
    name: str
    kind: str  # "cpu", "cuda" or "mps"
    total_memory_bytes: int | None = None

    @property
    def label(self) -> str:
        if self.total_memory_bytes:
            return f"{self.name} ({self.total_memory_bytes / 2**30:.1f} GB)"
        return self.name


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def list_devices() -> list[DeviceInfo]:
    """CPU first, then each CUDA GPU by name and memory, then Apple MPS where present."""
    cores = os.cpu_count() or 1
    devices = [DeviceInfo("cpu", f"CPU ({cores} threads)", "cpu", _system_memory_bytes())]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            devices.append(DeviceInfo(f"cuda:{index}", props.name, "cuda", props.total_memory))
    if _mps_available():
        devices.append(DeviceInfo("mps", "Apple GPU (MPS)", "mps"))
    return devices


def auto_device(devices: Sequence[DeviceInfo] | None = None) -> DeviceInfo | None:
    """The device `auto` stands for: the first CUDA GPU, else Apple MPS, else the CPU, among `devices` (default:
    this machine's, `list_devices()`); None if `devices` holds none of them. The one statement of the rule."""
    devices = list_devices() if devices is None else devices
    for kind in AUTO_ORDER:
        match = next((device for device in devices if device.kind == kind), None)
        if match is not None:
            return match
    return None


def resolve_device(spec: str = AUTO) -> torch.device:
    """`auto` (CUDA, then MPS, then CPU), `cpu`, `cuda`, `cuda:N` or `mps`; an unavailable choice is an error."""
    spec = spec.strip().lower()
    if spec == AUTO:
        return torch.device(auto_device().spec)
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available():
            raise DeviceError("Apple MPS was requested but is not available on this machine")
        return torch.device("mps")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(f"{spec} was requested but CUDA is not available (no NVIDIA GPU or driver, "
                              "or a CPU-only PyTorch build); use --device cpu")
        index = int(spec.split(":", 1)[1]) if ":" in spec else 0
        if not 0 <= index < torch.cuda.device_count():
            raise DeviceError(f"{spec} was requested but this machine has {torch.cuda.device_count()} CUDA device(s)")
        return torch.device("cuda", index)
    raise DeviceError(f"unknown device {spec!r}: use auto, cpu, cuda, cuda:N or mps")


def inference_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """fp16 on CUDA by default (the engine falls back to fp32 if a result is not finite); fp32 elsewhere."""
    if precision == "fp32":
        return torch.float32
    if precision == "fp16" or (precision == "auto" and device.type == "cuda"):
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    return torch.float32


def activation_budget_bytes(device: torch.device) -> int:
    """Memory one tile's activations may take: a fixed share on CPU, part of the free memory on a GPU."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * 0.5)
    return CPU_ACTIVATION_BUDGET_BYTES


def set_cpu_threads(threads: int | None) -> None:
    """Intra-op threads for CPU inference; None keeps PyTorch's default (one per core)."""
    if threads:
        torch.set_num_threads(max(1, threads))


def _system_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
