from __future__ import annotations

import pytest

from tests.conftest import SHARED_DIR, requires_shared
from trainer.config import ConfigError
from trainer.events import SegmenterEvaluated, SegmenterSaved, SegmenterTrainingStarted, TrainingProgress
from trainer.semantic import load_segmenter
from trainer.segmenter_training import load_segmenter_config, split_domains, train_segmenter

pytestmark = pytest.mark.usefixtures("one_cpu_thread")
DATA = SHARED_DIR / "data"
DOMAINS = {"selfies": ("photos/selfies", "masks/selfies"), "scenes": ("photos/scenes", "masks/scenes"),
           "anime": ("cartoons/anime", "masks/anime")}


def shared_overrides(tmp_path, images_per_domain: int = 6) -> list[str]:
    overrides = [f"output={tmp_path / 'segmenter.safetensors'}", "crop_size=64", "batch_size=3", "steps=3",
                 "log_every=1", "eval_every=3", "num_workers=0", "device=cpu",
                 f"images_per_domain={images_per_domain}", "heldout_per_domain=2"]
    for name, (images, masks) in DOMAINS.items():
        overrides += [f"image_dirs.{name}={DATA / images}", f"mask_dirs.{name}={DATA / masks}"]
    return overrides


@requires_shared(DATA / "masks")
def test_a_few_steps_on_the_shared_masks_report_iou_per_domain_and_save(tmp_path):
    cfg = load_segmenter_config(None, shared_overrides(tmp_path))
    events = []
    path = train_segmenter(cfg, emit=events.append)

    assert [type(event) for event in events] == [SegmenterTrainingStarted, *[TrainingProgress] * 3,
                                                  SegmenterEvaluated, SegmenterSaved]
    assert events[0].domains == {name: {"train": 4, "heldout": 2} for name in ("anime", "scenes", "selfies")}
    assert events[1].phase == "segmenter" and set(events[1].losses) == {"loss", "lr"}
    iou = events[-1].iou
    assert set(iou) == set(DOMAINS) and all(0.0 <= value <= 1.0 for value in iou.values())

    segmenter = load_segmenter(path)
    assert segmenter.regions == ("background", "foreground")
    provenance = segmenter.metadata.provenance
    assert provenance["heldout_foreground_iou"] == iou and provenance["steps"] == 3
    assert provenance["encoder_weights"].startswith("ImageNet")


@requires_shared(DATA / "masks")
def test_held_out_images_never_train(tmp_path):
    cfg = load_segmenter_config(None, shared_overrides(tmp_path, images_per_domain=40))
    for split in split_domains(cfg):
        assert len(split.heldout) == 2 and len(split.train) == 38
        assert not set(split.heldout) & set(split.train)
        assert split.dataset.masks is not None  # every sample comes with its mask
    # the split depends on the seed only: the same again
    assert [s.heldout for s in split_domains(cfg)] == [s.heldout for s in split_domains(cfg)]


@pytest.mark.parametrize("overrides, message", [
    (["stpes=3"], "did you mean 'steps'"),
    (["steps=0"], "steps must be at least 1"),
    (["image_dirs.a=x"], "must name the same domains"),
    (["crop_size.x=1"], "not a table"),
    (["lr=quick"], "lr must be a number"),
])
def test_config_errors_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_segmenter_config(None, overrides)


def test_no_domains_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="image_dirs is empty"):
        split_domains(load_segmenter_config(None, []))
