"""Long entries in narrow combo boxes: the closed box paints them elided ("…"), the popup and the tooltip show them
whole; the model and device choosers of the main window behave so."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from desktop_app.device_combo import AUTO_TEXT, DeviceComboBox
from desktop_app.elided_combo import ElidedComboBox
from desktop_app.model_combo import ModelComboBox

LONG_TEXT = "Cartoon v2 (CPU warm start, 4,000 steps) (bundled, default)"


def _shown(qtbot, combo: QComboBox, width: int) -> QComboBox:
    qtbot.addWidget(combo)
    combo.setFixedSize(width, 26)
    combo.show()
    qtbot.waitExposed(combo)
    return combo


def _assert_elided(combo: QComboBox, full_text: str) -> None:
    shown = combo.displayed_text()
    assert shown.endswith("…") and full_text.startswith(shown[:-1]) and len(shown) < len(full_text)
    assert combo.fontMetrics().horizontalAdvance(shown) < combo.width()


def test_a_long_entry_in_a_narrow_combo_is_elided_and_whole_in_the_tooltip_and_popup(qtbot):
    combo = ElidedComboBox(about="What it chooses.")
    combo.addItems(["Short", LONG_TEXT])
    combo.setCurrentIndex(1)
    _shown(qtbot, combo, 140)
    _assert_elided(combo, LONG_TEXT)
    assert combo.toolTip() == f"{LONG_TEXT}\nWhat it chooses."
    full_width = combo.fontMetrics().horizontalAdvance(LONG_TEXT)
    assert combo.popup_width() > full_width
    combo.showPopup()
    assert combo.view().minimumWidth() == combo.popup_width()
    assert combo.view().width() > full_width   # the list shows the entry whole
    combo.hidePopup()
    combo.setCurrentIndex(0)
    assert combo.displayed_text() == "Short" and combo.toolTip() == "Short\nWhat it chooses."


def test_the_closed_box_paints_exactly_the_elided_text(qtbot):
    """Drawn the same as a plain QComboBox holding the elided text, so paintEvent shows what displayed_text says."""
    combo = ElidedComboBox()
    combo.addItem(LONG_TEXT)
    _shown(qtbot, combo, 140)
    plain, clipped = QComboBox(), QComboBox()
    plain.addItem(combo.displayed_text())
    clipped.addItem(LONG_TEXT)
    for other in (plain, clipped):
        _shown(qtbot, other, 140)
    assert combo.grab().toImage() == plain.grab().toImage()
    assert combo.grab().toImage() != clipped.grab().toImage()   # Qt's own box would clip it instead


def test_a_wide_combo_shows_the_whole_text(qtbot):
    combo = ElidedComboBox()
    combo.addItem(LONG_TEXT)
    _shown(qtbot, combo, combo.fontMetrics().horizontalAdvance(LONG_TEXT) + 80)
    assert combo.displayed_text() == LONG_TEXT


def test_the_tooltip_follows_a_refill_made_with_the_signals_blocked(qtbot):
    combo = _shown(qtbot, ElidedComboBox(), 140)
    combo.addItem("Old")
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(LONG_TEXT)
    combo.blockSignals(False)
    assert combo.toolTip() == LONG_TEXT
    combo.setItemText(0, "Renamed")
    assert combo.toolTip() == "Renamed"


def test_the_model_and_device_choosers_elide_their_long_entries(qtbot, bundled_tiny_model):
    models = ModelComboBox()
    models.refresh()
    _shown(qtbot, models, 90)
    entry_text = models.currentText()
    assert entry_text == "Tiny test model (bundled, default)"
    _assert_elided(models, entry_text)
    assert models.toolTip().startswith(entry_text + "\n")
    assert models.itemData(0, Qt.ItemDataRole.ToolTipRole).startswith("Tiny test model\n")  # the card, per entry
    devices = _shown(qtbot, DeviceComboBox(), 120)
    _assert_elided(devices, AUTO_TEXT)
    assert devices.toolTip().startswith(AUTO_TEXT + "\nWhere the model runs.")
    assert devices.popup_width() > devices.fontMetrics().horizontalAdvance(AUTO_TEXT)
