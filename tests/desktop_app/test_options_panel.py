"""The options panel: the wheel scrolls the panel unless a field has the focus, output names, region strength,
encoders that open on this machine, and which job's options it shows."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QScrollArea

from desktop_app.job import JobStatus
from desktop_app.job_options import JobOptions
from desktop_app.options_panel import OptionsPanel
from tests.desktop_app.conftest import TINY_MODEL_NAME, wait_for_status, write_photo


def _wheel_over(widget, notches: int = -1) -> None:
    position = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(position, widget.mapToGlobal(position), QPoint(), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_panel_unless_the_field_has_the_focus(qtbot):
    panel = OptionsPanel()
    scroll = QScrollArea()
    scroll.setWidget(panel)
    scroll.setWidgetResizable(True)
    qtbot.addWidget(scroll)
    scroll.resize(360, 250)   # short: the panel scrolls
    scroll.show()
    qtbot.waitExposed(scroll)
    bar = scroll.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == 0
    for widget in (panel.quality_spin, panel.format_combo, panel.strength_slider):
        before = (panel.quality_spin.value(), panel.format_combo.currentIndex(), panel.strength_slider.value())
        _wheel_over(widget)
        assert (panel.quality_spin.value(), panel.format_combo.currentIndex(),
                panel.strength_slider.value()) == before, widget
    assert bar.value() > 0                      # the panel scrolled instead
    panel.quality_spin.setFocus()
    qtbot.waitUntil(panel.quality_spin.hasFocus)
    _wheel_over(panel.quality_spin)
    assert panel.quality_spin.value() == 94     # focused: the wheel is the field's


def test_name_pattern_and_outputs_beside_the_inputs(qtbot):
    panel = OptionsPanel()
    qtbot.addWidget(panel)
    panel.set_options(JobOptions())
    assert not panel.beside_inputs_check.isEnabled()   # "{stem}" would take the inputs' names
    panel.name_pattern_combo.setCurrentText("{stem}_cartoon")
    assert panel.name_example.text() == "photo.jpg → photo_cartoon.jpg"
    assert panel.beside_inputs_check.isEnabled()
    panel.beside_inputs_check.setChecked(True)
    options = panel.options()
    assert (options.name_pattern, options.beside_inputs) == ("{stem}_cartoon", True)
    assert not panel.output_folder_edit.isEnabled()
    with qtbot.assertNotEmitted(panel.options_changed):
        panel.name_pattern_combo.setCurrentText("no_stem_here")      # refused by the engine's check
    assert panel.name_example.text() == "not valid" and "{stem}" in panel.name_example.toolTip()
    assert panel.options().name_pattern == "{stem}_cartoon"          # the last valid one stays
    panel.name_pattern_combo.setCurrentText("{stem}")
    assert not panel.options().beside_inputs                         # it would replace the inputs


def test_only_encoders_that_open_here_can_be_chosen(qtbot):
    panel = OptionsPanel()
    qtbot.addWidget(panel)
    panel.set_available_codecs({"libx264"})
    model = panel.codec_combo.model()
    assert model.item(0).isEnabled() and not model.item(1).isEnabled()
    assert panel.codec_combo.itemText(1).endswith("(not available here)")


def test_the_window_offers_only_the_encoders_of_this_machine(window, qtbot):
    from desktop_app.job_options import usable_video_codecs

    qtbot.waitUntil(lambda: window.usable_codecs is not None, timeout=20_000)
    assert window.usable_codecs == usable_video_codecs() and "libx264" in window.usable_codecs
    model = window.options_panel.codec_combo.model()
    for row in range(model.rowCount()):
        codec = window.options_panel.codec_combo.itemData(row)
        assert model.item(row).isEnabled() == (codec in window.usable_codecs)


def test_region_sliders_reach_the_preview_and_the_job(window, tmp_path, qtbot):
    photo = write_photo(tmp_path / "regions" / "p.png", height=96, width=128)
    [job] = window.add_paths([photo.parent])
    qtbot.waitUntil(lambda: window.preview.last_result is not None, timeout=20_000)
    first = window.preview.last_result
    panel = window.options_panel
    panel.background_slider.setValue(0)
    panel.foreground_slider.setValue(0)           # no cartoon anywhere: the preview's after is the photo
    qtbot.waitUntil(lambda: window.preview.last_result.generation > first.generation
                    and job.options.foreground_strength == 0.0, timeout=30_000)
    qtbot.waitUntil(lambda: _after_equals_before(window), timeout=30_000)
    assert job.options.region_strength().background == 0.0
    assert panel.foreground_label.text() == "0 %"


def _after_equals_before(window) -> bool:
    from tests.desktop_app.test_preview import _pixels

    result = window.preview.last_result
    return result is not None and abs(_pixels(result.after).astype(int) - _pixels(result.before)).max() <= 1


def test_the_panel_shows_the_selected_jobs_options_and_the_job_runs_with_them(window, make_photo_folder, qtbot):
    panel = window.options_panel
    panel.set_options(JobOptions(model=TINY_MODEL_NAME, device="cpu", output_format="png"))   # for new jobs
    first = window.add_paths([make_photo_folder("first", count=1)])[0]
    second = window.add_paths([make_photo_folder("second", count=1)])[0]
    assert first.options.output_format == second.options.output_format == "png"
    window.table.selectRow(window.queue_model.row_of(first.id))
    panel.format_combo.setCurrentIndex(panel.format_combo.findData("jpeg"))
    assert first.options.output_format == "jpeg" and second.options.output_format == "png"
    assert "first" in panel.scope_label.text()
    window.table.selectRow(window.queue_model.row_of(second.id))
    assert panel.options().output_format == "png"           # the panel shows the selected job's own options
    window.table.setFocus()
    QTest.keyClick(window.table, Qt.Key.Key_Escape)      # Esc deselects
    assert not window.selected_jobs()
    assert panel.scope_label.text() == "Options for new jobs" and panel.options().output_format == "png"
    window.table.selectRow(window.queue_model.row_of(first.id))
    window.commands.start.trigger()
    wait_for_status(qtbot, first, [JobStatus.DONE, JobStatus.FAILED])
    assert first.status == JobStatus.DONE, first.error
    assert [p.suffix for p in first.output_dir.iterdir()] == [".jpg"]   # what ran is what the panel showed
    assert not panel.groups[1].isEnabled() and "ran with these" in panel.scope_label.text()


def test_every_encoder_the_engine_offers_is_listed_with_its_own_label():
    from core.video import VIDEO_CODECS
    from desktop_app.options_panel import CODEC_CHOICES, CODEC_LABELS

    assert [codec for _label, codec in CODEC_CHOICES] == list(VIDEO_CODECS) and set(CODEC_LABELS) == set(VIDEO_CODECS)
