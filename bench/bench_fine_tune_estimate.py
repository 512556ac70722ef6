"""How well the fine-tuning wizard's time estimate matches a real run: the wizard's speed test, then a real run of
the same plan, timed from the trainer's start to its exit, and the ratio of estimate to run. Also prints what the
wizard estimates before measuring (the CPU reference) for the same run.

    .venv/bin/python bench/bench_fine_tune_estimate.py [--steps 40] [--crop 128] [--batch 4]
        [--backbone efficientnet_lite0] [--device cpu] [--no-segmenter] [--photos ../shared/data/photos/selfies]
        [--cartoons ../shared/data/cartoons/anime]

Both runs are what the wizard runs (`FineTunePlan` → the finetune preset → `python -m trainer finetune --config`,
the speed test with `SPEED_TEST_OVERRIDES`), from the bundled default model, on 40 photos and 40 cartoons copied
from the shared data. A minute or a few on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.model_registry import default_model_name, resolve_model_path  # noqa: E402
from desktop_app.fine_tune.estimate import (  # noqa: E402
    SPEED_TEST_OVERRIDES, SPEED_TEST_STEPS, mean_step_seconds, reference_speed, speed_from_speed_test,
)
from desktop_app.fine_tune.plan import FineTunePlan, bundled_segmenter, trainer_arguments, write_config  # noqa: E402
from trainer.events import TrainingProgress, parse_event  # noqa: E402

PICTURES = 40


def run_trainer(plan: FineTunePlan) -> tuple[float, float | None, list[float]]:
    """Run the plan as the wizard does; returns (seconds to exit, seconds to the first log line, later images/s)."""
    config = write_config(plan.train_config(), plan.run_dir)
    command = [sys.executable, "-m", "trainer", *trainer_arguments(config)]
    started = time.monotonic()
    first_log_s, rates = None, []
    with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}) as process:
        for line in process.stdout:
            event = parse_event(line)
            if not isinstance(event, TrainingProgress):
                continue
            if first_log_s is None:
                first_log_s = time.monotonic() - started
            else:
                rates.append(event.images_per_s)
    if process.returncode != 0:
        raise SystemExit(f"the trainer failed (exit {process.returncode}): {' '.join(command)}")
    return time.monotonic() - started, first_log_s, rates


def copy_pictures(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for path in sorted(source.glob("*.jpg"))[:PICTURES]:
        shutil.copy(path, target / path.name)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = REPO_ROOT.parent / "shared" / "data"
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-segmenter", action="store_true", help="without the bundled semantic module")
    parser.add_argument("--photos", type=Path, default=shared / "photos" / "selfies")
    parser.add_argument("--cartoons", type=Path, default=shared / "cartoons" / "anime")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        plan = FineTunePlan(base_model=resolve_model_path(default_model_name()),
                            photos_dir=copy_pictures(args.photos, root / "photos"),
                            cartoons_dir=copy_pictures(args.cartoons, root / "cartoons"), run_dir=root / "speed-test",
                            steps=SPEED_TEST_STEPS, crop_size_px=args.crop, device=args.device,
                            backbone=args.backbone, segmenter_path=None if args.no_segmenter else bundled_segmenter(),
                            extra_overrides=(f"batch_size={args.batch}", *SPEED_TEST_OVERRIDES))
        test_s, first_log_s, rates = run_trainer(plan)
        speed = speed_from_speed_test(first_log_s, rates, args.batch, args.crop)
        real = dataclasses.replace(plan, run_dir=root / "run", steps=args.steps,
                                   extra_overrides=(f"batch_size={args.batch}",))
        run_s, _first, real_rates = run_trainer(real)
    estimate_s = speed.run_seconds(args.steps, args.batch, args.crop)
    reference = reference_speed(args.device, os.cpu_count() or 1, args.backbone) if args.device == "cpu" else None
    print(f"device {args.device} ({os.cpu_count()} threads), {args.backbone}, batch {args.batch} of {args.crop} px")
    print(f"speed test: {test_s:.1f} s; measured {speed.describe(args.batch, args.crop)}; its steps after the "
          f"first: {', '.join(f'{args.batch / rate:.2f}' for rate in rates)} s")
    print(f"real run of {args.steps} steps: {run_s:.1f} s (its steps after the first log line: "
          f"{mean_step_seconds(real_rates, args.batch):.2f} s on average)" if real_rates else "")
    print(f"estimate after Measure speed: {estimate_s:.1f} s, ratio estimate/run {estimate_s / run_s:.2f}")
    if reference is not None:
        before_s = reference.run_seconds(args.steps, args.batch, args.crop)
        print(f"estimate before Measure speed (CPU reference): {before_s:.1f} s, ratio {before_s / run_s:.2f}; "
              f"this machine's speed as a reference: {speed.seconds_per_megapixel * os.cpu_count() / 2:.2f} s per "
              f"megapixel at 2 threads, start-up {speed.startup_s:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
