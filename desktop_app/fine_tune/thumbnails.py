"""A strip of small thumbnails of a folder's pictures: a list model whose pictures are decoded on the thread pool,
one worker per picture, each filling its own row (`dataChanged` for that row only), and the icon-mode view over it.

Decoding uses QImageReader with a scaled size, so a 24-megapixel JPEG is read at thumbnail size; QImage (unlike
QPixmap) may be made off the GUI thread, and the pixmap is made when the view first asks for it.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QImage, QImageReader, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QFrame, QListView, QWidget

from desktop_app.function_worker import run_in_background

log = logging.getLogger("desktop_app.fine_tune")
THUMBNAIL_PX = 72
MAX_THUMBNAILS = 12
_Index = QModelIndex | QPersistentModelIndex


def load_thumbnail(path: Path, size_px: int = THUMBNAIL_PX) -> QImage:
    """`path` decoded to fit a size_px square (EXIF orientation applied); raises ValueError if unreadable."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and (size.width() > size_px or size.height() > size_px):
        reader.setScaledSize(size.scaled(size_px, size_px, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        raise ValueError(f"{path.name}: {reader.errorString()}")
    if image.width() > size_px or image.height() > size_px:  # formats that ignore the scaled size
        image = image.scaled(size_px, size_px, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    return image


def spread(paths: Sequence[Path], count: int = MAX_THUMBNAILS) -> list[Path]:
    """At most `count` paths evenly spread over `paths` (first and last included), so the strip shows the range."""
    if len(paths) <= count:
        return list(paths)
    return [paths[round(i * (len(paths) - 1) / (count - 1))] for i in range(count)]


class ThumbnailListModel(QAbstractListModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._paths: list[Path] = []
        self._images: list[QImage | None] = []
        self._pixmaps: dict[int, QPixmap] = {}
        self._generation = 0

    def set_paths(self, paths: Sequence[Path]) -> None:
        """Show up to MAX_THUMBNAILS of `paths`; their pictures arrive one by one."""
        self.beginResetModel()
        self._generation += 1
        self._paths = spread(list(paths))
        self._images = [None] * len(self._paths)
        self._pixmaps.clear()
        self.endResetModel()
        generation = self._generation
        for row, path in enumerate(self._paths):
            run_in_background(load_thumbnail, path,
                              on_returned=lambda image, row=row: self._loaded(generation, row, image),
                              on_errored=lambda message, _trace: log.info("no thumbnail: %s", message))

    def loaded_count(self) -> int:
        return sum(image is not None for image in self._images)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._paths)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._paths):
            return None
        row = index.row()
        if role == Qt.ItemDataRole.DecorationRole and self._images[row] is not None:
            if row not in self._pixmaps:
                self._pixmaps[row] = QPixmap.fromImage(self._images[row])
            return self._pixmaps[row]
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(self._paths[row])
        if role == Qt.ItemDataRole.SizeHintRole:  # before the picture arrives too (the view caches one size)
            return QSize(THUMBNAIL_PX, THUMBNAIL_PX)
        return None

    def _loaded(self, generation: int, row: int, image: QImage) -> None:
        if generation != self._generation:  # the folder changed meanwhile
            return
        self._images[row] = image
        index = self.index(row)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class ThumbnailStrip(QListView):
    """One row of thumbnails, scrolling sideways."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.thumbnails = ThumbnailListModel(self)
        self.setModel(self.thumbnails)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(THUMBNAIL_PX, THUMBNAIL_PX))
        self.setGridSize(QSize(THUMBNAIL_PX + 6, THUMBNAIL_PX + 6))
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(THUMBNAIL_PX + 8 + self.horizontalScrollBar().sizeHint().height())
        self.setStyleSheet("QListView { background: transparent; }")
