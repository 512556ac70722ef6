from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from trainer.config import BACKBONES, ConfigError, TrainConfig, apply_overrides, load_config


def test_defaults_follow_the_paper_and_the_brief():
    config = TrainConfig()
    assert (config.crop_size, config.lr, config.adam_betas, config.keep_checkpoints) == (256, 2e-4, (0.5, 0.99), 3)
    assert config.batch_size == 16 and config.backbone == "vgg19" and config.base_model is None


def test_toml_file_and_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        'photos_dir = "data/photos"\n'
        "batch_size = 8\n"
        "lr = 1\n"                               # an integer where a float is expected is fine
        "adam_betas = [0.0, 0.9]\n"
        'backbone = "efficientnet_lite0"\n'
        "[loss_weights]\nsurface = 0.1\ncontent = 200\n"
        "[region_weights.foreground]\ntexture = 2.0\n",
        encoding="utf-8")
    config = load_config(path, ["lr=1e-4", "device=cuda:1", "run_dir=runs/my run", "loss_weights.texture=1",
                                "region_weights.background.surface=0.5", "base_model=2024", "seed=7"])
    assert config.photos_dir == Path("data/photos") and isinstance(config.lr, float) and config.lr == 1e-4
    assert config.adam_betas == (0.0, 0.9) and config.batch_size == 8 and config.seed == 7
    assert config.device == "cuda:1" and config.run_dir == Path("runs/my run")
    assert config.loss_weights == {"surface": 0.1, "content": 200.0, "texture": 1.0}
    assert config.region_weights == {"foreground": {"texture": 2.0}, "background": {"surface": 0.5}}
    assert config.base_model == "2024"           # text field: the number-looking value stays a name


def test_to_dict_is_plain_and_round_trips():
    config = apply_overrides(TrainConfig(), ["photo_masks_dir=masks/photos", "loss_weights.tv=10000"])
    data = config.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["photo_masks_dir"] == "masks/photos" and data["adam_betas"] == [0.5, 0.99]
    assert TrainConfig.from_dict(data) == config


def test_none_clears_an_optional_field():
    config = apply_overrides(TrainConfig(base_model="white-box"), ["base_model=none"])
    assert config.base_model is None
    with pytest.raises(ConfigError, match="batch_size must be an integer"):
        apply_overrides(TrainConfig(), ["batch_size=none"])


@pytest.mark.parametrize("override, message", [
    ("lrr=0.1", r"unknown config key 'lrr' \(did you mean 'lr'\?\)"),
    ("batch_size=8.5", "batch_size must be an integer, got a number 8.5"),
    ("resume=1", "resume must be true or false"),
    ("lr=fast", "lr must be a number, got text 'fast'"),
    ("adam_betas=[0.5]", "adam_betas must hold 2 values"),
    ("loss_weights.surface=high", "loss_weights.surface must be a number"),
    ("crop_size.x=1", "crop_size is not a table"),
    ("crop_size=100", "multiple of 8"),
    ("backbone=resnet", "backbone must be one of vgg19, efficientnet_lite0"),
    ("precision=fp8", "precision must be one of"),
    ("keep_checkpoints=0", "keep_checkpoints must be at least 1"),
    ("no_equals_sign", "not of the form key=value"),
])
def test_bad_overrides_name_the_problem(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(TrainConfig(), [override])


def test_bad_files_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("lr = = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[data]\nphotos_dir = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown config key 'data'"):
        load_config(unknown)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("[region_weights]\nforeground = 1.0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="region_weights.foreground must be a table"):
        load_config(wrong)


def test_every_listed_backbone_is_one_the_builder_knows(tmp_path):
    """BACKBONES (light, for the GUI) names what trainer.backbones builds: each listed name gets as far as looking
    for its weights, any other is refused by name."""
    backbones = pytest.importorskip("trainer.backbones")
    for name in BACKBONES:
        with pytest.raises(backbones.BackboneUnavailableError, match="weights file not found"):
            backbones.build_backbone(name, tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="unknown backbone 'resnet50': choose one of vgg19, efficientnet_lite0"):
        backbones.build_backbone("resnet50", tmp_path / "missing.safetensors")


def test_one_toml_writer_round_trips_any_config(tmp_path):
    from trainer.config import write_config_toml
    from trainer.segmenter_training import SegmenterTrainingConfig

    config = TrainConfig(lr=1e-5, adam_betas=(0.5, 0.9), run_dir=Path("runs/a b"), base_model=None,
                         loss_weights={"texture": 2.0}, region_weights={"foreground": {"surface": 0.5}},
                         target_recipe={"outline_low": 30.0}, photo_masks_dir=Path("masks/é"))
    assert load_config(write_config_toml(config, tmp_path / "train.toml")) == config
    segmenter = SegmenterTrainingConfig(image_dirs={"people": Path("p")}, mask_dirs={"people": Path("m")},
                                        images_per_domain=None, steps=5)
    path = write_config_toml(segmenter, tmp_path / "segmenter.toml")
    assert load_config(path, cls=SegmenterTrainingConfig) == segmenter
    assert load_config(path, ["steps=7", "image_dirs.people=q"], cls=SegmenterTrainingConfig) == replace(
        segmenter, steps=7, image_dirs={"people": Path("q")})
