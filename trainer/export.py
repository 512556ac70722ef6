"""A training checkpoint as an engine model file: a run stopped early (or still running) still gives a model.

The loop exports a model only when a run completes. This builds the same file from any checkpoint with the loop's
own parts: the run's config as stored in the checkpoint, the generator as the loop builds it (a base model's
architecture, or the configured one), the averaged (EMA) weights when the run keeps them, and the loop's model-card
metadata. The loss networks are described from the config (they are not loaded).
"""
from __future__ import annotations

from pathlib import Path

from core.model_file import save_model
from trainer.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint
from trainer.config import TrainConfig


def checkpoint_model_path(run_dir: str | Path, step: int) -> Path:
    """Where an export of step `step` goes by default: beside the run's own export, named by the step."""
    run_dir = Path(run_dir)
    return run_dir / f"{run_dir.name}-step{step}.safetensors"


def export_checkpoint(checkpoint: str | Path, model_path: str | Path | None = None) -> tuple[Path, int]:
    """Write checkpoint `checkpoint` (a file, or a run folder: its newest) as an fp16 engine model file; returns the
    file and the checkpoint's step. CheckpointError when there is none or it does not fit its own config."""
    from trainer.loop import build_generator, export_metadata, inference_filter, loss_weights

    path = Path(checkpoint)
    if path.is_dir():
        run_dir, found = path, latest_checkpoint(path)
        if found is None:
            raise CheckpointError(f"{path} has no checkpoint to make a model from")
        path = found
    else:
        run_dir = path.parent.parent  # <run>/checkpoints/step_N.pt
    state = load_checkpoint(path)
    cfg = TrainConfig.from_dict(state["config"])
    generator, base = build_generator(cfg)
    models = state["models"]
    try:
        generator.load_state_dict(models.get("generator_ema", models["generator"]), strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path.name}: the generator does not fit the run's config ({exc})") from exc
    step = int(state["step"])
    data = {"photos_dir": str(cfg.photos_dir), "cartoons_dir": str(cfg.cartoons_dir), "crop_size": cfg.crop_size,
            "batch_size": cfg.batch_size, "exported_from_checkpoint": path.name}
    backbone = {"name": cfg.backbone, "feature_layer": cfg.backbone_layer,
                "weights": str(cfg.backbone_weights) if cfg.backbone_weights else None}
    segmenter = {"path": str(cfg.segmenter_path)} if cfg.segmenter_path is not None else None
    metadata = export_metadata(cfg, base, generator, loss_weights(cfg, None), data, list(state["metrics"]), step,
                               backbone, segmenter, inference_filter(base))
    destination = Path(model_path) if model_path is not None else checkpoint_model_path(run_dir, step)
    return save_model(destination, generator, metadata, half=True), step
