"""FLOPs (convolutions and matrix products, counted by torch's FlopCounterMode) and CPU time of one D-only and one full
step of gpu.toml's run (256² crops, batch 16), to size the GPU stretch before a device is lent. Run from the
repository root on photos that have cartoon targets (cpu_test.sh leaves a few with theirs):

    OMP_NUM_THREADS=1 nice -n 15 .venv/bin/python bench/campaign/gpu/count_step_flops.py \
        photos_dir=/tmp/cartoonizer-gpu-cpu-test/test-photos target_cache_dir=/tmp/cartoonizer-gpu-cpu-test/test-targets
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from trainer.config import load_config  # noqa: E402
from trainer.events import TrainerEvent, TrainingProgress  # noqa: E402
from trainer.loop import train  # noqa: E402

CONFIG = Path(__file__).with_name("gpu.toml")


def main(overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = load_config(CONFIG, ["device=cpu", "precision=fp32", "threads=1", "num_workers=1",
                                   "discriminator_warmup_steps=1", "adversarial_steps=2", "log_every=1",
                                   "sample_every=1000", "checkpoint_every=1000", f"run_dir={run_dir}", *overrides])
        counter = FlopCounterMode(display=False)
        counted = [0]

        def emit(event: TrainerEvent) -> None:
            if isinstance(event, TrainingProgress):  # after the step, before its sample and checkpoint
                flops = counter.get_total_flops() - counted[0]
                counted[0] += flops
                kind = "D-only" if event.step == 1 else "full"
                print(f"{kind} step at {cfg.crop_size}², batch {cfg.batch_size}: {flops / 1e12:.2f} TFLOP, "
                      f"{cfg.batch_size / event.images_per_s:.1f} s on this CPU", flush=True)

        with counter:
            train(cfg, emit=emit)


if __name__ == "__main__":
    main(sys.argv[1:])
