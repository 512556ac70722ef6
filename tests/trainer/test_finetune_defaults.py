"""`cartoonize-train finetune` out of the box: the bundled default model and, without VGG19 on the machine, the
EfficientNet-Lite0 the app ships; each default said in one line on stderr, and explicit choices respected."""
from __future__ import annotations

import pytest

from trainer import cli
from trainer.config import ConfigError, TrainConfig


@pytest.fixture
def default_model(empty_resources):
    from core.model_file import ModelMetadata, save_model
    from tests.conftest import make_tiny_generator

    return save_model(empty_resources / "models" / "house-style.safetensors", make_tiny_generator(),
                      ModelMetadata(display_name="House style", license="MIT", provenance={"default": True}))


def test_without_base_model_and_vgg19_the_shipped_defaults_are_used(monkeypatch, default_model, capsys):
    monkeypatch.setattr(cli, "_torchvision_vgg19_cached", lambda: False)
    cfg = cli._finetune_defaults(TrainConfig(backbone="vgg19"), backbone_chosen=False)
    assert (cfg.base_model, cfg.backbone) == ("house-style", "efficientnet_lite0")
    notes = capsys.readouterr().err.splitlines()
    assert len(notes) == 2 and all(line.startswith("cartoonize-train: note: ") for line in notes)
    assert "bundled default model house-style" in notes[0] and "backbone=efficientnet_lite0" in notes[1]


def test_explicit_choices_and_a_cached_vgg19_are_kept(monkeypatch, default_model, capsys):
    monkeypatch.setattr(cli, "_torchvision_vgg19_cached", lambda: False)
    chosen = TrainConfig(base_model="mine", backbone="vgg19")
    assert cli._finetune_defaults(chosen, backbone_chosen=True) == chosen
    local_weights = TrainConfig(base_model="mine", backbone="vgg19", backbone_weights="vgg.safetensors")
    assert cli._finetune_defaults(local_weights, backbone_chosen=False) == local_weights
    monkeypatch.setattr(cli, "_torchvision_vgg19_cached", lambda: True)
    assert cli._finetune_defaults(TrainConfig(base_model="mine"), backbone_chosen=False).backbone == "vgg19"
    assert capsys.readouterr().err == ""
    assert cli._overrides_key(["lr=1e-4", " backbone =vgg19"], "backbone")
    assert not cli._overrides_key(["backbone_weights=x"], "backbone")


def test_without_any_bundled_model_finetune_still_asks_for_one(empty_resources):
    with pytest.raises(ConfigError, match="finetune needs base_model"):
        cli._finetune_defaults(TrainConfig(), backbone_chosen=True)
