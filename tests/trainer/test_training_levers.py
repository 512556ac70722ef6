"""The warm start, the stabilisers and the cost levers of `trainer.loop.train` (issue: a faster trainer)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from core.model_file import read_metadata
from tests.trainer.test_loop import logs, run, tiny_config
from trainer.checkpoint import list_checkpoints, load_checkpoint
from trainer.config import ConfigError, TrainConfig
from trainer.data import ImageCropDataset
from trainer.discriminator import DiscriminatorConfig, PatchDiscriminator
from trainer.loop import (
    anchor_weight_at, make_ema, phase_at, scaled_superpixel_segments, update_ema, without_weight_grads,
)

pytestmark = pytest.mark.usefixtures("one_cpu_thread")
WARM, ADVERSARIAL = 3, 4


@pytest.fixture(scope="module")
def lever_run(tmp_path_factory, training_folders, random_segmenter_file):
    """Warm start, then adversarial steps with every lever on: EMA, anchor, segmenter every 2nd step, separate D lr,
    head spectral norm, fresh G optimiser after the warm start."""
    root = tmp_path_factory.mktemp("levers")
    cfg = tiny_config(root / "run", training_folders, pretrain_steps=0, warm_start_steps=WARM,
                      adversarial_steps=ADVERSARIAL, segmenter_path=random_segmenter_file, segmenter_every=2,
                      ema_decay=0.9, anchor_weight=1.0, anchor_decay_steps=2, lr_discriminator=3e-4,
                      warm_start_lr=5e-4,
                      discriminator_head_spectral_norm=True, target_cache_dir=root / "targets",
                      warm_start_perceptual=0.5, checkpoint_every=WARM)
    model_path, events = run(cfg)
    return cfg, model_path, events


def test_phases_and_targets_are_made_first(lever_run):
    cfg, _, events = lever_run
    kinds = [event.KIND for event in events]
    assert kinds.index("targets") < kinds.index("start")
    assert sorted(p.name for p in Path(cfg.target_cache_dir).glob("*.png")) == [f"photo_{i}.png" for i in range(6)]
    steps = logs(events)
    assert [steps[s].phase for s in sorted(steps)] == ["warmstart"] * WARM + ["train"] * ADVERSARIAL
    assert {"target_l1", "target_features"} <= set(steps[1].losses)


def test_anchor_decays_and_segmenter_runs_every_other_step(lever_run):
    _, _, events = lever_run
    steps = logs(events)
    adversarial = [steps[WARM + i] for i in range(1, ADVERSARIAL + 1)]
    # anchor weight 1 → 0.5 → 0 (decay over 2 steps): logged while its weight is non-zero
    assert ["g_anchor" in record.losses for record in adversarial] == [True, True, False, False]
    # the semantic term only on adversarial steps 0 and 2 (segmenter_every=2)
    assert ["g_semantic" in record.losses for record in adversarial] == [True, False, True, False]


def test_ema_is_what_is_exported_and_checkpointed(lever_run):
    cfg, model_path, _ = lever_run
    checkpoint = load_checkpoint(list_checkpoints(cfg.run_dir)[-1])
    ema, raw = checkpoint["models"]["generator_ema"], checkpoint["models"]["generator"]
    exported = load_file(str(model_path))
    assert any(not torch.equal(ema[k], raw[k]) for k in raw)
    for key, tensor in exported.items():
        assert torch.allclose(tensor.float(), ema[key].float(), atol=1e-3, rtol=1e-3), key


def test_optimisers_fresh_after_warm_start_and_separate_lrs(lever_run):
    cfg, _, _ = lever_run
    checkpoints = list_checkpoints(cfg.run_dir)
    warm_end, final = load_checkpoint(checkpoints[0]), load_checkpoint(checkpoints[-1])
    assert warm_end["step"] == WARM and final["step"] == WARM + ADVERSARIAL
    g_state = final["optimizers"]["generator"]["state"]
    assert {int(state["step"]) for state in g_state.values()} == {ADVERSARIAL}  # counted from the reset
    assert final["optimizers"]["discriminators"]["param_groups"][0]["lr"] == pytest.approx(3e-4)
    assert final["optimizers"]["generator"]["param_groups"][0]["lr"] == pytest.approx(cfg.lr)
    assert warm_end["optimizers"]["generator"]["param_groups"][0]["lr"] == pytest.approx(5e-4)  # warm_start_lr
    assert any("head.parametrizations" in key for key in final["models"]["surface_discriminator"])


def test_resume_across_the_warm_start_boundary_is_exact(tmp_path, lever_run):
    cfg, _, uninterrupted = lever_run
    # resume from the warm start's last checkpoint: the same adversarial steps follow, bit for bit
    resumed_dir = tmp_path / "resumed"
    (resumed_dir / "checkpoints").mkdir(parents=True)
    first = list_checkpoints(cfg.run_dir)[0]
    (resumed_dir / "checkpoints" / first.name).write_bytes(first.read_bytes())
    _, resumed = run(replace(cfg, run_dir=resumed_dir, resume=True))
    expected, got = logs(uninterrupted), logs(resumed)
    assert sorted(got) == list(range(WARM + 1, WARM + ADVERSARIAL + 1))
    for step in got:
        for name in ("g_total", "d_total", "g_anchor"):
            assert got[step].losses.get(name) == expected[step].losses.get(name), (step, name)
    # a resumed run takes the config's learning rates, not the checkpoint's
    again = tmp_path / "new-rates"
    (again / "checkpoints").mkdir(parents=True)
    (again / "checkpoints" / first.name).write_bytes(first.read_bytes())
    run(replace(cfg, run_dir=again, resume=True, lr=7e-5, lr_discriminator=9e-5))
    final = load_checkpoint(list_checkpoints(again)[-1])["optimizers"]
    assert final["generator"]["param_groups"][0]["lr"] == pytest.approx(7e-5)
    assert final["discriminators"]["param_groups"][0]["lr"] == pytest.approx(9e-5)


def test_discriminator_warmup_trains_only_the_discriminators(tmp_path, training_folders):
    """The adversarial phase's first steps leave G and its EMA as the warm start left them while the Ds learn; the
    anchor's decay starts with G's first adversarial step."""
    cfg = tiny_config(tmp_path / "run", training_folders, pretrain_steps=0, warm_start_steps=1, adversarial_steps=3,
                      discriminator_warmup_steps=2, ema_decay=0.9, anchor_weight=1.0, anchor_decay_steps=1,
                      target_cache_dir=tmp_path / "targets", log_every=1, checkpoint_every=1, keep_checkpoints=10)
    model_path, events = run(cfg)
    assert read_metadata(model_path).provenance["steps"] == {
        "pretrain": 0, "warm_start": 1, "discriminator_warmup": 2, "adversarial": 1, "total": 4}
    models = {checkpoint["step"]: checkpoint["models"]
              for checkpoint in map(load_checkpoint, list_checkpoints(cfg.run_dir))}
    assert sorted(models) == [1, 2, 3, 4]

    def same(name: str, a: int, b: int) -> bool:
        return all(torch.equal(models[a][name][key], models[b][name][key]) for key in models[a][name])

    for name in ("generator", "generator_ema"):
        assert same(name, 1, 3) and not same(name, 3, 4), name
    assert not same("surface_discriminator", 1, 2) and not same("texture_discriminator", 2, 3)
    steps = logs(events)
    assert ["d_total" in steps[s].losses for s in (2, 3, 4)] == [True, True, True]
    assert ["g_total" in steps[s].losses for s in (2, 3, 4)] == [False, False, True]
    assert "g_anchor" in steps[4].losses  # weight 1 at G's first adversarial step, not already decayed
    with pytest.raises(ConfigError, match="discriminator_warmup_steps"):
        replace(cfg, discriminator_warmup_steps=4)


def test_warm_start_learns_the_targets(tmp_path, training_folders):
    cfg = tiny_config(tmp_path / "warm", training_folders, pretrain_steps=0, warm_start_steps=40,
                      adversarial_steps=0, lr=2e-3, target_cache_dir=tmp_path / "targets")
    _, events = run(cfg)
    losses = [record.losses["target_l1"] for record in logs(events).values()]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_target_crops_match_the_photo_crops(tmp_path, training_folders):
    """The dataset crops photo and target together: with the photos themselves as 'targets' they are equal."""
    photos, _ = training_folders
    targets = tmp_path / "targets"
    for path in photos.iterdir():
        (targets / path.name).parent.mkdir(parents=True, exist_ok=True)
        (targets / path.with_suffix(".png").name).write_bytes(path.read_bytes())
    dataset = ImageCropDataset(photos, 24, target_folder=targets)
    for seed in range(4):
        sample = dataset[(seed % len(dataset), seed)]
        assert torch.allclose(sample["image"], sample["target"])


def test_schedules_and_scaling():
    cfg = TrainConfig(pretrain_steps=2, warm_start_steps=3, adversarial_steps=10, anchor_weight=2.0)
    assert [phase_at(s, cfg) for s in range(6)] == ["pretrain"] * 2 + ["warmstart"] * 3 + ["train"]
    assert [anchor_weight_at(s, cfg) for s in (0, 5, 10, 12)] == [2.0, 1.0, 0.0, 0.0]
    assert anchor_weight_at(3, replace(cfg, anchor_decay_steps=4)) == pytest.approx(0.5)
    assert anchor_weight_at(0, replace(cfg, anchor_weight=0.0)) == 0.0
    assert scaled_superpixel_segments(TrainConfig(crop_size=256)) == 200
    assert scaled_superpixel_segments(TrainConfig(crop_size=128)) == 50
    assert cfg.uses_cartoon_targets and not TrainConfig().uses_cartoon_targets
    with pytest.raises(ConfigError, match="ema_decay"):
        TrainConfig(ema_decay=1.0)
    with pytest.raises(ConfigError, match="backbone_layer"):
        TrainConfig(backbone_layer="conv5_4")


def test_ema_follows_with_a_warm_up():
    generator = torch.nn.Linear(2, 2)
    ema = make_ema(generator)
    assert not any(p.requires_grad for p in ema.parameters())
    with torch.no_grad():
        generator.weight.add_(1.0)
    before = ema.weight.clone()
    update_ema(ema, generator, decay=0.99, step=0)  # effective decay 0.1 at the first step
    assert torch.allclose(ema.weight, before + 0.9)


def test_frozen_discriminators_pass_the_same_gradient_to_g_and_keep_none():
    disc = PatchDiscriminator(DiscriminatorConfig(3, 8)).eval()  # eval: no power-iteration update between calls
    x = torch.randn(1, 3, 16, 16, requires_grad=True)
    disc(x).square().mean().backward()
    free_grad = x.grad.clone()
    x.grad = None
    disc.zero_grad(set_to_none=True)
    with without_weight_grads(disc):
        disc(x).square().mean().backward()
    assert torch.allclose(x.grad, free_grad)
    assert all(p.grad is None for p in disc.parameters()) and all(p.requires_grad for p in disc.parameters())


def test_feature_weights_follow_the_backbone():
    from trainer.backbones import build_backbone
    from trainer.loop import loss_weights
    from trainer.losses import LossWeights

    lite = build_backbone("efficientnet_lite0")
    scaled = loss_weights(TrainConfig(), None, lite)
    assert scaled.content == pytest.approx(90.0 * LossWeights().content)
    assert scaled.structure == pytest.approx(90.0 * LossWeights().structure)
    chosen = loss_weights(TrainConfig(loss_weights={"content": 0.5}), None, lite)
    assert chosen.content == 0.5 and chosen.structure == scaled.structure  # a configured weight wins


def test_a_checkpoint_exports_the_same_model_the_run_does(lever_run, tmp_path):
    from trainer.cli import main
    from trainer.events import EXIT_OK
    from trainer.export import export_checkpoint

    cfg, model_path, _ = lever_run
    exported, step = export_checkpoint(cfg.run_dir, tmp_path / "last.safetensors")  # newest: the final step
    assert step == WARM + ADVERSARIAL
    assert load_file(str(exported)).keys() == load_file(str(model_path)).keys()
    for key, tensor in load_file(str(model_path)).items():
        assert torch.equal(load_file(str(exported))[key], tensor), key  # the EMA weights, like the run's export
    provenance = read_metadata(exported).provenance
    assert provenance["steps"]["warm_start"] == WARM and provenance["segmenter"]["path"] == str(cfg.segmenter_path)
    first = list_checkpoints(cfg.run_dir)[0]
    assert main(["export", str(first)]) == EXIT_OK  # the CLI, to the default name beside the run's own export
    assert read_metadata(cfg.run_dir / f"{cfg.run_dir.name}-step{WARM}.safetensors").provenance["steps"] == {
        "pretrain": 0, "warm_start": WARM, "adversarial": 0, "total": WARM}
