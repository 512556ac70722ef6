"""The live loss plot: it takes the trainer's log lines as they come, draws on linear and log scales, and its
legend shows and hides losses."""
from __future__ import annotations

import math

from PySide6.QtCore import QPoint, Qt

from desktop_app.fine_tune.loss_plot import LossPlot, nice_ticks


def _colours(plot: LossPlot) -> int:
    image = plot.grab().toImage()
    return len({image.pixel(x, y) for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)})


def test_points_arrive_by_name_and_bad_values_are_skipped(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.add_point(1, {"reconstruction": 0.5})
    plot.add_point(2, {"g_total": 0.7, "d_total": 0.8, "g_content": math.nan, "d_surface": 0.4})
    plot.add_point(3, {"g_total": 0.6, "d_total": 0.0, "d_surface": math.inf})
    assert plot.series_names() == ["reconstruction", "g_total", "d_total", "d_surface"]
    assert plot.points("g_total") == [(2, 0.7), (3, 0.6)] and plot.points("d_surface") == [(2, 0.4)]
    assert plot.is_series_visible("g_total") and not plot.is_series_visible("d_surface")  # parts start hidden


def test_it_draws_empty_single_and_many_points_on_both_scales(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(480, 260)
    empty = _colours(plot)
    plot.add_point(5, {"g_total": 0.5})
    plot.grab()  # one point: no division by a zero range
    for step in range(6, 400):
        plot.add_point(step, {"g_total": 1 / step, "d_total": 0.5 + 0.1 * math.sin(step), "g_content": 10.0})
    assert plot.log_scale
    drawn = _colours(plot)
    assert drawn > empty + 5
    plot.set_log_scale(False)
    assert _colours(plot) > empty + 5
    plot.add_point(400, {"g_total": -1.0})  # fine on a linear scale, left out on a log scale
    plot.set_log_scale(True)
    plot.grab()


def test_clicking_a_legend_entry_toggles_its_loss(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(480, 260)
    plot.show()
    plot.add_point(1, {"g_total": 0.5, "d_total": 0.4})
    plot.grab()  # paints, which lays out the legend
    with qtbot.waitSignal(plot.visibility_changed) as changed:
        qtbot.mouseClick(plot, Qt.MouseButton.LeftButton, pos=QPoint(20, 12))  # the first entry, top left
    assert changed.args == ["g_total", False] and not plot.is_series_visible("g_total")
    plot.set_series_visible("g_total", True)
    assert plot.is_series_visible("g_total")


def test_nice_ticks_are_round_numbers():
    assert nice_ticks(0, 1000, 5) == [0, 200, 400, 600, 800, 1000]
    assert nice_ticks(0.13, 0.87, 4) == [0.2, 0.4, 0.6, 0.8]
    assert nice_ticks(3, 3) == [3]
    assert nice_ticks(9, 11, 5, min_step=1) == [9, 10, 11]   # steps: no "9 10 10 10 11" from half steps
