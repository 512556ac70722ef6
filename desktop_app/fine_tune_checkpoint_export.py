"""A fine-tune's latest checkpoint as a model file, so that a run stopped early still gives a model.

The trainer writes a model file only when a run completes. This builds the same kind of file from the run's newest
checkpoint with the trainer's own parts: the run's config (`TrainConfig.from_dict` of the checkpoint's), the
generator as the trainer builds it (`build_generator`: the base model's architecture), the weights-only checkpoint
reader, and the engine's `save_model`. Like the trainer, it exports the averaged (EMA) weights when the run keeps
them. The trainer has no public export of a checkpoint yet; this is the GUI's stand-in until it has one.
Qt-free; slow enough (loading torch and the base model) to belong on a worker.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

from core.model_file import save_model
from trainer.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint
from trainer.config import TrainConfig


def checkpoint_model_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / f"{Path(run_dir).name}-step{step}.safetensors"


def export_latest_checkpoint(run_dir: str | Path) -> tuple[Path, int]:
    """Write the generator of `run_dir`'s newest checkpoint as an engine model file beside it; returns the file
    and the checkpoint's step. CheckpointError when there is no usable checkpoint."""
    from trainer.loop import build_generator  # the training loop's imports are heavy: only when needed

    run_dir = Path(run_dir)
    path = latest_checkpoint(run_dir)
    if path is None:
        raise CheckpointError(f"{run_dir} has no checkpoint to make a model from")
    checkpoint = load_checkpoint(path)
    cfg = TrainConfig.from_dict(checkpoint["config"])
    generator, base = build_generator(cfg)
    if base is None:
        raise CheckpointError("this run trains a model from scratch: let it finish (or resume it) to get a model")
    models = checkpoint["models"]
    weights = models.get("generator_ema") or models["generator"]
    generator.load_state_dict(weights, strict=True)
    step = int(checkpoint["step"])
    total = cfg.pretrain_steps + cfg.adversarial_steps
    provenance = {
        "trainer": "cartoonize-train (checkpoint exported by the desktop app)",
        "base_model": base.name, "base_model_provenance": base.metadata.provenance,
        "checkpoint": path.name, "steps": {"done": step, "planned": total},
        "final_metrics": checkpoint["metrics"][-1] if checkpoint.get("metrics") else {},
        "config": cfg.to_dict(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    description = (f"cartoonizer, fine-tuned from {base.name} by cartoonize-train in {run_dir.name}, stopped at "
                   f"step {step} of {total}")
    metadata = dataclasses.replace(base.metadata, display_name=run_dir.name, description=description,
                                   provenance=provenance)
    return save_model(checkpoint_model_path(run_dir, step), generator, metadata, half=True), step
