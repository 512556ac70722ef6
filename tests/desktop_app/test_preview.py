"""The preview: before/after rendered on the worker with the current options, and the split-slider widget."""
from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication
from PySide6.QtTest import QTest

from desktop_app.before_after_view import BeforeAfterView
from core.batch import BatchOptions, ItemKind, plan_batch
from core.frame_sequence import find_frame_sequence
from desktop_app.job import JobKind
from desktop_app.job_options import JobOptions
from desktop_app.preview import PREVIEW_MAX_SIDE_PX, preview_pictures
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


@pytest.fixture
def grey_clip(tmp_path):
    """A 1 s clip of 10 flat grey frames, frame i at level 20 + 20·i."""
    synthetic_video = pytest.importorskip("tests.core.synthetic_video")
    pictures = [np.full((48, 64, 3), 20 + 20 * i, np.uint8) for i in range(10)]
    (tmp_path / "clips").mkdir()
    return synthetic_video.write_clip(tmp_path / "clips" / "grey.mp4", frames=10, rate=Fraction(10),
                                      pictures=pictures, audio=None, crf=0)


def _level(image: QImage) -> int:
    return round((_pixels(image).mean() - 20) / 20)


def test_a_video_job_previews_the_frame_the_time_slider_picks(window, grey_clip, qtbot):
    window.add_paths([grey_clip])
    assert window.timeline.isVisibleTo(window)
    qtbot.waitUntil(lambda: window.preview.last_result is not None, timeout=20_000)
    first = window.preview.last_result
    assert first.source == grey_clip and _level(first.before) == 0 and window.preview_view.has_images()
    assert "grey.mp4 at 0:00.0 of 0:01.0" in window.preview_caption.text()
    window.time_slider.setValue(550)   # 0.55 s: frame 5 is on screen from 0.5 s to 0.6 s
    qtbot.waitUntil(lambda: window.preview.last_result.generation > first.generation, timeout=20_000)
    assert _level(window.preview.last_result.before) == 5
    assert window.time_label.text() == "0:00.5 of 0:01.0"
    window.commands.next_picture.trigger()  # one second on: the end of the clip
    qtbot.waitUntil(lambda: _level(window.preview.last_result.before) == 9, timeout=20_000)
    assert window.time_slider.value() == 1000


def test_a_frame_folder_previews_the_frame_the_time_slider_picks(window, tmp_path, qtbot):
    folder = tmp_path / "shot"
    folder.mkdir()
    for index in range(10):
        Image.fromarray(np.full((40, 60, 3), 20 + 20 * index, np.uint8)).save(folder / f"f_{index:03d}.png")
    [job] = window.add_paths([folder])
    assert job.kind == JobKind.FRAMES and window.timeline.isVisibleTo(window)
    qtbot.waitUntil(lambda: window.preview.last_result is not None, timeout=20_000)
    window.time_slider.setValue(1000)
    qtbot.waitUntil(lambda: window.preview.last_result.source.name == "f_009.png", timeout=20_000)
    assert _level(window.preview.last_result.before) == 9 and "(10 of 10)" in window.preview_caption.text()


def _frame_folder(folder, count: int = 10):
    folder.mkdir(parents=True)
    for index in range(count):
        Image.fromarray(np.full((40, 60, 3), 20 + 20 * index, np.uint8)).save(folder / f"f_{index:03d}.png")
    return folder


def test_a_frame_folder_that_becomes_a_video_previews_its_frames_at_the_chosen_rate(window, tmp_path, qtbot):
    window.options_panel.set_options(JobOptions(frames_as_video=True, frames_fps=5.0))
    [job] = window.add_paths([_frame_folder(tmp_path / "shot")])
    assert job.kind == JobKind.FRAMES and job.options.frames_as_video
    qtbot.waitUntil(lambda: window.preview.last_result is not None, timeout=20_000)
    window.time_slider.setValue(1000)
    qtbot.waitUntil(lambda: window.preview.last_result.source.name == "f_009.png", timeout=20_000)
    assert _level(window.preview.last_result.before) == 9
    assert window.time_label.text() == "0:01.8 of 0:02.0"   # frame 9 of 10 at the video's 5 fps


def test_the_preview_plans_a_job_as_its_batch_will(tmp_path):
    album = tmp_path / "album"
    photos = [write_photo(album / name, seed=index) for index, name in enumerate(("a.jpg", "b.png"))]
    shot = _frame_folder(album / "shot")
    frames = list(find_frame_sequence(shot).frames)
    as_video = JobOptions(frames_as_video=True).batch_options(tmp_path / "out")
    assert [item.kind for item in plan_batch([album], as_video).runnable] == [ItemKind.IMAGE, ItemKind.IMAGE,
                                                                            ItemKind.FRAMES]
    assert preview_pictures((album,), as_video) == photos + frames   # the frame folder item's frames, in order
    assert preview_pictures((album,), BatchOptions(tmp_path / "out")) == photos + frames   # frames as photos
    same_stem = [write_photo(tmp_path / "pair" / name) for name in ("p.jpg", "p.png")]
    assert preview_pictures(tuple(same_stem), BatchOptions(tmp_path / "out")) == same_stem
    as_png = JobOptions(output_format="png").batch_options(tmp_path / "out")   # p.jpg's cartoon is p.png too:
    assert preview_pictures(tuple(same_stem), as_png) == same_stem[:1]         # the batch refuses p.png


def test_an_unreadable_video_is_one_line_and_the_caption_forgets_the_last_job(window, tmp_path, qtbot):
    photo = write_photo(tmp_path / "first" / "p.png")
    window.add_paths([photo.parent])
    qtbot.waitUntil(lambda: window.preview.last_result is not None, timeout=20_000)
    assert "p.png" in window.preview_caption.text()
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0" * 32)
    window.add_paths([video])
    qtbot.waitUntil(lambda: "Cannot preview clip.mp4" in window.preview_view.message, timeout=10_000)
    assert not window.preview_view.has_images()
    assert "p.png" not in window.preview_caption.text()
    assert "Traceback" not in window.log_panel.plain_text()


def test_a_job_whose_first_photo_is_bad_previews_the_next_one(window, tmp_path, qtbot):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a_broken.png").write_bytes(b"not a png at all")
    write_photo(folder / "b_good.png")
    window.add_paths([folder])
    qtbot.waitUntil(lambda: window.preview.last_result is not None, timeout=20_000)
    assert window.preview.last_result.source.name == "b_good.png"
    log_text = window.log_panel.plain_text()
    assert "a_broken.png cannot be read" in log_text and "Traceback" not in log_text
    window.commands.previous_picture.trigger()  # backwards past the broken one: b_good again, no new line
    qtbot.waitUntil(lambda: window.preview.last_result.generation > 1 and not window.preview_view.message,
                    timeout=20_000)
    assert window.log_panel.plain_text().count("a_broken.png cannot be read") == 1


def test_a_traceback_goes_to_the_details_not_the_log_line(window, qtbot):
    logging.getLogger("desktop_app.test").warning("a plain line")
    try:
        raise ValueError("deep down")
    except ValueError:
        logging.getLogger("desktop_app.test").exception("something failed")
    qtbot.waitUntil(lambda: "something failed" in window.log_panel.plain_text(), timeout=5_000)
    panel = window.log_panel
    assert "Traceback" not in panel.plain_text()
    last_line = panel.document().blockCount() - 1
    assert "ValueError: deep down" in panel.details_at_line(last_line)
    assert panel.details_at_line(last_line - 1) is None   # "a plain line"


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


def _wheel(view: BeforeAfterView, position: QPointF, notches: int) -> None:
    event = QWheelEvent(position, view.mapToGlobal(position), QPoint(), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, event)


def test_the_wheel_zooms_about_the_pointer_and_dragging_pans(qtbot):
    view = BeforeAfterView()
    qtbot.addWidget(view)
    view.resize(416, 216)
    view.show()
    view.set_images(_solid("red", 400, 200), _solid("blue", 400, 200))
    assert view.is_fit() and view.zoom() == pytest.approx(1.0)
    pointer = QPointF(100, 60)
    under = view.picture_point(pointer)
    with qtbot.waitSignal(view.zoom_changed):
        _wheel(view, pointer, 3)
    assert view.zoom() == pytest.approx(1.25 ** 3) and not view.is_fit()
    moved = view.picture_point(pointer)
    assert (moved.x(), moved.y()) == pytest.approx((under.x(), under.y()), abs=0.5)   # the point stays put
    assert view.image_rect() == QRect(8, 8, 400, 200)          # the zoomed picture fills the view
    before_drag = view.picture_point(QPointF(208, 108))
    QTest.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(300, 108))  # far from the split: a pan
    QTest.mouseMove(view, QPoint(260, 108))
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(260, 108))
    after_drag = view.picture_point(QPointF(208, 108))
    assert after_drag.x() - before_drag.x() == pytest.approx(40 / view.zoom(), abs=0.5)
    assert view.split == 0.5                                   # panning left the split alone
    _wheel(view, pointer, -10)                                 # zooming out stops at fit
    assert view.is_fit()


def test_fit_1_to_1_and_side_by_side(qtbot):
    view = BeforeAfterView()
    qtbot.addWidget(view)
    view.resize(416, 216)
    view.show()
    view.set_images(_solid("red", 100, 50), _solid("blue", 100, 50))
    assert view.zoom() == pytest.approx(4.0)                   # a small preview is enlarged to fit
    view.zoom_to(1.0)
    assert view.zoom() == 1.0 and view.image_rect().size() == QSize(100, 50)
    view.fit()
    assert view.is_fit() and view.image_rect().size() == QSize(400, 200)
    view.set_side_by_side(True)
    left, right = view.picture_areas()
    grabbed = view.grab().toImage()
    assert grabbed.pixelColor(left.center().toPoint()).red() > 200
    assert grabbed.pixelColor(right.center().toPoint()).blue() > 200
    view.zoom_by(2.0, right.center())                          # both halves zoom together
    grabbed = view.grab().toImage()
    assert grabbed.pixelColor(left.center().toPoint()).red() > 200
    assert grabbed.pixelColor(right.center().toPoint()).blue() > 200


def test_the_preview_zoom_commands_and_caption(window, tmp_path, qtbot):
    photo = write_photo(tmp_path / "z" / "p.png", height=300, width=400)
    window.add_paths([photo.parent])
    qtbot.waitUntil(lambda: window.preview_view.has_images(), timeout=20_000)
    window.commands.zoom_actual.trigger()
    assert window.preview_view.zoom() == 1.0 and window.zoom_label.text() == "100 %"
    window.commands.side_by_side.trigger()
    assert window.preview_view.side_by_side
    window.commands.zoom_fit.trigger()
    assert window.preview_view.is_fit() and window.zoom_label.text().endswith("(fit)")
