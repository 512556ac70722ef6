from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest
import torch

from core.generator import GeneratorConfig, UNetGenerator
from trainer.checkpoint import (
    ArchitectureMismatch, CheckpointError, architecture_of, capture_rng_state, checkpoint_dir, latest_checkpoint,
    list_checkpoints, load_checkpoint, restore_rng_state, restore_training_state, save_checkpoint, unwrap,
)
from trainer.config import TrainConfig


class TinyCritic(torch.nn.Module):
    """Stands in for a discriminator: a module with a `config` that has `to_dict()`."""

    class Config:
        def __init__(self, channels: int):
            self.channels = channels

        def to_dict(self) -> dict:
            return {"channels": self.channels}

    def __init__(self, channels: int = 4):
        super().__init__()
        self.config = self.Config(channels)
        self.conv = torch.nn.Conv2d(3, channels, 3)
        self.norm = torch.nn.BatchNorm2d(channels)


def _networks(seed: int = 0, channels: int = 4):
    torch.manual_seed(seed)
    generator = UNetGenerator(GeneratorConfig(base_channels=4, num_residual_blocks=1))
    critic = TinyCritic(channels)
    optimizers = {"generator": torch.optim.Adam(generator.parameters(), 2e-4, betas=(0.5, 0.99)),
                  "discriminators": torch.optim.Adam(critic.parameters(), 2e-4, betas=(0.5, 0.99))}
    return {"generator": generator, "surface_discriminator": critic}, optimizers


def _train_a_step(models, optimizers) -> None:
    x = torch.randn(1, 3, 8, 8)
    loss = models["generator"](x).square().mean() + models["surface_discriminator"].conv(x).mean()
    loss.backward()
    for optimizer in optimizers.values():
        optimizer.step()


def _draws() -> tuple:
    return random.random(), random.gauss(0, 1), float(np.random.rand()), float(np.random.randn()), torch.rand(3)


def _save(run_dir, step, models, optimizers, keep=3, **extra):
    return save_checkpoint(run_dir, step, models=models, optimizers=optimizers,
                           scaler=torch.amp.GradScaler("cpu"), config=TrainConfig().to_dict(),
                           data_state={"photos": {"epoch": 1, "index": 32}},
                           metrics=[{"step": step, "loss": np.float32(0.5)}], keep=keep, **extra)


def test_round_trip_restores_states_and_rng(tmp_path):
    models, optimizers = _networks()
    _train_a_step(models, optimizers)
    random.gauss(0, 1)                                   # leaves a cached Gaussian in Python's state
    np.random.randn()                                    # and in NumPy's
    path = _save(tmp_path, 10, models, optimizers)
    expected = _draws()

    fresh_models, fresh_optimizers = _networks(seed=1)
    checkpoint = load_checkpoint(path)
    scaler = torch.amp.GradScaler("cpu", init_scale=1.0)
    restore_training_state(checkpoint, models=fresh_models, optimizers=fresh_optimizers, scaler=scaler)
    restore_rng_state(checkpoint["rng"])
    got = _draws()
    assert got[:4] == expected[:4] and torch.equal(got[4], expected[4])

    for name in models:
        for key, value in models[name].state_dict().items():
            assert torch.equal(value, fresh_models[name].state_dict()[key]), key
    state = fresh_optimizers["generator"].state_dict()["state"]
    assert state and all(torch.equal(v["exp_avg"], optimizers["generator"].state_dict()["state"][k]["exp_avg"])
                         for k, v in state.items())
    assert scaler.get_scale() == 65536.0
    assert checkpoint["step"] == 10 and checkpoint["data"] == {"photos": {"epoch": 1, "index": 32}}
    assert checkpoint["metrics"] == [{"step": 10, "loss": 0.5}] and isinstance(checkpoint["metrics"][0]["loss"], float)
    assert TrainConfig.from_dict(checkpoint["config"]) == TrainConfig()


def test_rng_state_survives_weights_only_loading(tmp_path):
    path = tmp_path / "rng.pt"
    torch.save(capture_rng_state(), path)
    loaded = torch.load(path, weights_only=True)
    expected = _draws()
    restore_rng_state(loaded)
    got = _draws()
    assert got[:4] == expected[:4] and torch.equal(got[4], expected[4])


def test_keeps_the_newest_n_and_points_latest_at_the_newest(tmp_path):
    models, optimizers = _networks()
    for step in (100, 200, 300, 400, 500):
        _save(tmp_path, step, models, optimizers, keep=2)
    assert [path.name for path in list_checkpoints(tmp_path)] == ["step_00000400.pt", "step_00000500.pt"]
    assert latest_checkpoint(tmp_path).name == "step_00000500.pt"
    assert sorted(p.name for p in checkpoint_dir(tmp_path).iterdir()) == ["latest", "step_00000400.pt",
                                                                          "step_00000500.pt"]
    assert latest_checkpoint(tmp_path / "elsewhere") is None


def test_resume_refuses_other_architectures(tmp_path):
    models, optimizers = _networks()
    path = _save(tmp_path, 1, models, optimizers)
    other_models, other_optimizers = _networks(channels=8)
    with pytest.raises(ArchitectureMismatch, match=r"surface_discriminator\.channels: checkpoint 4, this run 8"):
        restore_training_state(load_checkpoint(path), models=other_models, optimizers=other_optimizers)
    fewer = {"generator": other_models["generator"]}
    with pytest.raises(ArchitectureMismatch, match="surface_discriminator: in the checkpoint, not built"):
        restore_training_state(load_checkpoint(path), models=fewer, optimizers={})


def test_wrapped_networks_are_described_and_saved_as_the_network_inside(tmp_path):
    """DataParallel and torch.compile wrappers are looked through (their state-dict keys carry a prefix); a network
    whose config records its arguments is described by it, one without by its weights' shapes."""
    models, optimizers = _networks()
    generator = models["generator"]
    for wrapped in (torch.nn.DataParallel(generator), torch.compile(generator),
                    torch.nn.DataParallel(torch.compile(generator))):
        assert unwrap(wrapped) is generator
    path = _save(tmp_path, 1, {**models, "generator": torch.nn.DataParallel(torch.compile(generator))}, optimizers)
    assert list(load_checkpoint(path)["models"]["generator"]) == list(generator.state_dict())
    described = architecture_of({"generator": torch.compile(generator), "plain": torch.nn.Conv2d(3, 2, 1)})
    assert described == {"generator": {"class": "UNetGenerator", **generator.config.to_dict()},
                         "plain": {"class": "Conv2d", "weight": [2, 3, 1, 1], "bias": [2]}}


def test_non_plain_values_are_refused_before_writing(tmp_path):
    models, optimizers = _networks()
    with pytest.raises(TypeError, match=r"metrics\[0\]\.when: object cannot go into"):
        save_checkpoint(tmp_path, 1, models=models, optimizers=optimizers, config={},
                        metrics=[{"when": object()}])
    assert list_checkpoints(tmp_path) == []


def test_pickled_objects_are_not_loaded(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "cartoonizer-training-checkpoint", "payload": Fraction(1, 3)}, path)  # any class
    with pytest.raises(CheckpointError, match="objects other than tensors"):
        load_checkpoint(path)
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    torch.save({"format": "something-else"}, path)
    with pytest.raises(CheckpointError, match="not a cartoonizer training checkpoint"):
        load_checkpoint(path)
