"""The preview: before/after rendered on the worker with the current options, and the split-slider widget."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest

from desktop_app.before_after_view import BeforeAfterView
from desktop_app.preview import PREVIEW_MAX_SIDE_PX
from tests.desktop_app.conftest import write_photo


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def test_selecting_a_job_renders_a_downscaled_before_and_after(window, tmp_path, qtbot):
    photo = write_photo(tmp_path / "big" / "wide.png", height=500, width=1000)
    window.add_paths([photo.parent])
    qtbot.waitUntil(lambda: window.preview.last_result is not None, timeout=20_000)
    result = window.preview.last_result
    assert result.source == photo
    assert (result.before.width(), result.before.height()) == (PREVIEW_MAX_SIDE_PX, PREVIEW_MAX_SIDE_PX // 2)
    assert result.after.size() == result.before.size()
    assert window.preview_view.has_images() and "wide.png" in window.preview_caption.text()
    assert np.abs(_pixels(result.after).astype(int) - _pixels(result.before)).mean() > 5  # it did cartoonize


def test_the_preview_follows_the_options(window, tmp_path, qtbot):
    photo = write_photo(tmp_path / "one" / "p.png", height=120, width=160)
    window.add_paths([photo.parent])
    qtbot.waitUntil(lambda: window.preview.last_result is not None, timeout=20_000)
    first = window.preview.last_result
    window.options_panel.strength_slider.setValue(0)  # strength 0 = the photo itself
    qtbot.waitUntil(lambda: window.preview.last_result.generation > first.generation, timeout=20_000)
    latest = window.preview.last_result
    assert np.abs(_pixels(latest.after).astype(int) - _pixels(latest.before)).max() <= 1
    window.options_panel.max_side_spin.setValue(64)  # the preview shrinks as the batch would
    qtbot.waitUntil(lambda: window.preview.last_result.before.width() == 64, timeout=20_000)


def test_a_video_job_says_why_there_is_no_preview_yet(window, tmp_path, qtbot):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0" * 32)
    window.add_paths([video])
    qtbot.waitUntil(lambda: "Video preview" in window.preview_view.message, timeout=10_000)
    assert not window.preview_view.has_images()


def _solid(colour: str, width: int = 200, height: int = 100) -> QImage:
    image = QImage(width, height, QImage.Format.Format_RGB888)
    image.fill(QColor(colour))
    return image


def test_the_split_view_shows_before_left_and_after_right_and_follows_the_mouse(qtbot):
    view = BeforeAfterView()
    qtbot.addWidget(view)
    view.resize(416, 216)
    view.show()
    view.set_images(_solid("red"), _solid("blue"))
    target = view.image_rect()
    assert target.width() == 400 and target.height() == 200
    grabbed = view.grab().toImage()
    assert grabbed.pixelColor(target.left() + 20, target.center().y()).red() > 200
    assert grabbed.pixelColor(target.right() - 20, target.center().y()).blue() > 200
    with qtbot.waitSignal(view.split_changed):
        QTest.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(target.left() + 100, target.center().y()))
    assert abs(view.split - 0.25) < 0.01
    grabbed = view.grab().toImage()
    assert grabbed.pixelColor(target.left() + 150, target.center().y()).blue() > 200
    QTest.keyClick(view, Qt.Key.Key_Right)
    assert abs(view.split - 0.30) < 0.01
    view.set_message("Rendering preview…", keep_images=True)
    assert view.has_images()
    view.set_message("Nothing here")
    assert not view.has_images()


def test_previous_and_next_step_through_the_jobs_photos(window, make_photo_folder, qtbot):
    folder = make_photo_folder("three", count=3)
    window.add_paths([folder])
    qtbot.waitUntil(lambda: window.preview.last_result is not None, timeout=20_000)
    assert window.preview.last_result.source.name == "photo_00.png"
    assert "(1 of 3)" in window.preview_caption.text()
    window.commands.next_picture.trigger()
    qtbot.waitUntil(lambda: window.preview.last_result.source.name == "photo_01.png", timeout=20_000)
    window.commands.previous_picture.trigger()
    window.commands.previous_picture.trigger()  # wraps around to the last one
    qtbot.waitUntil(lambda: window.preview.last_result.source.name == "photo_02.png", timeout=20_000)
    assert "(3 of 3)" in window.preview_caption.text()
