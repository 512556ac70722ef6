"""The fine-tuning wizard: each page refuses what cannot work and says why; the training page follows the trainer
process (played by fake_trainer.py, except in the last test) through Stop, Resume and crashes; and a short real
fine-tune started from the main window ends with the new model in the model list."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QWizard

from desktop_app.fine_tune.data import MIN_CARTOONS
from desktop_app.fine_tune.estimate import SpeedRecords
from desktop_app.fine_tune.estimate import format_duration
from desktop_app.fine_tune.finish_page import model_name_problem, unique_name
from desktop_app.fine_tune.wizard import FineTuneWizard
from desktop_app.settings_store import config_dir
from trainer.config import BACKBONES
from trainer.events import (
    CheckpointSaved, ModelExported, SampleWritten, TrainingProgress, TrainingStarted, TrainingStopped,
)
from tests.desktop_app.conftest import TINY_MODEL_NAME
from tests.desktop_app.fine_tune_fixtures import (  # noqa: F401 - fixtures
    BASE_MODEL_NAME, base_model, fake_trainer_command, picture_folders, recorded_arguments, write_pictures,
    write_video,
)

NEXT, COMMIT, FINISH = QWizard.WizardButton.NextButton, QWizard.WizardButton.CommitButton, \
    QWizard.WizardButton.FinishButton


@pytest.fixture
def make_wizard(qtbot, tmp_path, empty_resources, base_model):  # noqa: F811 - a fixture
    """Wizards on the tiny base model, with no bundled models or semantic module (empty resources)."""
    wizards = []

    def make(trainer_command=None) -> FineTuneWizard:
        wizard = FineTuneWizard(BASE_MODEL_NAME, "cpu", trainer_command=trainer_command,
                                run_dir=tmp_path / "data" / "runs" / "run")
        wizard.confirm_stop = lambda: True
        qtbot.addWidget(wizard)
        wizard.show()
        wizards.append(wizard)
        return wizard

    yield make
    for wizard in wizards:
        wizard.shutdown()
    QThreadPool.globalInstance().waitForDone(10_000)


def click(wizard: QWizard, which: QWizard.WizardButton) -> None:
    button = wizard.button(which)
    assert button.isVisible() and button.isEnabled(), f"{button.text()} is not available"
    button.click()


def choose_pictures(qtbot, wizard: FineTuneWizard, cartoons: Path, photos: Path) -> None:
    page = wizard.data_page
    page.set_cartoon_folder(cartoons)
    page.set_photo_folder(photos)
    qtbot.waitUntil(lambda: page.problem() != "Counting pictures…", timeout=10_000)


def to_settings(qtbot, wizard: FineTuneWizard, folders) -> None:
    choose_pictures(qtbot, wizard, *folders)
    click(wizard, NEXT)
    assert wizard.currentPage() is wizard.settings_page
    page = wizard.settings_page
    qtbot.waitUntil(lambda: bool(page.device_combo.devices) and page.backbone_known, timeout=20_000)


def test_too_few_pictures_are_refused_with_a_reason(qtbot, make_wizard, tmp_path, picture_folders):  # noqa: F811
    wizard = make_wizard()
    page = wizard.data_page
    few = write_pictures(tmp_path / "few", MIN_CARTOONS - 15, cartoon=True)
    choose_pictures(qtbot, wizard, few, picture_folders[1])
    assert not wizard.button(NEXT).isEnabled()
    reason = page.problem_label.text()
    assert "Only 5 cartoon pictures" in reason and f"at least {MIN_CARTOONS} are needed" in reason
    assert page.cartoon_status.text() == "5 cartoon pictures" and page.photo_status.text() == "24 photos"

    choose_pictures(qtbot, wizard, picture_folders[1], picture_folders[1])
    assert "separate folders" in page.problem_label.text() and not wizard.button(NEXT).isEnabled()

    choose_pictures(qtbot, wizard, *picture_folders)
    assert page.problem() is None and page.problem_label.text() == ""
    assert wizard.button(NEXT).isEnabled()
    thumbnails = page.cartoon_thumbnails.thumbnails
    QAbstractItemModelTester(thumbnails, QAbstractItemModelTester.FailureReportingMode.Fatal)
    assert thumbnails.rowCount() == 12  # 24 pictures, 12 of them spread over the folder
    qtbot.waitUntil(lambda: thumbnails.loaded_count() == 12, timeout=10_000)
    assert not thumbnails.data(thumbnails.index(0), 1).isNull()  # DecorationRole: a pixmap


def test_cartoon_videos_are_turned_into_key_frames(qtbot, make_wizard, tmp_path, picture_folders):  # noqa: F811
    wizard = make_wizard()
    page = wizard.data_page
    cartoons = write_pictures(tmp_path / "videos and pictures", MIN_CARTOONS - 1, cartoon=True)
    write_video(cartoons / "episode 1.mp4", scenes=3)
    choose_pictures(qtbot, wizard, cartoons, picture_folders[1])
    assert "1 video found: extract their key-frames first" in page.problem_label.text()
    assert page.extract_button.isVisible() and not wizard.button(NEXT).isEnabled()
    page.extract_button.click()
    qtbot.waitUntil(lambda: not page.extracting, timeout=30_000)
    prepared = wizard.session.prepared_cartoons
    assert prepared.folder == wizard.session.run_dir / "cartoons" and len(prepared.images) == MIN_CARTOONS - 1 + 3
    assert page.cartoon_status.text().startswith(f"{MIN_CARTOONS + 2} cartoon pictures: key-frames of 1 video")
    assert wizard.button(NEXT).isEnabled()
    wizard.reject()  # before training: the run folder with the key-frames goes
    assert not wizard.session.run_dir.exists()


def test_the_settings_page_applies_the_trainers_rules(qtbot, make_wizard, tmp_path, picture_folders):  # noqa: F811
    wizard = make_wizard(fake_trainer_command(tmp_path, run=[{"exit": 1}])[0])
    to_settings(qtbot, wizard, picture_folders)
    page = wizard.settings_page
    assert page.model_combo.model_name() == BASE_MODEL_NAME and page.device_combo.spec() == "cpu"
    assert wizard.button(COMMIT).text() == "Start training" and wizard.button(COMMIT).isEnabled()
    for label in page.estimate_labels.values():  # the CPU always has at least the reference estimate
        assert label.text().startswith(("about ", "under a minute"))
    assert "Rough estimate" in page.estimate_note.text() or "measurement" in page.estimate_note.text()
    assert not page.detail_slider.isEnabled() and "needs a semantic module" in page.regions_note.text()
    networks = [page.backbone_combo.itemData(i) for i in range(page.backbone_combo.count())]
    assert tuple(networks) == BACKBONES and all(page.backbone_combo.itemText(i) != name   # each with its title
                                               for i, name in enumerate(networks))

    page.extra_edit.setText("learning_rate=1e-4")
    assert "Unknown config key 'learning_rate'" in page.problem_label.text()  # the trainer's own message
    assert not wizard.button(COMMIT).isEnabled()
    page.extra_edit.setText("batch_size=2")
    page.crop_spin.setValue(100)
    assert "multiple of 8" in page.problem_label.text()
    page.crop_spin.setValue(64)
    page.segmenter_edit.setText(str(picture_folders[0] / "missing.safetensors"))
    assert "does not exist" in page.problem_label.text() and page.detail_slider.isEnabled()
    page.segmenter_edit.clear()
    page.select_steps(7)
    assert page.custom_button.isChecked() and page.steps() == 7
    assert page.problem() is None

    click(wizard, COMMIT)
    cfg_text = wizard.session.config_file.read_text(encoding="utf-8")
    assert "adversarial_steps = 7" in cfg_text and "batch_size = 2" in cfg_text and "crop_size = 64" in cfg_text


def test_the_bundled_semantic_module_is_the_default(qtbot, make_wizard, empty_resources,
                                                   picture_folders):  # noqa: F811
    segmenter = empty_resources / "models" / "segmenters" / "semantic-lite0.safetensors"
    segmenter.parent.mkdir()
    segmenter.write_bytes(b"only its presence counts here")
    wizard = make_wizard()
    to_settings(qtbot, wizard, picture_folders)
    page = wizard.settings_page
    assert page.segmenter_path() == segmenter and page.detail_slider.isEnabled()
    assert "comes with the app" in page.regions_note.text()
    page.detail_slider.setValue(25)
    plan = page.plan()
    assert (plan.segmenter_path, plan.foreground_detail, plan.background_smoothness) == (segmenter, 2.5, 1.5)
    assert [page.model_combo.itemData(i) for i in range(page.model_combo.count())] == [BASE_MODEL_NAME]


def test_measuring_speed_bases_the_estimates_on_this_device(qtbot, make_wizard, tmp_path,
                                                            picture_folders):  # noqa: F811
    command, args_file = fake_trainer_command(tmp_path, run=[
        *(logged(step, {"g_total": 0.7}, rate, eta_s=1.0) for step, rate in ((1, 1.0), (2, 8.0), (3, 4.0), (4, 8.0))),
        ModelExported(step=4, model=Path("m.safetensors")).to_json()])
    wizard = make_wizard(command)
    to_settings(qtbot, wizard, picture_folders)
    page = wizard.settings_page
    page.crop_spin.setValue(128)
    page.select_steps(1000)
    page.extra_edit.setText("batch_size=4")
    before = page.estimate_seconds(1000)
    assert "Rough estimate from a reference CPU" in page.estimate_note.text()
    assert page.estimate_labels["custom"].text() == format_duration(before)
    page.measure_button.click()
    assert page.speed_test.running and not wizard.button(COMMIT).isEnabled()
    qtbot.waitUntil(lambda: not page.speed_test.running, timeout=20_000)
    note = page.estimate_note.text()
    assert "Estimated from a measurement on" in note and "0.67 s per step (batch 4 of 128 px)" in note
    speed = page.training_speed()
    # the mean of steps 2-4 (8, 4, 8 images/s of 4 images: 0.5, 1 and 0.5 s); step 1 counts as start-up
    assert speed.measured and speed.step_seconds(4, 128) == pytest.approx(2 / 3)
    assert page.estimate_seconds(1000) == pytest.approx(speed.startup_s + 2000 / 3)   # the same formula as before
    assert page.estimate_labels["custom"].text() == format_duration(speed.startup_s + 2000 / 3)
    [arguments] = recorded_arguments(args_file)
    config = Path(arguments[arguments.index("--config") + 1])
    assert config.parent == wizard.session.run_dir / "speed-test" and not config.parent.exists()  # tidied up
    assert wizard.button(COMMIT).isEnabled()


def test_the_training_page_follows_stop_and_resume_to_a_named_model(qtbot, make_wizard, tmp_path,
                                                                       picture_folders, tiny_model_file):  # noqa: F811
    run_dir = tmp_path / "data" / "runs" / "run"
    sample = tmp_path / "sample.png"
    write_pictures(tmp_path / "sample", 1)
    (tmp_path / "sample" / "photo_00.png").rename(sample)
    checkpoint = CheckpointSaved(step=2, path=run_dir / "checkpoints" / "step_00000002.pt")
    real_checkpoint = write_checkpoint(tmp_path / "made", step=2)
    command, args_file = fake_trainer_command(tmp_path, run=[
        started(run_dir, 0, 4),
        logged(1, {"g_total": 0.8, "d_total": 0.9}, 2.0, eta_s=30.0),
        logged(2, {"g_total": 0.7, "d_total": 0.8}, 4.0, eta_s=20.0),
        SampleWritten(step=2, path=sample).to_json(),
        {"wait_for_stop": [{"copy": [str(real_checkpoint), str(checkpoint.path)]},
                           {"copy": [str(real_checkpoint.parent / "latest"), str(run_dir / "checkpoints" / "latest")]},
                           checkpoint.to_json(),
                           TrainingStopped(step=2, reason="SIGTERM").to_json()]},
    ], resume=[
        started(run_dir, 2, 4, resumed_from=checkpoint.path),
        logged(4, {"g_total": 0.6, "d_total": 0.7}, 4.0, eta_s=0.0),
        ModelExported(step=4, model=tiny_model_file).to_json(),
    ])
    wizard = make_wizard(command)
    to_settings(qtbot, wizard, picture_folders)
    click(wizard, COMMIT)
    page = wizard.training_page
    assert wizard.currentPage() is page and not wizard.button(QWizard.WizardButton.BackButton).isEnabled()
    qtbot.waitUntil(lambda: page.sample_view.path() == sample, timeout=20_000)
    assert page.step_label.text() == "Step 2 of 4" and page.speed_label.text() == "4 images/s"
    assert page.eta_label.text() == "under a minute left" and page.progress.value() == 2
    assert page.plot.points("g_total") == [(1, 0.8), (2, 0.7)]
    assert page.stop_button.isEnabled() and not page.resume_button.isEnabled() and not wizard.button(NEXT).isEnabled()

    page.stop_button.click()
    assert "saving a checkpoint" in page.status_label.text() and not page.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not page.process.running, timeout=20_000)
    assert page.status_label.text().startswith("Stopped at step 2")
    qtbot.waitUntil(lambda: page.isComplete(), timeout=30_000)   # the stopped run's checkpoint became a model
    assert "Its model is ready" in page.status_label.text() and wizard.button(NEXT).isEnabled()
    stopped_model = wizard.session.model_path
    assert stopped_model.name == "run-step2.safetensors"
    from core.model_registry import load_model
    assert "for 2 steps" in load_model(stopped_model).metadata.description   # trainer.export's model card
    assert page.resume_button.text() == "Resume" and page.resume_button.isEnabled()
    page.resume_button.click()
    qtbot.waitUntil(lambda: page.isComplete(), timeout=20_000)
    assert [arguments[-1] for arguments in recorded_arguments(args_file)] == [str(wizard.session.config_file),
                                                                               "--resume"]
    assert page.plot.points("g_total")[-1] == (4, 0.6) and "ready" in page.status_label.text()
    device = wizard.settings_page.device_info().name  # the adversarial speed after the first log is remembered
    plan = wizard.session.plan
    remembered = SpeedRecords(config_dir()).speed(device, plan.backbone)
    batch = wizard.session.batch_size
    assert remembered.step_seconds(batch, plan.crop_size_px) == pytest.approx(batch / 4.0, rel=1e-4)

    click(wizard, NEXT)
    finish = wizard.finish_page
    assert finish.name_edit.text() == f"{BASE_MODEL_NAME}-tuned"
    assert "for 4 steps" in finish.summary.text()  # the step of the trainer's "done"
    finish.name_edit.setText("my style")
    assert "no spaces" in finish.problem_label.text() and not wizard.button(FINISH).isEnabled()
    finish.name_edit.setText(BASE_MODEL_NAME)
    assert "exists already" in finish.problem_label.text()
    finish.name_edit.setText("my-style")
    finish.display_edit.setText("My comic style")
    with qtbot.waitSignal(wizard.model_added, timeout=20_000) as added:
        click(wizard, FINISH)
    assert added.args == ["my-style"]
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=5_000)
    assert wizard.result() == QWizard.DialogCode.Accepted
    from core.model_registry import list_models
    entry = next(e for e in list_models() if e.name == "my-style")
    assert entry.metadata.display_name == "My comic style" and not entry.bundled


def started(run_dir: Path, step: int, total_steps: int, resumed_from: Path | None = None) -> dict:
    """The trainer's "start" line of a fine-tune on the CPU."""
    return TrainingStarted(run_dir=run_dir, step=step, total_steps=total_steps, pretrain_steps=0, warm_start_steps=0,
                           device="cpu", world_size=1, precision="fp32", photos=24, cartoons=24,
                           resumed_from=resumed_from).to_json()


def logged(step: int, losses: dict[str, float], images_per_s: float, eta_s: float) -> dict:
    """The trainer's "log" line of an adversarial step."""
    return TrainingProgress(step=step, phase="train", losses=losses, images_per_s=images_per_s,
                            eta_s=eta_s).to_json()


def write_checkpoint(folder: Path, step: int) -> Path:
    """A real training checkpoint of a fine-tune of the tiny base model (as the trainer writes one)."""
    from tests.conftest import make_tiny_generator
    from trainer.checkpoint import save_checkpoint
    from trainer.config import TrainConfig

    config = TrainConfig(base_model=BASE_MODEL_NAME, adversarial_steps=4, pretrain_steps=0).to_dict()
    return save_checkpoint(folder, step, models={"generator": make_tiny_generator(seed=3)}, optimizers={},
                           config=config)


def test_a_crashed_trainer_leaves_the_wizard_usable_and_says_why(qtbot, make_wizard, tmp_path,
                                                                 picture_folders):  # noqa: F811
    command, args_file = fake_trainer_command(tmp_path, run=[
        started(tmp_path / "run", 0, 4), {"stderr": "RuntimeError: CUDA out of memory"}, {"crash": True}])
    wizard = make_wizard(command)
    to_settings(qtbot, wizard, picture_folders)
    click(wizard, COMMIT)
    page = wizard.training_page
    qtbot.waitUntil(lambda: not page.process.running and page.session.training_started, timeout=20_000)
    qtbot.waitUntil(lambda: "crashed" in page.status_label.text(), timeout=5_000)
    assert "CUDA out of memory" in page.status_label.text()
    assert "Start again" in page.status_label.text() and page.resume_button.text() == "Start again"
    assert page.resume_button.isEnabled() and not wizard.button(NEXT).isEnabled()
    assert "CUDA out of memory" in page.log_view.toPlainText()


def test_closing_during_training_stops_the_trainer_first(qtbot, make_wizard, tmp_path, picture_folders):  # noqa: F811
    command, _ = fake_trainer_command(tmp_path, run=[
        started(tmp_path / "run", 0, 4), {"wait_for_stop": [TrainingStopped(step=0, reason="SIGTERM").to_json()]}])
    wizard = make_wizard(command)
    to_settings(qtbot, wizard, picture_folders)
    click(wizard, COMMIT)
    qtbot.waitUntil(lambda: wizard.training_page.total_steps == 4, timeout=20_000)
    asked = []
    wizard.confirm_stop = lambda: asked.append(True) or False
    wizard.reject()
    assert asked and wizard.isVisible() and wizard.training_running  # "no": training goes on
    wizard.confirm_stop = lambda: True
    wizard.reject()
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=20_000)
    assert not wizard.training_running and wizard.session.run_dir.is_dir()  # kept: it can be resumed


def test_model_names_follow_the_registrys_rules():
    taken = {"tiny", "mine"}
    assert model_name_problem("", taken) == "Give the model a name."
    for bad in ("my style", "-dash-first", "ü", "a" * 65, "a/b"):
        assert "letters, digits" in model_name_problem(bad, taken), bad
    assert "exists already" in model_name_problem("mine", taken)
    assert model_name_problem("my_style-2.1", taken) is None
    assert unique_name("mine", taken) == "mine-2" and unique_name("new", taken) == "new"


def test_the_tools_menu_opens_one_wizard_with_the_windows_choices(window, qtbot):
    window.commands.fine_tune.trigger()
    wizard = window.fine_tune_wizard
    assert wizard is not None and wizard.isVisible() and not wizard.isModal()
    assert wizard.session.base_model == TINY_MODEL_NAME
    assert wizard.session.device == window.options_panel.device_combo.spec()
    window.commands.fine_tune.trigger()
    assert window.fine_tune_wizard is wizard  # raised, not a second one
    wizard.reject()
    assert window.fine_tune_wizard is None


def test_a_short_real_fine_tune_adds_the_model_to_the_list(window, qtbot, base_model, picture_folders):  # noqa: F811
    """The real trainer process: 3 adversarial steps of 32 px crops from a tiny base model, efficientnet_lite0
    features (offline), then the model is named and appears, selected, in the main window's model list."""
    window.commands.fine_tune.trigger()
    wizard = window.fine_tune_wizard
    wizard.confirm_stop = lambda: True
    window.options_panel.model_combo.refresh()  # the base model was installed after the window started
    to_settings(qtbot, wizard, picture_folders)
    page = wizard.settings_page
    page.model_combo.set_model_name(BASE_MODEL_NAME)
    page.device_combo.set_spec("cpu")
    page.select_steps(3)
    page.crop_spin.setValue(32)
    page.backbone_combo.setCurrentIndex(page.backbone_combo.findData("efficientnet_lite0"))
    page.extra_edit.setText("batch_size=2 num_workers=0 discriminator_base_channels=8 log_every=1 sample_every=2")
    assert page.problem() is None, page.problem()
    click(wizard, COMMIT)
    training = wizard.training_page
    qtbot.waitUntil(lambda: not training.process.running and training.session.training_started, timeout=180_000)
    assert training.isComplete(), training.status_label.text() + "\n" + training.log_view.toPlainText()
    assert [step for step, _ in training.plot.points("g_total")] == [1, 2, 3]
    qtbot.waitUntil(lambda: training.sample_view.path() is not None, timeout=10_000)
    assert training.sample_view.path().name == "step_00000003.png"

    click(wizard, NEXT)
    wizard.finish_page.name_edit.setText("my-style")
    with qtbot.waitSignal(wizard.model_added, timeout=30_000):
        click(wizard, FINISH)
    combo = window.options_panel.model_combo
    assert combo.model_name() == "my-style"
    assert "Tiny base, fine-tuned" in combo.currentText()
    assert "fine-tuned from" in combo.current_entry().metadata.description
