from __future__ import annotations

import pytest
import torch

from core.devices import DeviceError, DeviceInfo, auto_device, inference_dtype, list_devices, resolve_device


def test_cpu_is_always_listed_first_with_a_readable_label():
    devices = list_devices()
    assert devices[0].spec == "cpu" and "CPU" in devices[0].label


def test_resolution_of_device_names():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else None
    if expected is None:
        assert resolve_device("auto").type in ("cpu", "mps")
    else:
        assert resolve_device("auto").type == "cuda"


def test_auto_prefers_cuda_then_mps_then_the_cpu():
    cpu, mps = DeviceInfo("cpu", "CPU", "cpu"), DeviceInfo("mps", "Apple GPU (MPS)", "mps")
    gpus = [DeviceInfo("cuda:0", "GPU 0", "cuda", 2**33), DeviceInfo("cuda:1", "GPU 1", "cuda", 2**33)]
    assert auto_device([cpu, mps, *gpus]) == gpus[0]
    assert auto_device([cpu, mps]) == mps
    assert auto_device([cpu]) == cpu
    assert auto_device([]) is None
    assert resolve_device("auto") == torch.device(auto_device().spec)   # the same rule on this machine


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "gpu"])
def test_unknown_device_names_are_errors(spec):
    with pytest.raises((DeviceError, ValueError)):
        resolve_device(spec)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_named_not_replaced():
    with pytest.raises(DeviceError, match="CUDA is not available"):
        resolve_device("cuda:0")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_devices_are_listed_with_memory():
    cuda = [d for d in list_devices() if d.kind == "cuda"]
    assert cuda and all(d.total_memory_bytes for d in cuda)


def test_precision_defaults():
    assert inference_dtype(torch.device("cpu")) == torch.float32
    assert inference_dtype(torch.device("cuda", 0)) == torch.float16
    assert inference_dtype(torch.device("cuda", 0), "fp32") == torch.float32
