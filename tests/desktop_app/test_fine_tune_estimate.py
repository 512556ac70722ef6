"""Time estimates for the step presets: per-megapixel costs, measured or from the CPU reference, and their store."""
from __future__ import annotations

import pytest

from desktop_app.fine_tune_estimate import (
    CPU_REFERENCE_S_PER_MEGAPIXEL, SpeedRecords, StepCost, cost_from_rate, format_duration, reference_cost,
)


def test_a_measured_rate_scales_with_batch_and_crop_area():
    cost = cost_from_rate(images_per_s=4.0, crop_size_px=128)  # 0.25 s per 128² image
    assert cost.measured
    assert cost.seconds(steps=100, batch_size=4, crop_size_px=128) == pytest.approx(100.0)
    assert cost.seconds(steps=100, batch_size=8, crop_size_px=256) == pytest.approx(800.0)


def test_only_the_cpu_gets_a_reference_estimate():
    cost = reference_cost("cpu", threads=4)
    assert not cost.measured and cost.seconds_per_megapixel == pytest.approx(CPU_REFERENCE_S_PER_MEGAPIXEL / 2)
    assert reference_cost("cuda", threads=4) is None and reference_cost("mps", threads=8) is None


def test_speed_records_survive_a_restart_and_a_damaged_file(tmp_path):
    records = SpeedRecords(tmp_path)
    assert records.cost("CPU (2 threads)") is None
    records.remember("CPU (2 threads)", StepCost(12.5, measured=True))
    records.remember("NVIDIA GeForce RTX 4070", StepCost(0.05, measured=True))
    assert SpeedRecords(tmp_path).cost("CPU (2 threads)") == StepCost(12.5, measured=True)
    records.path.write_text("{broken", encoding="utf-8")
    assert SpeedRecords(tmp_path).load() == {}
    records.path.write_text('{"a": "fast", "b": -1, "c": 2}', encoding="utf-8")
    assert SpeedRecords(tmp_path).load() == {"c": 2.0}


@pytest.mark.parametrize("seconds, text", [(20, "under a minute"), (600, "about 10 min"), (3 * 3600 + 600,
                         "about 3 h 10 min"), (30 * 3600, "about 30 h"), (5 * 86400, "about 5 days")])
def test_durations_read_naturally(seconds, text):
    assert format_duration(seconds) == text
