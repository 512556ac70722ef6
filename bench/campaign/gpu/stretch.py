"""One GPU stretch of the campaign: the cartoon targets on every core, training until a wall-clock deadline, and the
EMA model exported into an output folder, refreshed at every checkpoint so that a killed command still brings one
back. `run_on_device.sh` calls it; run from the repository root:

    python3 bench/campaign/gpu/stretch.py --config bench/campaign/gpu/gpu.toml --out OUT --stop-at EPOCH_S \
        [--fallback KEY=VALUE …] [KEY=VALUE …]

It calls the trainer's own functions (`load_config`, `train`, `export_checkpoint`), not `cartoonize-train`: the
CLI imports `core.video` for the key-frame command, and that needs PyAV (about 100 MB installed), which the device
image lacks and the 64 MiB that travel cannot hold. The trainer has no wall-clock limit; a `CancelToken` cancelled
at `--stop-at` stops it the way Ctrl-C does (a checkpoint after the current step). `make_cartoon_targets` runs on one
core; here each worker process runs it on a shard of the photos (folders of links with the same relative paths, so
every target lands where the training expects it; the training then finds them all made).

OUT receives `model.safetensors` (the newest checkpoint's EMA generator, fp16), `sample.png` (the newest sample
grid), at the end `checkpoint.pt.partN` (the stop checkpoint cut into pieces of at most 15 MiB, the device's
return limit being 16 MiB a file; `cat checkpoint.pt.part* > step_N.pt` joins them, `summary.json` has their SHA-256)
and `summary.json` (steps, images/s per kind of step, peak GPU memory). Exit 0 when a model was exported.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from core.atomic_files import atomic_output  # noqa: E402
from core.cancel import CancelToken, Cancelled  # noqa: E402
from trainer.cartoon_target import CartoonTargetRecipe, make_cartoon_targets  # noqa: E402
from trainer.checkpoint import latest_checkpoint  # noqa: E402
from trainer.config import TrainConfig, load_config, resolve_config_file  # noqa: E402
from trainer.data import find_images  # noqa: E402
from trainer.events import (  # noqa: E402
    CheckpointSaved, SampleWritten, TrainerEvent, TrainingProgress, TrainingStarted, print_json_event,
)
from trainer.export import export_checkpoint  # noqa: E402
from trainer.loop import cartoon_target_dir, cartoon_target_recipe, train  # noqa: E402

RETURN_PIECE_BYTES = 15 * 2**20  # under the device's 16 MiB a returned file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--config", required=True, help="a TOML file or preset")
    parser.add_argument("--out", type=Path, required=True, help="folder for the model, sample and summary")
    parser.add_argument("--stop-at", type=float, required=True, metavar="EPOCH_S",
                        help="wall-clock time (time.time()) at which training stops with a checkpoint")
    parser.add_argument("--target-workers", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--fallback", action="append", default=[], metavar="KEY=VALUE",
                        help="if the run fails before its first checkpoint, start it once more with these "
                             "overrides added")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"overrides": args.overrides}

    cfg = load_config(resolve_config_file(args.config), args.overrides)
    began = time.time()
    made = make_targets_in_parallel(cfg, args.target_workers)
    summary["targets"] = {"photos": made, "seconds": round(time.time() - began, 1)}
    print(f"stretch: cartoon targets of {made} photos ready in {time.time() - began:.0f} s", file=sys.stderr,
          flush=True)

    recorder = StretchRecorder(args.out)
    cfg, finished, failure = train_with_fallback(cfg, args, recorder, summary)
    summary["finished_all_steps"] = finished
    summary.update(recorder.summary(cfg))

    ended = time.time()
    model = args.out / "model.safetensors"
    checkpoint = latest_checkpoint(cfg.run_dir)
    if checkpoint is not None:
        export_checkpoint(checkpoint, model)
        summary["model"] = {"file": model.name, "from": checkpoint.name,
                            "mib": round(model.stat().st_size / 2**20, 2)}
        summary["checkpoint"] = split_for_return(checkpoint, args.out)
        print(f"stretch: {checkpoint.name} exported and copied into {args.out} in {time.time() - ended:.1f} s "
              f"({time.time() - args.stop_at:+.0f} s from the deadline)", file=sys.stderr, flush=True)
    else:
        failure = failure or "no checkpoint was written, so there is no model"
        summary["failure"] = failure
    with atomic_output(args.out / "summary.json") as temp:
        temp.write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    print(json.dumps({"event": "stretch", **summary}, default=str), flush=True)
    return 0 if failure is None else 1


def train_with_fallback(cfg: TrainConfig, args: argparse.Namespace, recorder: "StretchRecorder",
                        summary: dict[str, Any]) -> tuple[TrainConfig, bool, str | None]:
    """Train until the deadline; a run that fails before its first checkpoint (say, a loss network that does not
    build on the device's package versions) is started once more with `--fallback`'s overrides, so one error does
    not cost the whole lease. Returns the config that ran, whether it finished its steps, and the failure if any
    (a checkpoint written before it still becomes the model)."""
    try:
        return cfg, train_until(cfg, args.stop_at, recorder), None
    except Exception as exc:  # noqa: BLE001 - reported, and the checkpoint so far is kept
        traceback.print_exc()
        failure = f"{exc.__class__.__name__}: {exc}"
        if not args.fallback or latest_checkpoint(cfg.run_dir) is not None or time.time() > args.stop_at - 120:
            summary["failure"] = failure
            return cfg, False, failure
    print(f"stretch: the run failed before its first checkpoint ({failure}); starting it again with "
          f"{' '.join(args.fallback)}", file=sys.stderr, flush=True)
    cfg = load_config(resolve_config_file(args.config), args.overrides + args.fallback)
    cfg = replace(cfg, run_dir=Path(f"{cfg.run_dir}-fallback"))
    summary["fallback"] = {"overrides": args.fallback, "first_failure": failure}
    try:
        return cfg, train_until(cfg, args.stop_at, recorder), None
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        summary["failure"] = f"{exc.__class__.__name__}: {exc}"
        return cfg, False, summary["failure"]


def make_targets_in_parallel(cfg: TrainConfig, workers: int) -> int:
    """The warm-start/anchor targets of every photo of `cfg`, made by `workers` processes; returns the photo count."""
    if not cfg.uses_cartoon_targets:
        return 0
    photos_dir, cache_dir = Path(cfg.photos_dir), cartoon_target_dir(cfg)
    photos = find_images(photos_dir)
    recipe = cartoon_target_recipe(cfg)
    shards = max(1, min(workers, len(photos)))
    with tempfile.TemporaryDirectory(prefix="target-shards-") as scratch:
        jobs = []
        for index in range(shards):
            shard = Path(scratch) / f"{index:02d}"
            for photo in photos[index::shards]:  # a link at the photo's own relative path: same target path
                link = shard / photo.relative_to(photos_dir)
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(photo.resolve())
            jobs.append((str(shard), str(cache_dir), recipe))
        with multiprocessing.get_context("spawn").Pool(shards) as pool:  # spawn: no forked torch/OpenCV threads
            for _ in pool.imap_unordered(_targets_of_shard, jobs):
                pass
    return len(photos)


def _targets_of_shard(job: tuple[str, str, CartoonTargetRecipe]) -> int:
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    shard, cache_dir, recipe = job
    last = None
    for last in make_cartoon_targets(shard, cache_dir, recipe):
        pass
    return last.done if last else 0


def train_until(cfg: TrainConfig, stop_at: float, recorder: "StretchRecorder") -> bool:
    """Train `cfg` until it completes (True) or until `stop_at`, when it stops with a checkpoint (False)."""
    cancel = CancelToken()
    timer = threading.Timer(max(0.0, stop_at - time.time()), cancel.cancel)
    timer.daemon = True
    timer.start()
    recorder.started = time.time()
    try:
        train(cfg, cancel, emit=recorder.emit)
        return True
    except Cancelled:
        return False
    finally:
        timer.cancel()
        recorder.ended = time.time()


class StretchRecorder:
    """The trainer's event sink: prints each event (JSON lines), keeps OUT's model and sample current, and counts
    steps and their time per kind (D-only warm-up steps, full steps) from the progress lines."""

    def __init__(self, out: Path):
        self.out = out
        self.started = self.ended = time.time()
        self.last_step = None
        self.intervals: list[tuple[int, int, float]] = []  # (first step, steps, images/s) per progress line

    def emit(self, event: TrainerEvent) -> None:
        print_json_event(event)
        if isinstance(event, TrainingStarted):  # a fallback run starts the count again
            self.last_step, self.intervals = event.step, []
        elif isinstance(event, TrainingProgress):
            first = self.last_step if self.last_step is not None else 0
            self.intervals.append((first, event.step - first, event.images_per_s))
            self.last_step = event.step
        elif isinstance(event, CheckpointSaved):
            export_checkpoint(event.path, self.out / "model.safetensors")  # atomic; about a second
        elif isinstance(event, SampleWritten):
            with atomic_output(self.out / "sample.png") as temp:
                shutil.copyfile(event.path, temp)

    def summary(self, cfg: TrainConfig) -> dict[str, Any]:
        """Steps and images/s (the trainer's own figures: sample and checkpoint time left out) per kind of step."""
        warmup_end = cfg.pretrain_steps + cfg.warm_start_steps + cfg.discriminator_warmup_steps
        kinds: dict[str, list[float]] = {"d_only": [0, 0.0], "full": [0, 0.0]}
        for first, steps, images_per_s in self.intervals:
            d_only = max(0, min(steps, warmup_end - first))
            for kind, count in (("d_only", d_only), ("full", steps - d_only)):
                if count and images_per_s > 0:
                    kinds[kind][0] += count
                    kinds[kind][1] += count * cfg.batch_size / images_per_s
        result: dict[str, Any] = {"last_step": self.last_step, "train_wall_s": round(self.ended - self.started, 1)}
        for kind, (steps, seconds) in kinds.items():
            result[f"{kind}_steps_logged"] = steps
            result[f"{kind}_images_per_s"] = round(steps * cfg.batch_size / seconds, 2) if seconds else None
        try:
            import torch

            if torch.cuda.is_available():
                result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        except RuntimeError:
            pass
        return result


def split_for_return(checkpoint: Path, out: Path) -> dict[str, Any]:
    """`checkpoint` copied into `out` in pieces small enough to come back from the device."""
    digest = hashlib.sha256()
    pieces = []
    with checkpoint.open("rb") as source:
        while chunk := source.read(RETURN_PIECE_BYTES):
            digest.update(chunk)
            piece = out / f"checkpoint.pt.part{len(pieces)}"
            with atomic_output(piece) as temp:
                temp.write_bytes(chunk)
            pieces.append(piece.name)
    return {"from": checkpoint.name, "pieces": pieces, "sha256": digest.hexdigest(),
            "mib": round(checkpoint.stat().st_size / 2**20, 2)}


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # A stopped run leaves its DataLoader workers running (the trainer closes them only after a completed run); the
    # interpreter's teardown then waits for them, which ran past the CPU test's deadline (killed by `timeout`, exit
    # 124, after the summary was written). Everything is written and flushed: leave at once (the workers notice
    # their parent is gone and exit).
    os._exit(status)
