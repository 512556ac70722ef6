from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from core.cancel import CancelToken, Cancelled
from core.cartoonizer import Cartoonizer
from core.model_file import read_metadata
from core.model_registry import load_model
from tests.conftest import gradient_image
from tests.trainer.conftest import TINY_SETTINGS
from trainer.checkpoint import list_checkpoints, load_checkpoint
from trainer.config import ConfigError, TrainConfig
from trainer.events import ModelExported, SampleWritten, TrainerEvent, TrainingProgress, TrainingStarted
from trainer.loop import autocast_dtype, loss_weights, train

PRETRAIN, ADVERSARIAL = 2, 3
pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def tiny_config(run_dir: Path, folders: tuple[Path, Path], **settings) -> TrainConfig:
    photos, cartoons = folders
    return TrainConfig.from_dict({**TINY_SETTINGS, "photos_dir": photos, "cartoons_dir": cartoons,
                                  "run_dir": run_dir, **settings})


def run(cfg: TrainConfig, cancel: CancelToken | None = None, stop_after: int | None = None) -> tuple[Path, list]:
    """Train, collecting the events; with `stop_after`, cancel once that step has been logged."""
    events: list[TrainerEvent] = []

    def record(event: TrainerEvent) -> None:
        events.append(event)
        if stop_after is not None and isinstance(event, TrainingProgress) and event.step == stop_after:
            cancel.cancel()

    return train(cfg, cancel, emit=record), events


def logs(events: list[TrainerEvent]) -> dict[int, TrainingProgress]:
    return {event.step: event for event in events if isinstance(event, TrainingProgress)}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, training_folders, random_segmenter_file, one_cpu_thread):
    """Pre-training then adversarial steps with the semantic module, uninterrupted."""
    cfg = tiny_config(tmp_path_factory.mktemp("full") / "full", training_folders, pretrain_steps=PRETRAIN,
                      adversarial_steps=ADVERSARIAL, segmenter_path=random_segmenter_file, sample_every=PRETRAIN)
    model_path, events = run(cfg)
    return cfg, model_path, events


def test_pretraining_lowers_the_reconstruction_loss(tmp_path, training_folders):
    cfg = tiny_config(tmp_path / "pre", training_folders, pretrain_steps=40, adversarial_steps=0, lr=2e-3)
    _, events = run(cfg)
    losses = [event.losses["reconstruction"] for event in logs(events).values()]
    assert len(losses) == 40 and {event.phase for event in logs(events).values()} == {"pretrain"}
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])


def test_a_run_logs_samples_checkpoints_and_exports(full_run):
    cfg, model_path, events = full_run
    assert isinstance(events[0], TrainingStarted) and isinstance(events[-1], ModelExported)
    steps = logs(events)
    assert len(steps) == PRETRAIN + ADVERSARIAL
    assert [steps[s].phase for s in sorted(steps)] == ["pretrain"] * PRETRAIN + ["train"] * ADVERSARIAL
    adversarial = steps[PRETRAIN + 1]
    for name in ("d_surface", "d_texture", "g_surface", "g_texture", "g_content", "g_structure",
                 "g_total_variation", "g_semantic", "g_total"):
        assert math.isfinite(adversarial.losses[name]), name
    assert adversarial.images_per_s > 0 and adversarial.eta_s >= 0
    # sample grids: 4 photos of 32 px, photo | cartoon
    samples = [event.path for event in events if isinstance(event, SampleWritten)]
    assert [path.name for path in samples] == ["step_00000002.png", "step_00000004.png", "step_00000005.png"]
    with Image.open(samples[-1]) as grid:
        assert grid.size == (2 * 32, 4 * 32)
    # one final checkpoint, and the exported model next to it
    assert [path.name for path in list_checkpoints(cfg.run_dir)] == ["step_00000005.pt"]
    assert model_path == cfg.run_dir / "full.safetensors" and events[-1].model == model_path
    # the checkpoint's metrics history holds the log lines as before (without their "event" key)
    metrics = load_checkpoint(list_checkpoints(cfg.run_dir)[-1])["metrics"]
    assert metrics == [{key: value for key, value in steps[s].to_json().items() if key != "event"}
                       for s in sorted(steps)]
    assert list(metrics[-1])[:2] == ["step", "phase"] and list(metrics[-1])[-2:] == ["images_per_s", "eta_s"]


def test_the_exported_model_loads_in_the_engine_and_cartoonizes(full_run):
    cfg, model_path, events = full_run
    model = load_model(model_path)
    assert model.generator.config.base_channels == 8 and model.generator.config.num_residual_blocks == 1
    photo = gradient_image(40, 56, seed=3)
    cartoon = Cartoonizer(model, device="cpu").cartoonize(photo)
    assert cartoon.shape == photo.shape and np.isfinite(cartoon).all() and 0.0 <= cartoon.min() <= cartoon.max() <= 1
    with safe_open(str(model_path), framework="pt") as handle:
        assert handle.get_tensor("stem.weight").dtype == torch.float16
    provenance = read_metadata(model_path).provenance
    assert provenance["steps"] == {"pretrain": PRETRAIN, "warm_start": 0, "adversarial": ADVERSARIAL,
                                   "total": PRETRAIN + ADVERSARIAL}
    assert provenance["base_model"] is None and provenance["data"]["photos"] == 6
    assert provenance["loss_weights"]["semantic"] == 1.0 and provenance["segmenter"]["path"]
    assert provenance["final_metrics"]["step"] == PRETRAIN + ADVERSARIAL
    assert provenance["backbone"]["name"] == "efficientnet_lite0"


def test_an_interrupted_run_resumes_exactly(tmp_path, full_run, random_segmenter_file):
    cfg, _, uninterrupted = full_run
    token = CancelToken()
    stop_at = PRETRAIN + 1  # inside the adversarial phase: Ds, their optimiser and both data streams matter
    interrupted = replace(cfg, run_dir=tmp_path / "interrupted")
    with pytest.raises(Cancelled):
        run(interrupted, token, stop_after=stop_at)
    assert [path.name for path in list_checkpoints(interrupted.run_dir)] == [f"step_{stop_at:08d}.pt"]

    _, resumed = run(replace(interrupted, resume=True))
    assert resumed[0].step == stop_at and resumed[0].resumed_from is not None
    expected, got = logs(uninterrupted), logs(resumed)
    assert sorted(got) == list(range(stop_at + 1, PRETRAIN + ADVERSARIAL + 1))
    for step in got:
        assert got[step].losses == expected[step].losses, step  # bitwise
    # the final weights agree too
    final = lambda run_dir: load_checkpoint(list_checkpoints(run_dir)[-1])["models"]["generator"]  # noqa: E731
    for key, tensor in final(cfg.run_dir).items():
        assert torch.equal(final(interrupted.run_dir)[key], tensor), key


def test_finetuning_keeps_the_base_models_architecture_and_licence(tmp_path, training_folders, tiny_model_file):
    cfg = tiny_config(tmp_path / "tuned", training_folders, base_model=str(tiny_model_file), pretrain_steps=0,
                      adversarial_steps=1, generator_base_channels=32)
    model_path, _ = run(cfg)
    metadata = read_metadata(model_path)
    assert metadata.config.base_channels == 8  # the base model's, not the scratch setting
    assert metadata.license == "MIT" and metadata.provenance["base_model"] == "tiny"
    assert "fine-tuned from tiny" in metadata.description


def test_checkpoints_keep_the_newest_and_refuse_a_second_fresh_run(tmp_path, training_folders):
    cfg = tiny_config(tmp_path / "keep", training_folders, pretrain_steps=4, adversarial_steps=0,
                      checkpoint_every=1, keep_checkpoints=2)
    run(cfg)
    assert [path.name for path in list_checkpoints(cfg.run_dir)] == ["step_00000003.pt", "step_00000004.pt"]
    with pytest.raises(ConfigError, match="resume"):
        run(cfg)
    _, events = run(replace(cfg, resume=True))  # already at the end: exports again, trains nothing
    assert [type(event) for event in events] == [TrainingStarted, ModelExported]
    with pytest.raises(ConfigError, match="no checkpoint"):
        run(replace(cfg, run_dir=tmp_path / "empty", resume=True))


def test_loss_weights_come_from_the_config(tmp_path):
    cfg = TrainConfig.from_dict({"loss_weights": {"texture": 2.0},
                                 "region_weights": {"foreground": {"surface": 0.5}}})
    weights = loss_weights(cfg, None)
    assert weights.texture == 2.0 and weights.surface == 0.1
    assert weights.region_weights["foreground"] == {"surface": 0.5, "texture": 1.5}  # merged into the defaults
    with pytest.raises(ConfigError, match="unknown term"):
        loss_weights(TrainConfig.from_dict({"loss_weights": {"textures": 1.0}}), None)


def test_autocast_only_where_it_pays():
    assert autocast_dtype("auto", torch.device("cpu")) is None
    assert autocast_dtype("fp32", torch.device("cuda")) is None
    assert autocast_dtype("fp16", torch.device("cpu")) == torch.float16
