"""The options panel: model, device, style strength, output and video settings, edited as one `JobOptions`.

Widgets hold the values only while they are shown: `options()` reads them into a JobOptions and `set_options()`
writes one back (restoring settings). Video settings are kept and saved now, and stay disabled until the engine
takes them."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
    QSlider, QSpinBox, QVBoxLayout, QWidget,
)

from desktop_app.device_combo import DeviceComboBox
from desktop_app.job_options import JobOptions
from desktop_app.model_combo import ModelComboBox

FORMAT_CHOICES = (("Same as input", "same"), ("PNG", "png"), ("JPEG", "jpeg"), ("WebP", "webp"))
CODEC_CHOICES = (("H.264 (libx264, CPU)", "libx264"), ("H.264 (NVENC, NVIDIA GPU)", "h264_nvenc"))
KEEP_AUDIO_TIP = ("The engine always keeps the sound (copied untouched, never re-encoded); an option to drop it "
                  "is not there yet.")
MIN_TILE_PX = 256


class OptionsPanel(QWidget):
    options_changed = Signal(object)        # JobOptions
    import_model_requested = Signal()
    remove_model_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._loading = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self._build_model_group())
        layout.addWidget(self._build_output_group())
        layout.addWidget(self._build_video_group())
        layout.addStretch(1)
        self._connect_changes()

    # --- building ------------------------------------------------------------------------------------------
    def _build_model_group(self) -> QGroupBox:
        group = QGroupBox("Model and device")
        form = QFormLayout(group)
        self.model_combo = ModelComboBox()
        self.model_combo.setObjectName("model_combo")
        self.model_description = QLabel()
        self.model_description.setWordWrap(True)
        self.model_description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_description.setStyleSheet("color: palette(placeholder-text);")
        self.import_model_button = QPushButton("Import model…")
        self.remove_model_button = QPushButton("Remove")
        self.remove_model_button.setToolTip("Delete the selected model (only your own models can be removed)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.import_model_button)
        buttons.addWidget(self.remove_model_button)
        buttons.addStretch(1)
        self.device_combo = DeviceComboBox()
        self.device_combo.setObjectName("device_combo")
        self.strength_slider = QSlider(Qt.Orientation.Horizontal)
        self.strength_slider.setRange(0, 100)
        self.strength_slider.setValue(100)
        self.strength_slider.setToolTip("Blend of photo and cartoon: 0 % keeps the photo, 100 % is the full cartoon")
        self.strength_label = QLabel("100 %")
        self.strength_label.setMinimumWidth(40)
        strength = QHBoxLayout()
        strength.addWidget(self.strength_slider, 1)
        strength.addWidget(self.strength_label)
        form.addRow("Model", self.model_combo)
        form.addRow("", self.model_description)
        form.addRow("", buttons)
        form.addRow("Device", self.device_combo)
        form.addRow("Style strength", strength)
        self.import_model_button.clicked.connect(self.import_model_requested)
        self.remove_model_button.clicked.connect(self.remove_model_requested)
        self.model_combo.model_changed.connect(self._show_model_card)
        return group

    def _build_output_group(self) -> QGroupBox:
        group = QGroupBox("Output")
        form = QFormLayout(group)
        self.output_folder_edit = QLineEdit()
        self.output_folder_edit.setPlaceholderText("next to each input: <name>_cartoon")
        self.output_folder_edit.setClearButtonEnabled(True)
        self.output_folder_edit.setToolTip("Empty: a <name>_cartoon folder beside each input (never over it). "
                                           "A folder: each job writes into it (a subfolder per input folder).")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_output_folder)
        folder = QHBoxLayout()
        folder.addWidget(self.output_folder_edit, 1)
        folder.addWidget(browse)
        self.format_combo = QComboBox()
        for label, value in FORMAT_CHOICES:
            self.format_combo.addItem(label, value)
        self.format_combo.setToolTip("“Same as input” keeps JPEG, PNG and WebP and writes PNG for the others")
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(95)
        self.quality_spin.setToolTip("JPEG and WebP quality")
        self.max_side_spin = QSpinBox()
        self.max_side_spin.setRange(0, 16384)
        self.max_side_spin.setSingleStep(256)
        self.max_side_spin.setSpecialValueText("original size")
        self.max_side_spin.setSuffix(" px")
        self.max_side_spin.setToolTip("Downscale so the longer side is at most this (never enlarges)")
        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(0, 8192)
        self.tile_spin.setSingleStep(128)
        self.tile_spin.setSpecialValueText("automatic")
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setToolTip("Tile size for large pictures; automatic picks it from the device's memory. "
                                  f"Smaller tiles need less memory (at least {MIN_TILE_PX} px).")
        self.skip_existing_check = QCheckBox("Skip outputs that already exist (resume)")
        self.skip_existing_check.setChecked(True)
        self.skip_existing_check.setToolTip("Off: existing outputs are replaced")
        form.addRow("Folder", folder)
        form.addRow("Format", self.format_combo)
        form.addRow("Quality", self.quality_spin)
        form.addRow("Max side", self.max_side_spin)
        form.addRow("Tiles", self.tile_spin)
        form.addRow("", self.skip_existing_check)
        return group

    def _build_video_group(self) -> QGroupBox:
        group = QGroupBox("Video")
        form = QFormLayout(group)
        self.codec_combo = QComboBox()
        for label, value in CODEC_CHOICES:
            self.codec_combo.addItem(label, value)
        self.crf_spin = QSpinBox()
        self.crf_spin.setRange(0, 51)
        self.crf_spin.setValue(18)
        self.crf_spin.setPrefix("CRF ")
        self.keep_audio_check = QCheckBox("Keep the audio")
        self.keep_audio_check.setChecked(True)
        self.smoothing_check = QCheckBox("Temporal smoothing (less flicker)")
        form.addRow("Codec", self.codec_combo)
        form.addRow("Quality", self.crf_spin)
        form.addRow("", self.keep_audio_check)
        form.addRow("", self.smoothing_check)
        self.codec_combo.setToolTip("H.264 on the CPU (libx264) or on an NVIDIA GPU's encoder (NVENC)")
        self.crf_spin.setToolTip("H.264 quality: 0 is lossless, 18 looks lossless, 51 is the smallest file")
        self.smoothing_check.setToolTip("Blends each frame with the previous one along the motion, where the picture "
                                        "did not change, so that still areas do not shimmer")
        self.keep_audio_check.setEnabled(False)
        self.keep_audio_check.setToolTip(KEEP_AUDIO_TIP)
        self.video_widgets = (self.codec_combo, self.crf_spin, self.smoothing_check)
        return group

    def _connect_changes(self) -> None:
        for signal in (self.model_combo.model_changed, self.device_combo.spec_changed,
                       self.strength_slider.valueChanged, self.output_folder_edit.editingFinished,
                       self.format_combo.currentIndexChanged, self.quality_spin.valueChanged,
                       self.max_side_spin.valueChanged, self.tile_spin.valueChanged,
                       self.skip_existing_check.toggled, self.codec_combo.currentIndexChanged,
                       self.crf_spin.valueChanged, self.keep_audio_check.toggled, self.smoothing_check.toggled):
            signal.connect(self._emit_changed)
        self.strength_slider.valueChanged.connect(lambda value: self.strength_label.setText(f"{value} %"))
        self.format_combo.currentIndexChanged.connect(self._update_quality_enabled)

    # --- values --------------------------------------------------------------------------------------------
    def options(self) -> JobOptions:
        tile = self.tile_spin.value()
        return JobOptions(
            model=self.model_combo.model_name(), device=self.device_combo.spec(),
            output_folder=self.output_folder_edit.text().strip() or None,
            output_format=self.format_combo.currentData(), quality=self.quality_spin.value(),
            max_side_px=self.max_side_spin.value() or None,
            tile_size_px=max(MIN_TILE_PX, tile) if tile else None,
            skip_existing=self.skip_existing_check.isChecked(), strength=self.strength_slider.value() / 100.0,
            video_codec=self.codec_combo.currentData(), video_crf=self.crf_spin.value(),
            keep_audio=self.keep_audio_check.isChecked(), temporal_smoothing=self.smoothing_check.isChecked())

    def set_options(self, options: JobOptions) -> None:
        self._loading = True
        try:
            self.model_combo.set_model_name(options.model)
            self.device_combo.set_spec(options.device)
            self.strength_slider.setValue(round(options.strength * 100))
            self.output_folder_edit.setText(options.output_folder or "")
            self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(options.output_format)))
            self.quality_spin.setValue(options.quality)
            self.max_side_spin.setValue(options.max_side_px or 0)
            self.tile_spin.setValue(options.tile_size_px or 0)
            self.skip_existing_check.setChecked(options.skip_existing)
            self.codec_combo.setCurrentIndex(max(0, self.codec_combo.findData(options.video_codec)))
            self.crf_spin.setValue(options.video_crf)
            self.keep_audio_check.setChecked(options.keep_audio)
            self.smoothing_check.setChecked(options.temporal_smoothing)
        finally:
            self._loading = False
        self._update_quality_enabled()
        self._emit_changed()

    def set_output_folder(self, folder: str) -> None:
        self.output_folder_edit.setText(folder)
        self._emit_changed()

    # --- reactions -----------------------------------------------------------------------------------------
    def _emit_changed(self, *_args: object) -> None:
        if not self._loading:
            self.options_changed.emit(self.options())

    def _update_quality_enabled(self, *_args: object) -> None:
        self.quality_spin.setEnabled(self.format_combo.currentData() in ("same", "jpeg", "webp"))

    def _show_model_card(self, _name: object) -> None:
        entry = self.model_combo.current_entry()
        self.remove_model_button.setEnabled(entry is not None and not entry.bundled)
        if entry is None:
            self.model_description.setText("Import a model (our .safetensors files or a White-box .tflite) "
                                           "to start cartoonizing.")
            return
        meta = entry.metadata
        text = meta.description or "No description."
        self.model_description.setText(f"{text}\nLicence: {meta.license}")

    def _browse_output_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output_folder_edit.text())
        if folder:
            self.set_output_folder(folder)
