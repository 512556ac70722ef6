"""The main window: drops, the device and model lists, settings and queue across restarts, shortcuts."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QThreadPool, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from core.devices import list_devices
from desktop_app.job import JobKind, JobStatus
from desktop_app.job_options import JobOptions
from desktop_app.main_window import MainWindow
from tests.desktop_app.conftest import TINY_MODEL_NAME, write_photo


def _drop(widget, paths: list[Path]) -> QDropEvent:
    """A real drag-enter and drop, with file URLs, as a file manager sends them."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop


def test_dropping_a_folder_adds_a_job(window, make_photo_folder, qtbot):
    folder = make_photo_folder("holiday", count=3)
    drop = _drop(window, [folder])
    assert drop.isAccepted()
    jobs = window.queue_model.jobs()
    assert len(jobs) == 1
    job = jobs[0]
    assert (job.inputs, job.kind, job.status) == ([folder], JobKind.PHOTOS, JobStatus.PENDING)
    assert job.output_dir == folder.parent / "holiday_cartoon"
    qtbot.waitUntil(lambda: job.counts.total == 3, timeout=10_000)   # counted by the engine's planner
    assert window.selected_jobs() == [job]
    assert str(folder) in window.settings.recent_folders


def test_dropping_files_and_a_video_makes_one_job_each(window, tmp_path):
    photos = [write_photo(tmp_path / "loose" / f"{n}.png") for n in "ab"]
    video = tmp_path / "clip.mov"
    video.write_bytes(b"\0" * 16)
    unsupported = tmp_path / "notes.txt"
    unsupported.write_text("no")
    _drop(window.table.viewport(), [*photos, video, unsupported])  # anywhere on the window
    kinds = [(job.kind, len(job.inputs)) for job in window.queue_model.jobs()]
    assert kinds == [(JobKind.PHOTOS, 2), (JobKind.VIDEO, 1)]
    assert "ignored" in window.log_panel.plain_text()


def test_drag_without_files_is_refused(window):
    mime = QMimeData()
    mime.setText("just text")
    enter = QDragEnterEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()


def test_device_and_model_lists_fill_from_the_engine(window, tmp_path):
    devices = window.options_panel.device_combo
    specs = [devices.itemData(i) for i in range(devices.count())]
    assert specs == ["auto"] + [d.spec for d in list_devices()]
    labels = [devices.itemText(i) for i in range(devices.count())]
    assert labels[1:] == [d.label for d in list_devices()]
    models = window.options_panel.model_combo
    assert [models.itemData(i) for i in range(models.count())] == [TINY_MODEL_NAME]
    assert "Tiny test model" in models.itemText(0) and "default" in models.itemText(0)
    assert "Random weights for tests." in window.options_panel.model_description.text()
    assert "MIT" in window.options_panel.model_description.text()
    assert not window.options_panel.remove_model_button.isEnabled()   # bundled


def test_a_device_this_machine_lacks_stays_chosen_and_says_so(window):
    combo = window.options_panel.device_combo
    combo.set_spec("cuda:7")
    assert combo.spec() == "cuda:7" and "not found" in combo.currentText()


def test_settings_and_queue_survive_a_restart(qtbot, bundled_tiny_model, make_photo_folder, config_dir):
    folder = make_photo_folder("kept", count=1)
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.resize(790, 700)  # fits the offscreen screen (800×800): restoring fits a window to its screen
    size = first.size()
    options = JobOptions(model=TINY_MODEL_NAME, device="cpu", output_format="jpeg", quality=80, max_side_px=1024,
                         tile_size_px=512, skip_existing=False, strength=0.4)
    first.options_panel.set_options(options)
    first.add_paths([folder])
    first.close()
    assert not first.store.previous_session_crashed()

    second = MainWindow()
    qtbot.addWidget(second)
    second.show()
    qtbot.waitUntil(lambda: bool(second.options_panel.device_combo.devices), timeout=10_000)
    restored = second.options_panel.options()
    assert restored.replaced(video_codec=options.video_codec) == options
    assert second.size() == size
    assert str(folder) in second.settings.recent_folders
    assert [a.text() for a in second.commands.recent_menu.actions()][0] == str(folder)
    jobs = second.queue_model.jobs()
    assert [(j.inputs, j.status, j.options) for j in jobs] == [([folder], JobStatus.PENDING, options)]
    second.shutdown()
    QThreadPool.globalInstance().waitForDone(10_000)


def test_after_a_crash_the_queue_is_offered_not_forced(qtbot, bundled_tiny_model, make_photo_folder):
    folder = make_photo_folder("unfinished", count=1)
    crashed = MainWindow()
    qtbot.addWidget(crashed)
    crashed.add_paths([folder])
    crashed.save_queue()  # the debounced save had happened; then the process died (no shutdown)
    crashed.queue.shutdown()

    reopened = MainWindow()
    qtbot.addWidget(reopened)
    reopened.show()
    assert reopened.queue_model.rowCount() == 0
    assert reopened.notice_bar.isVisible() and "did not close properly" in reopened.notice_bar.label.text()
    reopened.notice_bar.button("Restore queue").click()
    assert [j.inputs for j in reopened.queue_model.jobs()] == [[folder]]
    assert not reopened.notice_bar.isVisible()
    reopened.shutdown()
    crashed.shutdown()
    QThreadPool.globalInstance().waitForDone(10_000)


def test_main_actions_have_shortcuts_and_fine_tune_is_available(window):
    actions = {a.text(): a for a in window.actions()}
    for text in ("Add files…", "Add folder…", "Start all", "Pause all", "Cancel all", "Start", "Pause", "Cancel",
                 "Re-run failed", "Remove", "Move up", "Move down", "Open output folder", "Import model…", "Quit"):
        assert not actions[text].shortcut().isEmpty(), text
    shortcuts = [a.shortcut().toString() for a in window.actions() if not a.shortcut().isEmpty()]
    assert len(shortcuts) == len(set(shortcuts))
    assert window.commands.fine_tune.isEnabled()  # its wizard is tested in test_fine_tune_wizard.py
    assert window.windowIcon().isNull() is False or window.icon.isNull()  # icon from resources/ when present


def test_a_gpu_failure_shows_a_notice_whose_button_retries_on_the_cpu(window, make_photo_folder, qtbot,
                                                                        monkeypatch):
    from core import batch_setup
    from tests.desktop_app.test_queue_controller import _FailingGpuCartoonizer

    monkeypatch.setattr(batch_setup, "Cartoonizer", _FailingGpuCartoonizer)
    [job] = window.add_paths([make_photo_folder("gpu", count=1)])
    assert job.options.device == "auto"
    window.commands.start_all.trigger()
    qtbot.waitUntil(lambda: window.notice_bar.isVisible(), timeout=30_000)
    assert "failed on the GPU" in window.notice_bar.label.text()
    window.notice_bar.button("Retry on CPU").click()
    qtbot.waitUntil(lambda: job.status == JobStatus.DONE, timeout=30_000)
    assert job.options.device == "cpu"


def test_actions_follow_the_selection_and_open_the_output_folder(window, make_photo_folder, qtbot, monkeypatch):
    from desktop_app import main_window as main_window_module

    opened: list[str] = []
    monkeypatch.setattr(main_window_module.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    first, second = (window.add_paths([make_photo_folder(n, count=1)])[0] for n in ("first", "second"))
    window.table.selectRow(1)
    assert window.commands.move_up.isEnabled() and window.commands.start.isEnabled()
    window.commands.move_up.trigger()
    assert [j.title for j in window.queue_model.jobs()] == ["second", "first"]
    assert window.selected_jobs() == [second]
    window.commands.open_output.trigger()
    assert opened == []  # not written yet: the status bar says so
    window.commands.start.trigger()
    qtbot.waitUntil(lambda: second.status == JobStatus.DONE, timeout=30_000)
    assert first.status == JobStatus.PENDING  # only the selected job was started
    window.commands.open_output.trigger()
    assert opened == [str(second.output_dir)]
    window.table.selectRow(1)
    window.commands.remove.trigger()
    assert window.queue_model.jobs() == [second]


def test_python_m_desktop_app_opens_the_window(qapp, bundled_tiny_model, make_photo_folder, monkeypatch):
    from desktop_app import __main__ as entry

    shown: list[MainWindow] = []

    def run_briefly(_app) -> int:
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible())
        shown.append(window)
        window.shutdown()
        window.close()
        QThreadPool.globalInstance().waitForDone(10_000)
        return 0

    monkeypatch.setattr(entry.QApplication, "exec", run_briefly)
    folder = make_photo_folder("from-command-line", count=1)
    assert entry.main([str(folder)]) == 0
    assert [j.inputs for j in shown[0].queue_model.jobs()] == [[folder]]
    assert qapp.applicationName() == "Cartoonizer"


def test_open_output_folder_without_a_file_manager_says_where_the_outputs_are(window, make_photo_folder, qtbot,
                                                                              monkeypatch):
    from desktop_app import main_window as main_window_module

    monkeypatch.setattr(main_window_module.QDesktopServices, "openUrl", lambda url: False)
    [job] = window.add_paths([make_photo_folder("nofm", count=1)])
    job.output_dir.mkdir()
    window.commands.open_output.trigger()
    assert window.notice_bar.isVisible()
    assert "No file manager" in window.notice_bar.label.text() and str(job.output_dir) in window.notice_bar.label.text()
    window.notice_bar.button("Copy path").click()
    assert QApplication.clipboard().text() == str(job.output_dir)


def test_a_window_saved_larger_than_the_screen_is_fitted_to_it(qtbot, bundled_tiny_model, config_dir):
    big = MainWindow()
    qtbot.addWidget(big)
    big.resize(3000, 2000)   # e.g. saved at 100 % on a large monitor, restored at 150 % on a laptop
    big.move(500, 400)
    big.shutdown()
    restored = MainWindow()
    qtbot.addWidget(restored)
    restored.show()
    available = restored.screen().availableGeometry()
    qtbot.waitUntil(lambda: available.contains(restored.frameGeometry()), timeout=5_000)
    restored.shutdown()


def test_start_all_restarts_cancelled_jobs(window, make_photo_folder, qtbot):
    [job] = window.add_paths([make_photo_folder("again", count=1)])
    window.queue.cancel([job.id])
    assert job.status == JobStatus.CANCELLED and window.commands.start_all.isEnabled()
    window.options_panel.set_options(JobOptions(model=TINY_MODEL_NAME, device="cpu"))
    window.commands.start_all.trigger()
    qtbot.waitUntil(lambda: job.status == JobStatus.DONE, timeout=30_000)


def test_the_title_shows_the_queues_progress_and_its_end_is_notified(window, make_photo_folder, qtbot):
    window.options_panel.set_options(JobOptions(model=TINY_MODEL_NAME, device="cpu"))
    jobs = [window.add_paths([make_photo_folder(name, count=2)])[0] for name in ("one", "two")]
    for job in jobs:
        job.options = job.options.replaced(model=TINY_MODEL_NAME, device="cpu")
    titles: list[str] = []
    window.windowTitleChanged.connect(titles.append)
    notified: list[tuple[str, str]] = []
    window.notifier.notify = lambda title, text: notified.append((title, text)) or "notification"
    window.commands.start_all.trigger()
    qtbot.waitUntil(lambda: bool(notified), timeout=30_000)
    assert all(job.status == JobStatus.DONE for job in jobs)
    assert any(" % " in t and "of 2" in t and t.endswith("— Cartoonizer") for t in titles), titles
    assert window.windowTitle() == "Cartoonizer"
    assert notified == [("Cartoonizer: the queue has finished", "2 of 2 job(s) done")]


def test_the_notifier_uses_the_tray_where_there_is_one(window, monkeypatch):
    from desktop_app import desktop_notifications

    shown: list[str] = []
    monkeypatch.setattr(desktop_notifications.QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    monkeypatch.setattr(desktop_notifications.QSystemTrayIcon, "supportsMessages", staticmethod(lambda: True))
    monkeypatch.setattr(desktop_notifications.QSystemTrayIcon, "showMessage",
                        lambda self, title, text, *args: shown.append(text))
    assert window.notifier.notify("Cartoonizer", "all done") == "notification" and shown == ["all done"]
    monkeypatch.setattr(desktop_notifications.QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: False))
    assert window.notifier.notify("Cartoonizer", "again") == "alert"


def test_the_theme_follows_the_choice_and_is_remembered(window, qtbot):
    from desktop_app.theme import is_dark

    assert window.commands.theme_actions["system"].isChecked()
    window.commands.theme_actions["dark"].trigger()
    assert is_dark(QApplication.palette()) and window.settings.theme == "dark"
    window.commands.theme_actions["light"].trigger()
    assert not is_dark(QApplication.palette()) and window.settings.theme == "light"
    window.commands.theme_actions["system"].trigger()
    assert window.settings.theme == "system"


def test_at_1366x768_the_queue_has_room_and_the_options_fit(window, make_photo_folder, qtbot):
    from desktop_app.job_queue_model import Column

    window.showNormal()
    window.resize(1366, 768 - 60)    # the screen less a taskbar and the title bar
    for name in ("a", "b"):
        window.add_paths([make_photo_folder(name, count=1)])
    qtbot.wait(50)
    table = window.table
    assert table.viewport().height() >= 5 * table.verticalHeader().defaultSectionSize()
    scroll = window.options_scroll
    assert not scroll.horizontalScrollBar().isVisible()
    assert window.options_panel.minimumSizeHint().width() <= scroll.viewport().width()
    job = window.queue_model.jobs()[0]
    job.status, job.counts.done, job.counts.skipped = JobStatus.DONE, 3, 120
    job.error = "empty file: a very long reason that does not fit the column at all"
    window.queue_model.job_changed(job.id)
    for column in (Column.STATUS, Column.ERROR):
        index = window.queue_model.index(0, int(column))
        assert index.data(Qt.ItemDataRole.ToolTipRole) == index.data(Qt.ItemDataRole.DisplayRole) or \
            index.data(Qt.ItemDataRole.DisplayRole) in index.data(Qt.ItemDataRole.ToolTipRole)
    assert table.textElideMode() == Qt.TextElideMode.ElideMiddle


def test_a_long_notice_is_cut_short_so_the_queue_keeps_its_room(window):
    reason = "the h264_nvenc encoder cannot be opened on this machine: " + "driver details " * 60
    window.notice_bar.show_notice(f"<b>clip.mp4</b> could not run: {reason}", level="error")
    label = window.notice_bar.label
    assert label.text().endswith(" …") and len(label.text()) < 300
    assert reason.strip() in label.toolTip()
    window.notice_bar.show_notice("<b>short</b> and sweet")
    assert window.notice_bar.label.text() == "<b>short</b> and sweet" and not window.notice_bar.label.toolTip()


def test_at_the_default_size_the_queue_fits_without_a_horizontal_scroll_bar(window, make_photo_folder, qtbot,
                                                                             tmp_path):
    from desktop_app.job_queue_model import Column

    window.showNormal()
    window.resize(1280, 820)   # the window's default size
    deep = tmp_path / ("a_rather_long_folder_name_for_the_holiday_photos_" * 3)
    for index in range(12):   # more rows than fit: the vertical scroll bar takes its width too
        window.add_paths([make_photo_folder(str(deep / f"album_with_a_long_name_{index}"), count=1)])
    job = window.queue_model.jobs()[0]
    job.status, job.error = JobStatus.FAILED, "cannot be read: " + "a very long reason " * 10
    window.queue_model.job_changed(job.id)
    table, header = window.table, window.table.horizontalHeader()

    def fits() -> bool:
        QApplication.processEvents()
        return table.horizontalScrollBar().maximum() == 0 and not table.horizontalScrollBar().isVisible()

    qtbot.waitUntil(fits, timeout=5_000)
    assert header.length() == table.viewport().width()
    assert all(header.sectionSize(int(column)) >= header.minimumSectionSize() for column in Column)
    assert header.sectionSize(int(Column.OUTPUT)) >= header.sectionSize(int(Column.INPUT)) > 100
    error = window.queue_model.index(0, int(Column.ERROR))
    assert error.data(Qt.ItemDataRole.ToolTipRole) == job.error   # the elided reason, in full
    for column in (Column.INPUT, Column.KIND, Column.ERROR):   # the user can still size columns; Output gives way
        assert header.sectionResizeMode(int(column)) == header.ResizeMode.Interactive
    header.resizeSection(int(Column.INPUT), 220)
    header.resizeSection(int(Column.KIND), 90)
    window.resize(1366, 820)
    qtbot.waitUntil(lambda: table.viewport().width() > 900, timeout=5_000)
    qtbot.waitUntil(fits, timeout=5_000)
    assert header.sectionSize(int(Column.INPUT)) == 220 and header.sectionSize(int(Column.KIND)) == 90
