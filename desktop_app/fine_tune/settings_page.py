"""The wizard's second page: base model, device, training length (presets with time estimates), crop size, how the
semantic regions are weighed, and, under Advanced, the feature network and extra trainer settings.

Every change rebuilds the trainer's own config from the plan (`FineTunePlan.train_config`), so what the trainer
would refuse is refused here, with its message. The page is the wizard's commit page: "Start training" writes the
config into the run folder and the training page starts it. "Measure speed" runs the same config for a few steps
in the trainer process and remembers the device's speed for the estimates.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup, QComboBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
    QPushButton, QRadioButton, QSlider, QSpinBox, QVBoxLayout, QWidget, QWizard, QWizardPage,
)

from core.devices import AUTO, DeviceInfo, auto_device
from core.model_file import ModelFileError
from core.model_registry import resolve_model_path
from trainer.config import BACKBONES

from desktop_app.device_combo import DeviceComboBox
from desktop_app.fine_tune.estimate import (
    SPEED_TEST_OVERRIDES, SPEED_TEST_STEPS, SpeedRecords, TrainingSpeed, format_duration, reference_speed,
)
from desktop_app.fine_tune.plan import (
    REGION_WEIGHT_RANGE, STEPS_PRESETS, FineTunePlan, bundled_segmenter, parse_extra_overrides, preset_default,
    vgg19_weights_cached, write_config,
)
from desktop_app.fine_tune.session import FineTuneSession
from desktop_app.fine_tune.speed_test import SpeedTest, speed_test_folder
from desktop_app.function_worker import run_in_background
from desktop_app.model_combo import ModelComboBox
from desktop_app.settings_store import config_dir

log = logging.getLogger("desktop_app.fine_tune")
PROBLEM_STYLE = "color: #b3261e;"
NOTE_STYLE = "color: palette(placeholder-text);"
SLIDER_STEPS_PER_UNIT = 10
BACKBONE_TITLES = {"vgg19": "VGG19 (as in White-box; downloaded once, 550 MB)",
                   "efficientnet_lite0": "EfficientNet-Lite0 (installed with the app; works offline)"}


class SettingsPage(QWizardPage):
    def __init__(self, session: FineTuneSession, trainer_command: list[str] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setTitle("How to train")
        self.setSubTitle("Fine-tuning starts from a model that already cartoonizes and teaches it your style.")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Start training")
        self.speeds = SpeedRecords(config_dir())
        self.speed_test = SpeedTest(self.speeds, trainer_command, self)
        self._problem: str | None = None
        self._batch_size = preset_default("batch_size")

        self.problem_label = QLabel(wordWrap=True, styleSheet=PROBLEM_STYLE)
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_start_form())
        layout.addWidget(self._build_length_box())
        layout.addWidget(self._build_regions_box())
        layout.addWidget(self._build_advanced_box())
        layout.addWidget(self.problem_label)
        layout.addStretch(1)
        self._connect_changes()
        self._update()

    # --- building ------------------------------------------------------------------------------------------------
    def _build_start_form(self) -> QFormLayout:
        """Base model and device."""
        self.model_combo = ModelComboBox()
        self.model_combo.refresh()
        if self.session.base_model:
            self.model_combo.set_model_name(self.session.base_model)
        self.device_combo = DeviceComboBox()
        self.device_combo.set_spec(self.session.device)
        self.device_combo.refresh()
        form = QFormLayout()
        form.addRow("Start from model:", self.model_combo)
        form.addRow("Train on:", self.device_combo)
        return form

    def _build_length_box(self) -> QGroupBox:
        """The step presets with their estimates, Custom, the estimate's note with Measure speed, and crop size."""
        self.length_group = QButtonGroup(self)
        self.preset_buttons: dict[str, QRadioButton] = {}
        self.estimate_labels: dict[str, QLabel] = {}
        box = QGroupBox("Training length")
        grid = QGridLayout(box)
        for row, preset in enumerate(STEPS_PRESETS):
            button = QRadioButton(f"{preset.title}: {preset.steps:,} steps", toolTip=preset.hint)
            self.length_group.addButton(button)
            self.preset_buttons[preset.key] = button
            self.estimate_labels[preset.key] = QLabel()
            grid.addWidget(button, row, 0)
            grid.addWidget(QLabel(preset.hint, styleSheet=NOTE_STYLE), row, 1)
            grid.addWidget(self.estimate_labels[preset.key], row, 2)
        custom_row = len(STEPS_PRESETS)
        self._add_custom_steps(grid, custom_row)
        self.preset_buttons["standard"].setChecked(True)
        grid.addLayout(self._build_estimate_row(), custom_row + 1, 0, 1, 3)
        grid.addLayout(self._build_crop_row(), custom_row + 2, 0, 1, 3)
        grid.setColumnStretch(1, 1)
        return box

    def _add_custom_steps(self, grid: QGridLayout, row: int) -> None:
        self.custom_button = QRadioButton("Custom:")
        self.length_group.addButton(self.custom_button)
        self.custom_steps = QSpinBox(suffix=" steps", singleStep=100)
        self.custom_steps.setRange(1, 1_000_000)
        self.custom_steps.setValue(1000)
        self.custom_steps.setGroupSeparatorShown(True)
        self.estimate_labels["custom"] = QLabel()
        grid.addWidget(self.custom_button, row, 0)
        grid.addWidget(self.custom_steps, row, 1, Qt.AlignmentFlag.AlignLeft)
        grid.addWidget(self.estimate_labels["custom"], row, 2)

    def _build_estimate_row(self) -> QHBoxLayout:
        self.estimate_note = QLabel(wordWrap=True, styleSheet=NOTE_STYLE)
        self.measure_button = QPushButton("Measure speed")
        self.measure_button.setToolTip(f"Starts the trainer and runs {SPEED_TEST_STEPS} training steps with these "
                                       "settings on this device, and bases the estimates on them")
        row = QHBoxLayout()
        row.addWidget(self.estimate_note, 1)
        row.addWidget(self.measure_button)
        return row

    def _build_crop_row(self) -> QHBoxLayout:
        self.crop_spin = QSpinBox(suffix=" px", singleStep=32)
        self.crop_spin.setRange(32, 1024)
        self.crop_spin.setValue(preset_default("crop_size"))
        self.crop_spin.setToolTip("Training looks at square crops of this size. Larger crops see more of a scene "
                                  "(larger features, e.g. faces) and take longer: time grows with the square.")
        row = QHBoxLayout()
        row.addWidget(QLabel("Crop size:"))
        row.addWidget(self.crop_spin)
        row.addWidget(QLabel("larger sees more context and takes longer", styleSheet=NOTE_STYLE), 1)
        return row

    def _build_regions_box(self) -> QGroupBox:
        """The semantic module, and the detail and smoothness weights it makes possible."""
        box = QGroupBox("People and backgrounds")
        grid = QGridLayout(box)
        self.segmenter_edit = QLineEdit(placeholderText="none: the whole picture is treated alike",
                                        clearButtonEnabled=True)
        self.bundled_segmenter = bundled_segmenter()
        if self.bundled_segmenter is not None:
            self.segmenter_edit.setText(str(self.bundled_segmenter))
        segmenter_browse = QPushButton("Browse…")
        segmenter_browse.clicked.connect(self._ask_segmenter)
        grid.addWidget(QLabel("Semantic module:"), 0, 0)
        grid.addWidget(self.segmenter_edit, 0, 1, 1, 3)
        grid.addWidget(segmenter_browse, 0, 4)
        self.detail_slider = _weight_slider(1.5)
        self.smoothness_slider = _weight_slider(1.5)
        for row, (title, slider, low, high) in enumerate((
                ("Detail on people and subjects:", self.detail_slider, "fewer lines", "more lines and detail"),
                ("Backgrounds:", self.smoothness_slider, "keep their texture", "flatter, painted look")), start=1):
            grid.addWidget(QLabel(title), row, 0)
            grid.addWidget(QLabel(low, styleSheet=NOTE_STYLE), row, 1, Qt.AlignmentFlag.AlignRight)
            grid.addWidget(slider, row, 2)
            grid.addWidget(QLabel(high, styleSheet=NOTE_STYLE), row, 3)
        grid.setColumnStretch(2, 1)
        self.regions_note = QLabel(wordWrap=True, styleSheet=NOTE_STYLE)
        grid.addWidget(self.regions_note, 3, 0, 1, 5)
        return box

    def _build_advanced_box(self) -> QGroupBox:
        """The feature network (the finetune preset's, which works offline, until VGG19's weights turn out to be on
        this machine) and extra trainer settings."""
        box = QGroupBox("Advanced")
        form = QFormLayout(box)
        self.backbone_combo = QComboBox()
        for name in BACKBONES:
            self.backbone_combo.addItem(BACKBONE_TITLES.get(name, name), name)
        self.backbone_combo.setCurrentIndex(self.backbone_combo.findData(preset_default("backbone")))
        self.backbone_known = False  # the check imports torchvision (a second or two): on a worker
        self._backbone_touched = False
        self.backbone_combo.currentIndexChanged.connect(lambda _index: setattr(self, "_backbone_touched", True))
        run_in_background(vgg19_weights_cached, on_returned=self._vgg19_checked,
                          on_errored=lambda message, _trace: self._vgg19_checked(False))
        self.backbone_combo.setToolTip("The network whose features keep the cartoon's content close to the photo")
        self.extra_edit = QLineEdit(placeholderText="trainer settings as key=value, e.g. batch_size=4 lr=2e-5")
        form.addRow("Feature network:", self.backbone_combo)
        form.addRow("Extra settings:", self.extra_edit)
        return box

    def _connect_changes(self) -> None:
        """Every choice re-checks the plan and the estimates; Measure speed runs the speed test."""
        for signal in (self.model_combo.model_changed, self.device_combo.spec_changed,
                       self.device_combo.devices_loaded, self.length_group.buttonToggled,
                       self.custom_steps.valueChanged, self.crop_spin.valueChanged, self.segmenter_edit.textChanged,
                       self.detail_slider.valueChanged, self.smoothness_slider.valueChanged,
                       self.backbone_combo.currentIndexChanged, self.extra_edit.textChanged):
            signal.connect(self._update)
        self.custom_steps.valueChanged.connect(lambda _value: self.custom_button.setChecked(True))
        self.measure_button.clicked.connect(self.measure_speed)
        self.speed_test.finished.connect(self._speed_test_finished)

    # --- reading the choices -------------------------------------------------------------------------------------
    def steps(self) -> int:
        for preset in STEPS_PRESETS:
            if self.preset_buttons[preset.key].isChecked():
                return preset.steps
        return self.custom_steps.value()

    def select_steps(self, steps: int) -> None:
        """Select the preset with `steps`, or Custom with that number."""
        for preset in STEPS_PRESETS:
            if preset.steps == steps:
                self.preset_buttons[preset.key].setChecked(True)
                return
        self.custom_steps.setValue(steps)
        self.custom_button.setChecked(True)

    def segmenter_path(self) -> Path | None:
        text = self.segmenter_edit.text().strip()
        return Path(text).expanduser() if text else None

    def plan(self, run_dir: Path | None = None, steps: int | None = None,
             extra: tuple[str, ...] = ()) -> FineTunePlan:
        """The plan of the current choices; raises ValueError (ConfigError included) with a reason."""
        session = self.session
        if session.photos is None or session.cartoons_dir is None:
            raise ValueError("go back and choose the pictures first")
        name = self.model_combo.model_name()
        if not name:
            raise ValueError("there is no model to start from: import one first (Models → Import model…)")
        segmenter = self.segmenter_path()
        if segmenter is not None and not segmenter.is_file():
            raise ValueError(f"the semantic module {segmenter} does not exist")
        try:
            extra_overrides = parse_extra_overrides(self.extra_edit.text())
        except ValueError as exc:
            raise ValueError(f"extra settings: {exc}") from exc
        try:
            base_model = resolve_model_path(name)
        except ModelFileError as exc:
            raise ValueError(str(exc)) from exc
        return FineTunePlan(
            base_model=base_model, photos_dir=session.photos.folder, cartoons_dir=session.cartoons_dir,
            run_dir=run_dir or session.run_dir, steps=steps or self.steps(), crop_size_px=self.crop_spin.value(),
            device=self.device_combo.spec(), backbone=self.backbone_combo.currentData(), segmenter_path=segmenter,
            foreground_detail=_slider_weight(self.detail_slider),
            background_smoothness=_slider_weight(self.smoothness_slider),
            extra_overrides=extra_overrides + tuple(extra))

    def device_info(self) -> DeviceInfo | None:
        """The device the run will use, "auto" resolved by `core.devices.auto_device` (None until the devices are
        listed)."""
        devices, spec = self.device_combo.devices, self.device_combo.spec()
        if spec == AUTO:
            return auto_device(devices)
        return next((d for d in devices if d.spec == spec), None)

    def batch_size(self) -> int:
        """The batch size the trainer will use (its preset's, or the extra settings')."""
        return self._batch_size

    def training_speed(self) -> TrainingSpeed | None:
        """The speed the estimates use: measured for this device and feature network, or the CPU reference."""
        device = self.device_info()
        if device is None:
            return None
        backbone = self.backbone_combo.currentData()
        return self.speeds.speed(device.name, backbone) or reference_speed(device.kind, os.cpu_count() or 1,
                                                                           backbone)

    def estimate_seconds(self, steps: int) -> float | None:
        speed = self.training_speed()
        return speed.run_seconds(steps, self._batch_size, self.crop_spin.value()) if speed else None

    # --- page ----------------------------------------------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self._update()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self._problem is None and not self.speed_test.running

    def problem(self) -> str | None:
        return self._problem

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        """"Start training": the config goes into the run folder; the training page runs it."""
        try:
            plan = self.plan()
            cfg = plan.train_config()
            config_file = write_config(cfg, plan.run_dir)
        except (ValueError, OSError) as exc:
            self._show_problem(str(exc))
            return False
        session = self.session
        session.plan, session.config_file = plan, config_file
        device = self.device_info()
        session.device_name = device.name if device else None
        entry = self.model_combo.current_entry()
        session.base_display_name = entry.metadata.display_name if entry else plan.base_model.stem
        session.base_model = self.model_combo.model_name()
        session.batch_size = cfg.batch_size
        log.info("fine-tune config written to %s", config_file)
        return True

    def _update(self, *_args) -> None:
        problem, batch_size = None, self._batch_size
        try:
            cfg = self.plan().train_config()
            batch_size = cfg.batch_size
        except (ValueError, OSError) as exc:
            problem = str(exc)
        self._batch_size = batch_size
        self._show_problem(problem)
        self._update_estimates()
        has_segmenter = self.segmenter_path() is not None
        self.detail_slider.setEnabled(has_segmenter)
        self.smoothness_slider.setEnabled(has_segmenter)
        origin = ("the semantic module that comes with the app tells them apart"
                  if self.segmenter_path() == self.bundled_segmenter else "your semantic module tells them apart")
        self.regions_note.setText(
            f"Detail ×{_slider_weight(self.detail_slider):.1f} on people and subjects, smoothness "
            f"×{_slider_weight(self.smoothness_slider):.1f} on backgrounds (the trainer's defaults are ×1.5); "
            f"{origin}." if has_segmenter else
            "Telling people from backgrounds needs a semantic module (a file made by cartoonize-train "
            "train-segmenter). Without one, the whole picture is treated alike and these sliders do nothing.")

    def _show_problem(self, problem: str | None) -> None:
        if problem:
            problem = problem[0].upper() + problem[1:]
        self._problem = problem
        self.problem_label.setText(problem or "")
        self.completeChanged.emit()

    def _update_estimates(self) -> None:
        speed, crop = self.training_speed(), self.crop_spin.value()
        for key, label in self.estimate_labels.items():
            steps = self.custom_steps.value() if key == "custom" else next(
                p.steps for p in STEPS_PRESETS if p.key == key)
            seconds = self.estimate_seconds(steps)
            label.setText(format_duration(seconds) if seconds is not None else "")
        device = self.device_info()
        network = self.backbone_combo.currentText().split(" (", 1)[0]
        if self.speed_test.running:
            self.estimate_note.setText("Measuring: the trainer starts and runs a few steps with these settings…")
        elif device is None:
            self.estimate_note.setText("Looking for devices…")
        elif speed is None:
            self.estimate_note.setText(f"No estimate for {device.name} yet: GPUs differ too much to guess. "
                                       "Measure speed to find out.")
        elif speed.measured:
            self.estimate_note.setText(f"Estimated from a measurement on {device.name} with {network}: "
                                       f"{speed.describe(self._batch_size, crop)}.")
        else:
            self.estimate_note.setText(f"Rough estimate from a reference CPU with {network}: "
                                       f"{speed.describe(self._batch_size, crop)}. Measure speed for "
                                       f"{device.name}.")
        self.measure_button.setEnabled(self._problem is None and not self.speed_test.running)

    def _vgg19_checked(self, cached: bool) -> None:
        """White-box's VGG19 features when their weights are already here, unless the user chose meanwhile."""
        self.backbone_known = True
        if cached and not self._backbone_touched:
            self.backbone_combo.setCurrentIndex(self.backbone_combo.findData("vgg19"))

    def _ask_segmenter(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Semantic module", self.segmenter_edit.text(),
                                                    "Segmenter files (*.safetensors);;All files (*)")
        if path:
            self.segmenter_edit.setText(path)

    # --- speed test ----------------------------------------------------------------------------------------------
    def measure_speed(self) -> None:
        """A few real steps of this config on this device, in the trainer process (nothing is kept)."""
        try:
            plan = self.plan(run_dir=speed_test_folder(self.session.run_dir), steps=SPEED_TEST_STEPS,
                             extra=SPEED_TEST_OVERRIDES)
            self.speed_test.start(plan, self.device_info())
        except (ValueError, OSError) as exc:
            self._show_problem(str(exc))
            return
        self._update_estimates()
        self.completeChanged.emit()

    def _speed_test_finished(self, problem: str | None) -> None:
        self._update()
        if problem:
            self._show_problem(problem)


def _weight_slider(value: float) -> QSlider:
    low, high = REGION_WEIGHT_RANGE
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(round(low * SLIDER_STEPS_PER_UNIT), round(high * SLIDER_STEPS_PER_UNIT))
    slider.setValue(round(value * SLIDER_STEPS_PER_UNIT))
    slider.setTickPosition(QSlider.TickPosition.TicksBelow)
    slider.setTickInterval(5)
    return slider


def _slider_weight(slider: QSlider) -> float:
    return slider.value() / SLIDER_STEPS_PER_UNIT
