"""The options panel: model, device, style strength, output and video settings, edited as one `JobOptions`.

Widgets hold the values only while they are shown: `options()` reads them into a JobOptions and `set_options()`
writes one back. The panel shows either the options for new jobs or those of the selected job (`set_scope`), and
says which; a job that runs or ran keeps its options, so the panel is then read-only.

Spin boxes, combo boxes and sliders take the mouse wheel only when they have the focus: a wheel turned over the
panel scrolls it instead of changing the value under the pointer."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractScrollArea, QAbstractSlider, QAbstractSpinBox, QApplication, QCheckBox, QComboBox, QDoubleSpinBox,
    QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSizePolicy, QSlider, QSpinBox,
    QStyle, QToolButton, QVBoxLayout, QWidget,
)

from core.cartoonizer import MIN_TILE_PX
from core.output_names import DEFAULT_NAME_PATTERN, keeps_names_apart, output_stem
from core.segmenter import bundled_segmenter_path
from core.video import VIDEO_CODECS

from desktop_app.device_combo import DeviceComboBox
from desktop_app.elided_combo import ElidedComboBox
from desktop_app.job_options import JobOptions, name_pattern_problem
from desktop_app.model_combo import ModelComboBox, model_card

FORMAT_CHOICES = (("Same as input", "same"), ("PNG", "png"), ("JPEG", "jpeg"), ("WebP", "webp"))
CODEC_LABELS = {"libx264": "H.264 (libx264, CPU)", "h264_nvenc": "H.264 (NVENC, NVIDIA GPU)"}
CODEC_CHOICES = tuple((CODEC_LABELS.get(codec, codec), codec) for codec in VIDEO_CODECS)  # the engine's encoders
UNAVAILABLE_SUFFIX = " (not available here)"
SHORT_DESCRIPTION_CHARS = 110
NOTE_STYLE = "color: palette(placeholder-text);"
PROBLEM_STYLE = "color: #b3261e;"
NAME_PATTERN_CHOICES = ("{stem}", "{stem}_cartoon", "cartoon_{stem}")


class OptionsPanel(QWidget):
    options_changed = Signal(object)        # JobOptions
    import_model_requested = Signal()
    remove_model_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._loading = False
        self._name_pattern = DEFAULT_NAME_PATTERN
        self.scope_label = QLabel()
        self.scope_label.setWordWrap(True)
        self.scope_label.setStyleSheet("font-weight: 600;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(6)
        layout.addWidget(self.scope_label)
        self.groups = (self._build_model_group(), self._build_output_group(), self._build_video_group())
        for group in self.groups:
            layout.addWidget(group)
        layout.addStretch(1)
        self._connect_changes()
        self._wheel_only_when_focused()
        self.set_scope(None)
        self._update_enabled()

    # --- building ------------------------------------------------------------------------------------------
    def _build_model_group(self) -> QGroupBox:
        group = QGroupBox("Model and device")
        form = _form(group)
        self.model_combo = ModelComboBox()
        self.model_combo.setObjectName("model_combo")
        self.model_description = QLabel()
        self.model_description.setWordWrap(True)
        self.model_description.setStyleSheet(NOTE_STYLE)
        self.model_description.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.import_model_button = _icon_button("Import…", QStyle.StandardPixmap.SP_DialogOpenButton,
                                                "Import a model file (.safetensors, White-box .tflite, .pt)")
        self.remove_model_button = _icon_button("Remove", QStyle.StandardPixmap.SP_TrashIcon,
                                                "Delete the selected model (only your own models can be removed)")
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(self.import_model_button)
        model_row.addWidget(self.remove_model_button)
        self.device_combo = DeviceComboBox()
        self.device_combo.setObjectName("device_combo")
        self.strength_slider, self.strength_label, strength = _percent_slider(
            "Blend of photo and cartoon: 0 % keeps the photo, 100 % is the full cartoon")
        self.foreground_slider, self.foreground_label, foreground = _percent_slider(
            "How much cartoon people and subjects get (the bundled segmenter finds them), as a share of Strength")
        self.background_slider, self.background_label, background = _percent_slider(
            "How much cartoon the background gets, as a share of Strength")
        form.addRow("Model", model_row)
        form.addRow(self.model_description)
        form.addRow("Device", self.device_combo)
        form.addRow("Strength", strength)
        form.addRow("People", foreground)
        form.addRow("Background", background)
        if not bundled_segmenter_path().is_file():
            for slider in (self.foreground_slider, self.background_slider):
                slider.setEnabled(False)
                slider.setToolTip(f"Needs the bundled segmenter {bundled_segmenter_path()}, which is missing")
        self.import_model_button.clicked.connect(self.import_model_requested)
        self.remove_model_button.clicked.connect(self.remove_model_requested)
        self.model_combo.model_changed.connect(self._show_model_card)
        return group

    def _build_output_group(self) -> QGroupBox:
        group = QGroupBox("Output")
        form = _form(group)
        self.output_folder_edit = QLineEdit()
        self.output_folder_edit.setPlaceholderText("beside each input: <name>_cartoon")
        self.output_folder_edit.setClearButtonEnabled(True)
        self.output_folder_edit.setToolTip("Empty: a <name>_cartoon folder beside each input (never over it). "
                                           "A folder: each job writes into it (a subfolder per input folder).")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse_output_folder)
        folder = QHBoxLayout()
        folder.addWidget(self.output_folder_edit, 1)
        folder.addWidget(self.browse_button)
        self.format_combo = ElidedComboBox(
            about="“Same as input” keeps JPEG, PNG and WebP and writes PNG for the others")
        for label, value in FORMAT_CHOICES:
            self.format_combo.addItem(label, value)
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(95)
        self.quality_spin.setPrefix("quality ")
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
        self.tile_spin.setSpecialValueText("auto tiles")
        self.tile_spin.setSuffix(" px tiles")
        self.tile_spin.setToolTip("Tile size for large pictures; automatic picks it from the device's memory. "
                                  f"Smaller tiles need less memory (at least {MIN_TILE_PX} px).")
        self.name_pattern_combo = QComboBox()
        self.name_pattern_combo.setEditable(True)
        self.name_pattern_combo.addItems(NAME_PATTERN_CHOICES)
        self.name_pattern_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.name_pattern_combo.setToolTip("How outputs are named: {stem} is the input's name without its suffix, "
                                           "e.g. {stem}_cartoon turns photo.jpg into photo_cartoon.jpg")
        self.name_example = QLabel()
        self.name_example.setStyleSheet(NOTE_STYLE)
        self.beside_inputs_check = QCheckBox("Next to the inputs, in their own folders")
        self.beside_inputs_check.setToolTip("Outputs go into each input's folder; the name pattern must change the "
                                            "names (e.g. {stem}_cartoon), so that no input is ever replaced")
        self.skip_existing_check = QCheckBox("Skip outputs that exist (resume)")
        self.skip_existing_check.setChecked(True)
        self.skip_existing_check.setToolTip("Off: existing outputs are replaced")
        form.addRow("Folder", folder)
        form.addRow(self.beside_inputs_check)
        form.addRow("Names", _row(self.name_pattern_combo, self.name_example))
        form.addRow("Format", _row(self.format_combo, self.quality_spin))
        form.addRow("Size", _row(self.max_side_spin, self.tile_spin))
        form.addRow(self.skip_existing_check)
        return group

    def _build_video_group(self) -> QGroupBox:
        group = QGroupBox("Video")
        group.setToolTip("The sound (and subtitles) are always kept: copied untouched, never re-encoded.")
        form = _form(group)
        self.codec_combo = ElidedComboBox(about="The video encoder of the cartoonized video.")
        for label, value in CODEC_CHOICES:
            self.codec_combo.addItem(label, value)
        self.crf_spin = QSpinBox()
        self.crf_spin.setRange(0, 51)
        self.crf_spin.setValue(18)
        self.crf_spin.setPrefix("CRF ")
        self.smoothing_check = QCheckBox("Temporal smoothing (less flicker)")
        self.frames_as_video_check = QCheckBox("Frame folders become videos at")
        self.frames_as_video_check.setToolTip("Off: a folder of numbered frames is cartoonized frame by frame into a "
                                              "folder of frames. On: into one H.264 video at this frame rate.")
        self.fps_spin = QDoubleSpinBox()
        self.fps_spin.setRange(1.0, 240.0)
        self.fps_spin.setDecimals(3)
        self.fps_spin.setValue(25.0)
        self.fps_spin.setSuffix(" fps")
        form.addRow("Codec", _row(self.codec_combo, self.crf_spin))
        form.addRow(self.smoothing_check)
        frames_row = QHBoxLayout()
        frames_row.addWidget(self.frames_as_video_check)
        frames_row.addWidget(self.fps_spin)
        frames_row.addStretch(1)
        form.addRow(frames_row)
        self.codec_combo.setToolTip("H.264 on the CPU (libx264) or on an NVIDIA GPU's encoder (NVENC); only "
                                    "encoders that open on this machine can be chosen")
        self.crf_spin.setToolTip("H.264 quality: 0 is lossless, 18 looks lossless, 51 is the smallest file")
        self.smoothing_check.setToolTip("Blends each frame with the previous one along the motion, where the picture "
                                        "did not change, so that still areas do not shimmer")
        self.video_widgets = (self.codec_combo, self.crf_spin, self.smoothing_check)
        return group

    def _connect_changes(self) -> None:
        for signal in (self.model_combo.model_changed, self.device_combo.spec_changed,
                       self.strength_slider.valueChanged, self.output_folder_edit.editingFinished,
                       self.format_combo.currentIndexChanged, self.quality_spin.valueChanged,
                       self.max_side_spin.valueChanged, self.tile_spin.valueChanged,
                       self.skip_existing_check.toggled, self.codec_combo.currentIndexChanged,
                       self.crf_spin.valueChanged, self.smoothing_check.toggled,
                       self.foreground_slider.valueChanged, self.background_slider.valueChanged,
                       self.beside_inputs_check.toggled, self.frames_as_video_check.toggled,
                       self.fps_spin.valueChanged):
            signal.connect(self._emit_changed)
        self.name_pattern_combo.currentTextChanged.connect(self._on_name_pattern_edited)
        for signal in (self.format_combo.currentIndexChanged, self.beside_inputs_check.toggled,
                       self.frames_as_video_check.toggled):
            signal.connect(self._update_enabled)

    def _wheel_only_when_focused(self) -> None:
        for widget in self.findChildren(QWidget):
            if isinstance(widget, (QAbstractSpinBox, QComboBox, QAbstractSlider)):
                widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
                widget.installEventFilter(self)
            if isinstance(widget, QComboBox):  # long entries (device names) must not widen the panel: they elide
                widget.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
                widget.setMinimumContentsLength(max(widget.minimumContentsLength(), 8))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """A wheel over an unfocused value widget scrolls the panel's scroll area instead (handed to its scroll bar
        here: Qt passes only the wheel events of a real mouse on to parents)."""
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            area = self._scroll_area()
            if area is not None:
                QApplication.sendEvent(area.verticalScrollBar(), event)
            else:
                event.ignore()
            return True
        return super().eventFilter(watched, event)

    def _scroll_area(self) -> QAbstractScrollArea | None:
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QAbstractScrollArea):
            parent = parent.parentWidget()
        return parent

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
            foreground_strength=self.foreground_slider.value() / 100.0,
            background_strength=self.background_slider.value() / 100.0,
            name_pattern=self._name_pattern, beside_inputs=self.beside_inputs_check.isChecked()
            and keeps_names_apart(self._name_pattern),
            video_codec=self.codec_combo.currentData(), video_crf=self.crf_spin.value(),
            temporal_smoothing=self.smoothing_check.isChecked(),
            frames_as_video=self.frames_as_video_check.isChecked(), frames_fps=self.fps_spin.value())

    def set_options(self, options: JobOptions, emit: bool = True) -> None:
        """Show `options`; `emit=False` shows them without announcing a change (selecting a job)."""
        self._loading = True
        try:
            self.model_combo.set_model_name(options.model)
            self.device_combo.set_spec(options.device)
            self.strength_slider.setValue(round(options.strength * 100))
            self.foreground_slider.setValue(round(options.foreground_strength * 100))
            self.background_slider.setValue(round(options.background_strength * 100))
            self._name_pattern = options.name_pattern
            self.name_pattern_combo.setCurrentText(options.name_pattern)
            self.beside_inputs_check.setChecked(options.beside_inputs)
            self.frames_as_video_check.setChecked(options.frames_as_video)
            self.fps_spin.setValue(options.frames_fps)
            self.output_folder_edit.setText(options.output_folder or "")
            self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(options.output_format)))
            self.quality_spin.setValue(options.quality)
            self.max_side_spin.setValue(options.max_side_px or 0)
            self.tile_spin.setValue(options.tile_size_px or 0)
            self.skip_existing_check.setChecked(options.skip_existing)
            self.codec_combo.setCurrentIndex(max(0, self.codec_combo.findData(options.video_codec)))
            self.crf_spin.setValue(options.video_crf)
            self.smoothing_check.setChecked(options.temporal_smoothing)
        finally:
            self._loading = False
        self._update_enabled()
        if emit:
            self._emit_changed()

    def set_output_folder(self, folder: str) -> None:
        self.output_folder_edit.setText(folder)
        self._emit_changed()

    def set_scope(self, title: str | None, editable: bool = True, reason: str = "") -> None:
        """Say whose options these are: new jobs' (None) or a job's (its title); a job that runs or ran is shown
        read-only, with `reason`."""
        if title is None:
            self.scope_label.setText("Options for new jobs")
            self.scope_label.setToolTip("Select a job to see (and change) the options it runs with")
        else:
            self.scope_label.setText(f"Options of {title}" + ("" if editable else f": {reason}"))
            self.scope_label.setToolTip("Changes apply to the selected jobs; deselect (click an empty row or press "
                                        "Esc) to set the options for new jobs")
        for group in self.groups:
            group.setEnabled(editable)

    def set_available_codecs(self, codecs: set[str]) -> None:
        """Only encoders that open on this machine can be chosen; the others stay listed, greyed out, so that a job
        saved with one still shows it."""
        model = self.codec_combo.model()
        for row, (label, value) in enumerate(CODEC_CHOICES):
            available = value in codecs
            item = model.item(row) if isinstance(model, QStandardItemModel) else None
            if item is not None:
                item.setEnabled(available)
            self.codec_combo.setItemText(row, label + ("" if available else UNAVAILABLE_SUFFIX))

    # --- reactions -----------------------------------------------------------------------------------------
    def _emit_changed(self, *_args: object) -> None:
        if not self._loading:
            self.options_changed.emit(self.options())

    def _update_enabled(self, *_args: object) -> None:
        self.quality_spin.setEnabled(self.format_combo.currentData() in ("same", "jpeg", "webp"))
        beside = self.beside_inputs_check.isChecked()
        self.output_folder_edit.setEnabled(not beside)
        self.browse_button.setEnabled(not beside)
        self.fps_spin.setEnabled(self.frames_as_video_check.isChecked())
        self._show_name_example()

    def _on_name_pattern_edited(self, text: str) -> None:
        """A pattern the engine accepts becomes the option; a wrong one is shown in red and not used."""
        if name_pattern_problem(text) is None:
            self._name_pattern = text
            if not keeps_names_apart(text) and self.beside_inputs_check.isChecked():
                self.beside_inputs_check.setChecked(False)   # outputs may not take their inputs' names
            self._emit_changed()
        self._show_name_example()

    def _show_name_example(self) -> None:
        text = self.name_pattern_combo.currentText()
        problem = name_pattern_problem(text)
        if problem:
            self.name_example.setText("not valid")
            self.name_example.setStyleSheet(PROBLEM_STYLE)
            self.name_example.setToolTip(problem)
        else:
            self.name_example.setText(f"photo.jpg → {output_stem(text, 'photo')}.jpg")
            self.name_example.setStyleSheet(NOTE_STYLE)
            self.name_example.setToolTip("")
        apart = problem is None and keeps_names_apart(text)
        self.beside_inputs_check.setEnabled(apart or self.beside_inputs_check.isChecked())
        self.beside_inputs_check.setToolTip(
            "Outputs go into each input's folder, named by the pattern" if apart else
            "Needs a name pattern that changes the names (e.g. {stem}_cartoon), so that no input is replaced")

    def _show_model_card(self, _name: object) -> None:
        entry = self.model_combo.current_entry()
        self.remove_model_button.setEnabled(entry is not None and not entry.bundled)
        if entry is None:
            self.model_description.setText("Import a model (our .safetensors files or a White-box .tflite) "
                                           "to start cartoonizing.")
            self.model_description.setToolTip("")
            return
        meta = entry.metadata
        text = short_description(meta.description or "No description.")
        licence = meta.license.split(" (", 1)[0]
        self.model_description.setText(f"{text} Licence: {licence}.")
        self.model_description.setToolTip(model_card(entry))

    def _browse_output_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output_folder_edit.text())
        if folder:
            self.set_output_folder(folder)


def short_description(text: str, limit: int = SHORT_DESCRIPTION_CHARS) -> str:
    """The first sentence, cut at a word with "…" when longer than `limit` (the tooltip has the whole card)."""
    first = text.split(": ", 1)[0] if len(text) > limit else text
    first = first.split(". ", 1)[0].rstrip(".")
    if len(first) > limit:
        first = first[:limit].rsplit(" ", 1)[0] + "…"
    return first + ("" if first.endswith("…") else ".")


def _icon_button(text: str, icon: QStyle.StandardPixmap, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setIcon(button.style().standardIcon(icon))
    button.setToolTip(tip)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    return button


def _form(group: QGroupBox) -> QFormLayout:
    form = QFormLayout(group)
    form.setContentsMargins(8, 6, 8, 6)
    form.setVerticalSpacing(5)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return form


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget, 1)
    return row


def _percent_slider(tip: str) -> tuple[QSlider, QLabel, QHBoxLayout]:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, 100)
    slider.setValue(100)
    slider.setToolTip(tip)
    label = QLabel("100 %")
    label.setMinimumWidth(label.fontMetrics().horizontalAdvance("100 %") + 4)
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    slider.valueChanged.connect(lambda value: label.setText(f"{value} %"))
    row = QHBoxLayout()
    row.addWidget(slider, 1)
    row.addWidget(label)
    return slider, label, row
