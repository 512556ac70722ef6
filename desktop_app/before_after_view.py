"""A before/after picture with a split slider: the photo left of the split, its cartoon right of it. Drag the
split with the mouse, or move it with the arrow keys. It paints two QImages and a message; it computes nothing."""
from __future__ import annotations

from PySide6.QtCore import QMargins, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

HANDLE_RADIUS_PX = 11
KEY_STEP = 0.05
PICTURE_MARGINS = QMargins(8, 8, 8, 8)


class BeforeAfterView(QWidget):
    split_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._before: QImage | None = None
        self._after: QImage | None = None
        self._split = 0.5
        self._message = "Select a job to preview it"
        self.setMinimumSize(220, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setToolTip("Drag to compare the photo (left) with its cartoon (right)")

    # --- content -------------------------------------------------------------------------------------------
    def set_images(self, before: QImage, after: QImage) -> None:
        self._before, self._after, self._message = before, after, ""
        self.update()

    def set_message(self, message: str, keep_images: bool = False) -> None:
        """Show `message`; over the pictures (e.g. "Rendering…") with `keep_images`, alone otherwise."""
        if not keep_images:
            self._before = self._after = None
        self._message = message
        self.update()

    def has_images(self) -> bool:
        return self._before is not None and self._after is not None

    @property
    def message(self) -> str:
        return self._message

    @property
    def split(self) -> float:
        return self._split

    def set_split(self, fraction: float) -> None:
        fraction = min(1.0, max(0.0, fraction))
        if fraction != self._split:
            self._split = fraction
            self.split_changed.emit(fraction)
            self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(480, 320)

    # --- painting ------------------------------------------------------------------------------------------
    def image_rect(self) -> QRect:
        """Where the pictures are drawn: as large as fits, centred, aspect ratio kept."""
        if self._before is None:
            return QRect()
        size = self._before.size().scaled(self.size().shrunkBy(PICTURE_MARGINS), Qt.AspectRatioMode.KeepAspectRatio)
        left = (self.width() - size.width()) // 2
        top = (self.height() - size.height()) // 2
        return QRect(left, top, size.width(), size.height())

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().window().color().darker(108))
        if self._before is not None and self._after is not None:
            self._paint_pictures(painter)
        if self._message:
            self._paint_message(painter)

    def _paint_pictures(self, painter: QPainter) -> None:
        target = self.image_rect()
        split_x = target.left() + round(self._split * target.width())
        scale_x = self._before.width() / max(1, target.width())
        left = QRectF(target.left(), target.top(), split_x - target.left(), target.height())
        right = QRectF(split_x, target.top(), target.right() + 1 - split_x, target.height())
        painter.drawImage(left, self._before, QRectF(0, 0, left.width() * scale_x, self._before.height()))
        after_scale_x = self._after.width() / max(1, target.width())
        painter.drawImage(right, self._after, QRectF((split_x - target.left()) * after_scale_x, 0,
                                                     right.width() * after_scale_x, self._after.height()))
        painter.setPen(QPen(QColor(255, 255, 255, 230), 2))
        painter.drawLine(split_x, target.top(), split_x, target.bottom())
        centre = QPointF(split_x, target.center().y())
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.setPen(QPen(QColor(0, 0, 0, 120), 1))
        painter.drawEllipse(centre, HANDLE_RADIUS_PX, HANDLE_RADIUS_PX)
        painter.setPen(QPen(QColor(60, 60, 60), 2))
        for direction in (-1, 1):  # two small arrowheads: ‹ ›
            tip = centre + QPointF(direction * 6, 0)
            painter.drawLine(tip, tip + QPointF(-direction * 4, -4))
            painter.drawLine(tip, tip + QPointF(-direction * 4, 4))
        self._paint_label(painter, "Before", QPointF(target.left() + 8, target.top() + 8), align_right=False)
        self._paint_label(painter, "After", QPointF(target.right() - 8, target.top() + 8), align_right=True)

    def _paint_label(self, painter: QPainter, text: str, anchor: QPointF, align_right: bool) -> None:
        metrics = painter.fontMetrics()
        box = QRectF(0, 0, metrics.horizontalAdvance(text) + 12, metrics.height() + 4)
        box.moveTop(anchor.y())
        if align_right:
            box.moveRight(anchor.x())
        else:
            box.moveLeft(anchor.x())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 140))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_message(self, painter: QPainter) -> None:
        metrics = painter.fontMetrics()
        width = min(self.width() - 24, metrics.horizontalAdvance(self._message) + 24)
        box = QRectF((self.width() - width) / 2, (self.height() - metrics.height() * 2) / 2, width,
                     metrics.height() * 2)
        if self.has_images():
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.drawRoundedRect(box, 6, 6)
            painter.setPen(QColor("white"))
        else:
            painter.setPen(self.palette().placeholderText().color())
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message)

    # --- interaction ---------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton:
            self._split_to(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._split_to(event.position().x())
        target = self.image_rect()
        near_split = target.isValid() and abs(event.position().x() - (target.left() + self._split * target.width())) < 12
        self.setCursor(Qt.CursorShape.SplitHCursor if near_split else Qt.CursorShape.ArrowCursor)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Left:
            self.set_split(self._split - KEY_STEP)
        elif event.key() == Qt.Key.Key_Right:
            self.set_split(self._split + KEY_STEP)
        else:
            super().keyPressEvent(event)

    def _split_to(self, x: float) -> None:
        target = self.image_rect()
        if target.isValid():
            self.set_split((x - target.left()) / max(1, target.width()))

