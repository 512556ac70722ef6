"""The wizard's choices become the trainer's own config (its finetune preset plus overrides), written as TOML that
the trainer reads back unchanged."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.model_registry import user_data_dir
from desktop_app.fine_tune.plan import (
    CONFIG_FILE_NAME, PRESET, STEPS_PRESETS, FineTunePlan, new_run_dir, parse_extra_overrides, preset_file,
    resume_command, trainer_arguments, write_config,
)
from trainer.cli import resolve_config_file
from trainer.config import ConfigError, load_config


@pytest.fixture
def plan(tmp_path) -> FineTunePlan:
    return FineTunePlan(base_model=tmp_path / "base.safetensors", photos_dir=tmp_path / "my photos",
                        cartoons_dir=tmp_path / "cartoons", run_dir=tmp_path / "runs" / "20250101-120000",
                        steps=300, crop_size_px=128, device="cpu", backbone="efficientnet_lite0")


def test_the_plan_fills_the_finetune_preset(plan):
    cfg = plan.train_config()
    preset = load_config(resolve_config_file("finetune"))
    assert (cfg.base_model, cfg.photos_dir, cfg.cartoons_dir, cfg.run_dir) == (
        str(plan.base_model), plan.photos_dir, plan.cartoons_dir, plan.run_dir)
    assert (cfg.adversarial_steps, cfg.crop_size, cfg.device, cfg.backbone) == (300, 128, "cpu", "efficientnet_lite0")
    assert (cfg.pretrain_steps, cfg.lr, cfg.batch_size) == (preset.pretrain_steps, preset.lr, preset.batch_size)
    assert cfg.segmenter_path is None and cfg.region_weights == {}  # no regions without the semantic module
    assert preset_file() == resolve_config_file(PRESET)  # the trainer's own preset file
    standard = next(p for p in STEPS_PRESETS if p.key == "standard")
    assert standard.steps == preset.adversarial_steps  # "standard" is the trainer's own fine-tune length


def test_region_weights_go_with_a_semantic_module(plan, tmp_path):
    cfg = replace(plan, segmenter_path=tmp_path / "seg.safetensors", foreground_detail=2.0,
                  background_smoothness=0.8).train_config()
    assert cfg.segmenter_path == tmp_path / "seg.safetensors"
    assert cfg.region_weights == {"foreground": {"texture": 2.0}, "background": {"surface": 0.8}}


def test_extra_settings_use_the_trainers_rules(plan):
    cfg = replace(plan, extra_overrides=parse_extra_overrides("batch_size=2 lr=1e-5 'run_dir=/tmp/a b'"))
    assert (cfg.train_config().batch_size, cfg.train_config().lr) == (2, 1e-5)
    assert cfg.train_config().run_dir == Path("/tmp/a b")  # extra settings come last and win
    with pytest.raises(ConfigError, match="unknown config key 'learning_rate'"):
        replace(plan, extra_overrides=("learning_rate=1",)).train_config()
    with pytest.raises(ConfigError, match="crop_size must be a multiple of 8"):
        replace(plan, crop_size_px=100).train_config()
    with pytest.raises(ValueError):
        parse_extra_overrides("lr='unclosed")


def test_the_written_config_reads_back_identically(plan, tmp_path):
    cfg = replace(plan, segmenter_path=tmp_path / "seg.safetensors",
                  photos_dir=tmp_path / 'odd "quoted" näme').train_config()
    path = write_config(cfg, plan.run_dir)
    assert path == plan.run_dir / CONFIG_FILE_NAME
    assert load_config(path) == cfg
    assert resume_command(plan.run_dir) in path.read_text(encoding="utf-8")


def test_trainer_arguments_and_run_folders(tmp_path):
    config = tmp_path / "fine-tune.toml"
    assert trainer_arguments(config) == ["finetune", "--config", str(config)]
    assert trainer_arguments(config, resume=True)[-1] == "--resume"
    first = new_run_dir(now=0)
    assert first.parent == user_data_dir() / "runs" and not first.exists()
    first.mkdir(parents=True)
    assert new_run_dir(now=0) == first.parent / f"{first.name}-2"


def test_log_sample_and_checkpoint_intervals_fit_a_short_run(plan):
    short = replace(plan, steps=10).train_config()
    assert (short.log_every, short.sample_every, short.checkpoint_every) == (1, 1, 3)
    preset = load_config(preset_file())
    long = replace(plan, steps=100_000).train_config()
    assert (long.log_every, long.sample_every, long.checkpoint_every) == (preset.log_every, preset.sample_every,
                                                                         preset.checkpoint_every)
    chosen = replace(plan, steps=10, extra_overrides=("log_every=5",)).train_config()
    assert chosen.log_every == 5   # extra settings still win
