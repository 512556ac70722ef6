"""Puts a generator into its fastest inference form for a device, without changing its results.

    network = prepare_for_inference(generator, device)   # once, before the first frame
    with torch.inference_mode():
        y = network(x.contiguous(memory_format=torch.channels_last))

`UNetGenerator` stays the one definition of the network and of its state-dict keys (save that, never the returned
module). This module only changes how it runs: eval mode, no parameter gradients, channels_last weights; on CPUs,
each LeakyReLU and residual addition inside its oneDNN convolution (`FusedCPUGenerator`), and on Linux an allocator
that keeps freed activation buffers for the next frame (`keep_freed_memory`). bench/bench_generator.py measures it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch
from torch import nn

from core.generator import LEAKY_SLOPE, TFStrideConv, UNetGenerator

_M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_allocator_configured = False


def keep_freed_memory(largest_reused_block: int = 1 << 30) -> bool:
    """Let glibc's malloc keep freed blocks up to `largest_reused_block` bytes for reuse; True if it applied.

    By default every block above 32 MiB (one 1280×720 activation of 32 channels is 118 MB) is a fresh mmap whose
    pages the kernel faults in and zeroes on first touch, and unmaps again when it is freed: about 200 000 page
    faults and 0.22 s per 1280×720 frame (generator + guided filter, 2 cores), paid again on every frame. With the
    thresholds raised, one frame's activations reuse the previous frame's memory (no faults after the second
    frame); the price is that the process keeps its peak activation memory after inference. Process-wide; does
    nothing off Linux/glibc.
    """
    global _allocator_configured
    if _allocator_configured:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    limit = min(largest_reused_block, 2**31 - 1)
    _allocator_configured = bool(mallopt(_M_MMAP_THRESHOLD, limit)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _allocator_configured


def _conv_arguments(conv: nn.Conv2d, x: torch.Tensor) -> tuple:
    if isinstance(conv, TFStrideConv):
        x = conv.pad_input(x)
    return x, conv.weight, conv.bias, list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups


def _conv_leaky_relu(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """leaky_relu(conv(x)), the activation applied by oneDNN while each output block is still in cache."""
    return torch.ops.mkldnn._convolution_pointwise(*_conv_arguments(conv, x), "leaky_relu", [LEAKY_SLOPE], "")


def _conv_add_(conv: nn.Conv2d, x: torch.Tensor, accumulator: torch.Tensor) -> torch.Tensor:
    """accumulator += conv(x), in one oneDNN convolution writing into `accumulator`."""
    return torch.ops.mkldnn._convolution_pointwise_.binary(accumulator, *_conv_arguments(conv, x),
                                                           "add", None, None, [], None)


class FusedCPUGenerator(nn.Module):
    """`UNetGenerator.forward` for CPU inference, with the pointwise ops that follow convs fused into them.

    Shares the generator's parameters; same sums in the same order, so the outputs equal the generator's (checked
    by `prepare_for_inference` and tests/core/test_generator.py). Keep this forward in step with the generator's.
    """

    def __init__(self, generator: UNetGenerator):
        super().__init__()
        self.generator = generator
        self.config = generator.config
        self.pad_multiple = generator.pad_multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.generator
        x0 = _conv_leaky_relu(g.stem, x)
        x1 = _conv_leaky_relu(g.down1_expand, _conv_leaky_relu(g.down1, x0))
        x2 = _conv_leaky_relu(g.down2_expand, _conv_leaky_relu(g.down2, x1))
        for block in g.blocks:
            x2 = _conv_add_(block.conv2, _conv_leaky_relu(block.conv1, x2), x2)
        x2 = _conv_leaky_relu(g.bottleneck_reduce, x2)
        x3 = _conv_leaky_relu(g.up1, g._upsample(x2).add_(x1))
        x3 = _conv_leaky_relu(g.up1_reduce, x3)
        x4 = _conv_leaky_relu(g.up2, g._upsample(x3).add_(x0))
        return g.head(x4)


def _fused_matches(fused: nn.Module, generator: UNetGenerator) -> bool:
    """Whether this torch build runs the fused graph, with the generator's results, on a small input."""
    size = 4 * generator.pad_multiple
    x = torch.rand(1, 3, size, size + generator.pad_multiple, generator=torch.Generator().manual_seed(0),
                   dtype=generator.stem.weight.dtype) * 2 - 1  # a private generator: the global RNG stays untouched
    x = x.contiguous(memory_format=torch.channels_last)
    try:
        with torch.inference_mode():
            return torch.allclose(fused(x), generator(x), rtol=1e-4, atol=1e-5)
    except (RuntimeError, AttributeError, NotImplementedError):  # op missing or dtype unsupported in this build
        return False


def prepare_for_inference(model: nn.Module, device: str | torch.device = "cpu", dtype: torch.dtype | None = None,
                          fuse: bool = True) -> nn.Module:
    """`model` ready for inference on `device`: the model itself (changed in place) or a fused module sharing it.

    Puts it in eval mode, channels_last, without parameter gradients, and casts its weights to `dtype` if given
    (e.g. torch.float16 on CUDA; leave None for fp32 or autocast). On CPU a `UNetGenerator` comes back wrapped in
    `FusedCPUGenerator` when `fuse` and this torch build supports it, and the allocator keeps freed buffers.
    Inputs should be channels_last too: mixed layouts make every conv convert its input.
    """
    device = torch.device(device)
    model = model.to(device=device, dtype=dtype) if dtype is not None else model.to(device)
    model = model.eval().requires_grad_(False).to(memory_format=torch.channels_last)
    if device.type != "cpu":
        return model
    keep_freed_memory()
    if fuse and isinstance(model, UNetGenerator) and torch.backends.mkldnn.is_available():
        fused = FusedCPUGenerator(model)
        if _fused_matches(fused, model):
            return fused
    return model
