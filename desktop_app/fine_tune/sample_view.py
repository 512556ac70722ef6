"""The latest sample grid of a training run (one row per photo: photo | cartoon), scaled to fit, with a caption.
Each grid file is decoded on the thread pool; a grid that arrives after a newer one was asked for is dropped."""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop_app.function_worker import run_in_background

log = logging.getLogger("desktop_app.fine_tune")


def read_image_file(path: Path) -> QImage:
    reader = QImageReader(str(path))
    image = reader.read()
    if image.isNull():
        raise ValueError(f"{path.name}: {reader.errorString()}")
    return image


class SampleView(QWidget):
    shown = Signal(str)  # the path now on screen

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image = QImage()
        self._path: Path | None = None
        self._wanted = 0
        self.placeholder = "Samples appear here as training goes: each row is a photo and its cartoon."
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 160)

    def show_file(self, path: str | Path) -> None:
        self._wanted += 1
        wanted = self._wanted
        run_in_background(read_image_file, Path(path),
                          on_returned=lambda image: self._loaded(wanted, Path(path), image),
                          on_errored=lambda message, _trace: log.warning("could not show the sample: %s", message))

    def image(self) -> QImage:
        return self._image

    def path(self) -> Path | None:
        return self._path

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(260, 400)

    def _loaded(self, wanted: int, path: Path, image: QImage) -> None:
        if wanted != self._wanted:
            return
        self._image, self._path = image, path
        self.setToolTip(str(path))
        self.update()
        self.shown.emit(str(path))

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if self._image.isNull():
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF((self.width() - size.width()) / 2, (self.height() - size.height()) / 2, size.width(),
                        size.height())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform,
                              size.width() < self._image.width())  # crisp pixels when enlarged
        painter.drawImage(target, self._image)
