"""Time estimates for the step presets: one formula (start-up + steps × step time), measured or from the CPU
reference per feature network, and their store."""
from __future__ import annotations

import json

import pytest

from desktop_app.fine_tune.estimate import (
    CPU_REFERENCE_S_PER_MEGAPIXEL, CPU_REFERENCE_STARTUP_S, CPU_REFERENCE_THREADS, SpeedRecords, TrainingSpeed,
    format_duration, format_seconds, reference_speed, speed_from_steps,
)


def test_a_measured_step_time_scales_with_batch_and_crop_area_plus_the_start_up():
    speed = speed_from_steps(step_seconds=1.0, batch_size=4, crop_size_px=128, startup_s=20.0)
    assert speed.measured
    assert speed.run_seconds(steps=100, batch_size=4, crop_size_px=128) == pytest.approx(20.0 + 100.0)
    assert speed.run_seconds(steps=100, batch_size=8, crop_size_px=256) == pytest.approx(20.0 + 800.0)
    assert speed.describe(4, 128) == "1.0 s per step (batch 4 of 128 px), plus 20 s to start"


def test_only_the_cpu_gets_a_reference_and_it_depends_on_the_feature_network():
    lite = reference_speed("cpu", threads=4, backbone="efficientnet_lite0")
    vgg = reference_speed("cpu", threads=4, backbone="vgg19")
    assert not lite.measured and lite.startup_s == CPU_REFERENCE_STARTUP_S
    assert lite.seconds_per_megapixel == pytest.approx(
        CPU_REFERENCE_S_PER_MEGAPIXEL["efficientnet_lite0"] * CPU_REFERENCE_THREADS / 4)
    assert vgg.seconds_per_megapixel > 2 * lite.seconds_per_megapixel
    assert reference_speed("cuda", 4, "vgg19") is None and reference_speed("mps", 8, "vgg19") is None


def test_every_feature_network_the_trainer_knows_has_a_cpu_reference():
    from trainer.config import BACKBONES

    assert set(CPU_REFERENCE_S_PER_MEGAPIXEL) == set(BACKBONES)


def test_speed_records_survive_a_restart_and_a_damaged_or_old_file(tmp_path):
    records = SpeedRecords(tmp_path)
    assert records.speed("CPU (2 threads)", "vgg19") is None
    records.remember("CPU (2 threads)", "vgg19", TrainingSpeed(12.5, 30.0, measured=True))
    records.remember("CPU (2 threads)", "efficientnet_lite0", TrainingSpeed(2.5, 12.0, measured=True))
    again = SpeedRecords(tmp_path)
    assert again.speed("CPU (2 threads)", "vgg19") == TrainingSpeed(12.5, 30.0, measured=True)
    assert again.speed("CPU (2 threads)", "efficientnet_lite0").seconds_per_megapixel == 2.5
    records.path.write_text("{broken", encoding="utf-8")
    assert SpeedRecords(tmp_path).load() == {}
    records.path.write_text(json.dumps({"CPU (2 threads)": 7.0,   # an older file: per megapixel only
                                        "a": {"seconds_per_megapixel": -1, "startup_s": 1},
                                        "b": {"seconds_per_megapixel": 2, "startup_s": 3}}), encoding="utf-8")
    assert SpeedRecords(tmp_path).load() == {"b": TrainingSpeed(2.0, 3.0, measured=True)}


@pytest.mark.parametrize("seconds, text", [(20, "under a minute"), (600, "about 10 min"), (3 * 3600 + 600,
                         "about 3 h 10 min"), (30 * 3600, "about 30 h"), (5 * 86400, "about 5 days")])
def test_durations_read_naturally(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds, text", [(0.351, "0.35 s"), (2.44, "2.4 s"), (20.2, "20 s"), (200, "3 min"),
                                           (3900, "1 h 05 min")])
def test_short_times_read_naturally(seconds, text):
    assert format_seconds(seconds) == text


def test_the_speed_test_counts_its_first_step_as_start_up_and_averages_the_others():
    from desktop_app.fine_tune.estimate import speed_from_speed_test

    speed = speed_from_speed_test(first_log_s=12.0, later_images_per_s=[4.0, 4.0, 4.0, 1.0], batch_size=4,
                                  crop_size_px=128)
    assert speed.step_seconds(4, 128) == pytest.approx(1.75)   # (1 + 1 + 1 + 4) / 4: a slow step counts in full
    assert speed.startup_s == pytest.approx(12.0 - 1.75)
