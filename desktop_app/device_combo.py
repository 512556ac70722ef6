"""The device chooser: Auto, the CPU, each CUDA GPU by name and memory and Apple MPS where present, straight from
the engine's `list_devices` (asked on a worker: initialising CUDA can take seconds). A long label is elided in the
closed box and shown whole in the popup and the tooltip (ElidedComboBox)."""
from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWidget

from core.devices import AUTO, DeviceInfo, list_devices

from desktop_app.elided_combo import ElidedComboBox
from desktop_app.function_worker import run_in_background
from desktop_app.log_panel import details

log = logging.getLogger("desktop_app.devices")

AUTO_TEXT = "Auto (CUDA GPU, then Apple GPU, then CPU)"


class DeviceComboBox(ElidedComboBox):
    devices_loaded = Signal(list)       # list[DeviceInfo]
    spec_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, about="Where the model runs. A CUDA failure offers a retry on the CPU.")
        self._wanted = AUTO
        self.devices: list[DeviceInfo] = []
        self.addItem(AUTO_TEXT, AUTO)
        self.currentIndexChanged.connect(self._on_index_changed)

    def refresh(self) -> None:
        """Ask the engine for the machine's devices; the list fills when it answers."""
        run_in_background(list_devices, on_returned=self._fill,
                          on_errored=lambda message, trace: log.error("could not list devices: %s", message,
                                                                      extra=details(trace)))

    def spec(self) -> str:
        """The chosen device; before the list has loaded, the one asked for (a saved choice survives start-up)."""
        return (self.currentData() or AUTO) if self.devices else self._wanted

    def set_spec(self, spec: str) -> None:
        """Select `spec`; one that this machine lacks stays selected and says so (never silently replaced)."""
        self._wanted = spec
        index = self.findData(spec)
        if index < 0 and self.devices:
            self.addItem(f"{spec} (not found on this machine)", spec)
            index = self.count() - 1
        if index >= 0:
            self.setCurrentIndex(index)

    def _fill(self, devices: list[DeviceInfo]) -> None:
        wanted = self._wanted
        self.blockSignals(True)
        self.clear()
        self.addItem(AUTO_TEXT, AUTO)
        for device in devices:
            self.addItem(device.label, device.spec)
            self.setItemData(self.count() - 1, f"--device {device.spec}", Qt.ItemDataRole.ToolTipRole)
        self.devices = list(devices)
        self.blockSignals(False)
        self.set_spec(wanted)
        self.devices_loaded.emit(self.devices)

    def _on_index_changed(self, _index: int) -> None:
        self._wanted = self.currentData() or AUTO
        self.spec_changed.emit(self._wanted)
