"""Time per 1280×720 frame of the default generator beside the machine's practical conv throughput.

The reference is one large 3×3 convolution of the network's dominant shape (4c→4c at ¼ resolution, 128→128 at
180×320 for the default width), timed in the same run, with the same memory format and dtype as the model. Its
throughput turns the generator's conv FLOPs into an "ideal" frame time; the printed ratio is frame time / ideal.
Acceptance target (CPU): ratio ≤ 1.15 for the full frame (generator + guided filter, what users get).

    .venv/bin/python bench/bench_generator.py                      # CPU, all cores
    .venv/bin/python bench/bench_generator.py --threads 1 --repeats 9
    .venv/bin/python bench/bench_generator.py --device cuda        # fp16 and bf16 autocast, channels_last

The reference conv and the frame are timed alternately (one round = a few reference convs, one frame, one generator
pass), so a slow phase of a shared machine hits both; medians over the rounds are reported.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import os
import platform
import statistics
import sys
import time
from typing import Callable

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from core.generator import GeneratorConfig, UNetGenerator  # noqa: E402
from core.guided_filter import guided_filter  # noqa: E402
from core.inference_graph import keep_freed_memory, prepare_for_inference  # noqa: E402

HEIGHT, WIDTH = 720, 1280
GUIDED_RADIUS, GUIDED_EPS = 1, 5e-3


def conv_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs (2 × multiply-adds) of every Conv2d of `model` for one input, from the output sizes; bias not counted.

    Hooks every conv of a copy on the meta device: shapes only, nothing computed. Counts the convs as the model
    defines them (a repacked head or a fused conv does more or the same work, never less).
    """
    model = copy.deepcopy(model).to("meta")
    total = 0

    def count(module: nn.Conv2d, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += 2 * output.numel() * (module.in_channels // module.groups) * kh * kw

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.inference_mode():
            model(torch.empty(input_shape, device="meta").contiguous(memory_format=torch.channels_last))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds(fn: Callable[[], object], device: torch.device, calls: int = 1) -> float:
    """Wall time of `calls` calls of fn, per call, with the device synchronised before and after."""
    synchronize(device)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / calls


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def random_image(channels: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    x = torch.rand(1, channels, height, width, device=device) * 2 - 1
    return x.contiguous(memory_format=torch.channels_last)


def reference_conv(channels: int, height: int, width: int, device: torch.device) -> tuple[Callable[[], object], int]:
    """One channels→channels 3×3 conv (padding 1) as a benchmark callable, and its FLOPs."""
    conv = nn.Conv2d(channels, channels, 3, padding=1).to(device).eval().requires_grad_(False)
    conv = conv.to(memory_format=torch.channels_last)
    x = random_image(channels, height, width, device)
    return (lambda: conv(x)), 2 * channels * channels * 9 * height * width


def run(device: torch.device, dtype: torch.dtype, repeats: int, warmup: int, config: GeneratorConfig) -> None:
    generator = UNetGenerator(config)
    c = generator.config.base_channels
    flops = conv_flops(generator, (1, 3, HEIGHT, WIDTH))
    model = prepare_for_inference(generator, device)  # what the app runs: may be a fused module around it
    frame = random_image(3, HEIGHT, WIDTH, device)

    def generator_only() -> torch.Tensor:
        return model(frame)

    def full_frame() -> torch.Tensor:
        return guided_filter(frame, model(frame), GUIDED_RADIUS, GUIDED_EPS)

    big_conv, big_flops = reference_conv(4 * c, HEIGHT // 4, WIDTH // 4, device)
    mid_conv, mid_flops = reference_conv(2 * c, HEIGHT // 2, WIDTH // 2, device)
    # enough reference convs per round to take about as long as a frame, so both see the same machine
    ref_calls = max(1, round(flops / big_flops))

    times: dict[str, list[float]] = {"big": [], "mid": [], "gen": [], "frame": []}
    with torch.inference_mode(), autocast(device, dtype):
        for fn in (big_conv, mid_conv, generator_only, full_frame):
            for _ in range(warmup):
                seconds(fn, device)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(repeats):
            times["big"].append(seconds(big_conv, device, ref_calls))
            times["mid"].append(seconds(mid_conv, device, max(1, ref_calls // 2)))
            times["gen"].append(seconds(generator_only, device))
            times["frame"].append(seconds(full_frame, device))
        # CPU seconds this process got per wall second and thread: about 1 unless other processes compete
        cpu_share = (time.process_time() - cpu) / ((time.perf_counter() - wall) * torch.get_num_threads())
    median = {name: statistics.median(values) for name, values in times.items()}

    def spread(name: str) -> str:
        return f"(min {min(times[name]):.4f}, max {max(times[name]):.4f})"

    throughput = big_flops / median["big"]
    ideal = flops / throughput
    dtype_name = str(dtype).removeprefix("torch.")
    print(f"--- {device.type} {dtype_name}, channels_last, {repeats} rounds (median), {config} ---")
    print(f"model as prepared        : {type(model).__name__}"
          + (f", allocator keeps freed blocks: {keep_freed_memory()}" if device.type == "cpu" else ""))
    print(f"generator conv work      : {flops / 1e9:7.1f} GFLOP per {WIDTH}x{HEIGHT} frame (2 x MACs)")
    print(f"reference conv {4 * c:3d}->{4 * c:<3d} 3x3 @ {WIDTH // 4}x{HEIGHT // 4}: "
          f"{big_flops / 1e9:5.1f} GFLOP in {median['big']:.4f} s = {throughput / 1e9:7.1f} GFLOP/s")
    print(f"reference conv {2 * c:3d}->{2 * c:<3d} 3x3 @ {WIDTH // 2}x{HEIGHT // 2}: "
          f"{mid_flops / 1e9:5.1f} GFLOP in {median['mid']:.4f} s = {mid_flops / median['mid'] / 1e9:7.1f} GFLOP/s"
          "  (for reference)")
    print(f"ideal frame (work / reference throughput): {ideal:.4f} s")
    print(f"generator only           : {median['gen']:.4f} s {spread('gen')}   ratio {median['gen'] / ideal:.3f}")
    target = "   (target <= 1.15)" if device.type == "cpu" else ""
    print(f"frame = generator + guided filter (r={GUIDED_RADIUS}): {median['frame']:.4f} s {spread('frame')}")
    print(f"ratio frame / ideal      : {median['frame'] / ideal:.3f}{target}")
    unsteady = [name for name in ("big", "frame") if median[name] > 1.08 * min(times[name])]
    if unsteady:
        print(f"warning: median {' and '.join(unsteady)} time over 8% above the fastest round: something else is "
              "probably using the device; the ratio is unreliable, rerun when it is idle")
    if device.type == "cpu":
        print(f"CPU share                : {cpu_share:.2f} of {torch.get_num_threads()} threads"
              + ("" if cpu_share > 0.9 else "   warning: other processes took CPU time; the ratio is unreliable"))


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as cpuinfo:
            name = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), name)
    return f"{name}, {os.cpu_count()} logical CPUs, torch threads: {torch.get_num_threads()}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds; the median is reported")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls of each function first")
    parser.add_argument("--tf-compatible", action="store_true",
                        help="the imported White-box convention instead of the default architecture")
    args = parser.parse_args(argv)

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device")
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, device {device.type}: {device_description(device)}")
    dtypes = [torch.float32] if device.type == "cpu" else [torch.float16, torch.bfloat16]
    for dtype in dtypes:
        run(device, dtype, args.repeats, args.warmup, GeneratorConfig(tf_compatible=args.tf_compatible))


if __name__ == "__main__":
    main()
