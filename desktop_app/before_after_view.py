"""A before/after picture: the photo left of a split line and its cartoon right of it (drag the split, or move it
with the arrow keys), or both side by side. The mouse wheel zooms about the pointer, dragging pans a zoomed
picture, and Fit / 1:1 reset the zoom; both halves of the side-by-side mode always show the same part of the
picture. It paints two QImages and a message; it computes nothing."""
from __future__ import annotations

from PySide6.QtCore import QMarginsF, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

HANDLE_RADIUS_PX = 11
HANDLE_GRAB_PX = 12
KEY_STEP = 0.05
PICTURE_MARGIN_PX = 8
SIDE_BY_SIDE_GAP_PX = 8
WHEEL_ZOOM_STEP = 1.25          # per wheel notch (120 units)
MAX_ZOOM = 16.0                 # screen pixels per picture pixel
PIXELATED_FROM_ZOOM = 2.0       # from here on pixels are drawn as squares, so that they can be inspected


class BeforeAfterView(QWidget):
    split_changed = Signal(float)
    zoom_changed = Signal(float, bool)     # screen pixels per picture pixel, whether it is "fit"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._before: QImage | None = None
        self._after: QImage | None = None
        self._split = 0.5
        self._message = "Select a job to preview it"
        self._zoom: float | None = None          # None: fit the window
        self._centre = QPointF()                 # the picture point shown in the middle when zoomed
        self._side_by_side = False
        self._drag: str | None = None            # "split" or "pan" while a mouse button is held
        self._drag_origin = (QPointF(), QPointF())
        self.setMinimumSize(200, 100)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setToolTip("Drag the line to compare the photo (left) with its cartoon (right); the wheel zooms, "
                        "dragging a zoomed picture moves it")

    # --- content -------------------------------------------------------------------------------------------
    def set_images(self, before: QImage, after: QImage) -> None:
        """Show a new pair. The zoom and the part shown stay when the size stays (a re-render with other options,
        the next frame); a picture of another size is shown whole."""
        new_size = self._before is None or before.size() != self._before.size()
        self._before, self._after, self._message = before, after, ""
        if new_size:
            self._zoom = None
            self._centre = QPointF(before.width() / 2, before.height() / 2)
            self.zoom_changed.emit(self.zoom(), True)
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

    @property
    def side_by_side(self) -> bool:
        return self._side_by_side

    def set_side_by_side(self, on: bool) -> None:
        if on != self._side_by_side:
            self._side_by_side = on
            self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self._before is not None:
            self._clamp_centre()
            if self.is_fit():
                self.zoom_changed.emit(self.zoom(), True)   # "fit" is another zoom at another size

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(480, 320)

    # --- zoom ----------------------------------------------------------------------------------------------
    def zoom(self) -> float:
        """Screen pixels per picture pixel, as now shown (fit included)."""
        return self._zoom if self._zoom is not None else self._fit_zoom()

    def is_fit(self) -> bool:
        return self._zoom is None

    def fit(self) -> None:
        self._zoom = None
        if self._before is not None:
            self._centre = QPointF(self._before.width() / 2, self._before.height() / 2)
        self._zoom_done()

    def zoom_to(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom so that one picture pixel is `zoom` screen pixels, keeping the picture point under `anchor` (a
        widget position; the middle of the picture area by default) where it is. Reaching the fit zoom: fit."""
        if self._before is None:
            return
        area = self.picture_areas()[0]
        fit = self._fit_zoom()
        zoom = max(min(fit, 1.0), min(MAX_ZOOM, zoom))   # a small picture may shrink back to 1:1, no further
        if abs(zoom - fit) <= fit * 0.001:
            self.fit()
            return
        anchor = anchor if anchor is not None else area.center()
        area = self._area_at(anchor)
        point = self.picture_point(anchor)
        offset = anchor - area.center()
        self._zoom = zoom
        self._centre = point - offset / zoom
        self._zoom_done()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.zoom_to(self.zoom() * factor, anchor)

    def pan_by(self, dx_px: float, dy_px: float) -> None:
        """Move the zoomed picture by screen pixels (as a drag does)."""
        if self._zoom is not None:
            self._centre -= QPointF(dx_px, dy_px) / self._zoom
            self._clamp_centre()
            self.update()

    def picture_point(self, position: QPointF) -> QPointF:
        """The picture coordinate under a widget position."""
        area = self._area_at(position)
        target = self._target_in(area)
        zoom = self.zoom()
        return QPointF((position.x() - target.left()) / zoom, (position.y() - target.top()) / zoom)

    def _zoom_done(self) -> None:
        self._clamp_centre()
        self.zoom_changed.emit(self.zoom(), self.is_fit())
        self.update()

    def _fit_zoom(self) -> float:
        if self._before is None:
            return 1.0
        area = self.picture_areas()[0]
        return max(1e-6, min(area.width() / self._before.width(), area.height() / self._before.height()))

    def _clamp_centre(self) -> None:
        """Keep the picture covering the view where it is larger than the view, centred where it is smaller."""
        if self._before is None or self._zoom is None:
            return
        area = self.picture_areas()[0]
        x = _clamped(self._centre.x(), self._before.width(), area.width() / self._zoom)
        y = _clamped(self._centre.y(), self._before.height(), area.height() / self._zoom)
        self._centre = QPointF(x, y)

    # --- geometry ------------------------------------------------------------------------------------------
    def picture_areas(self) -> list[QRectF]:
        """Where pictures may be drawn: the whole view, or its two halves side by side."""
        area = QRectF(self.rect()).marginsRemoved(QMarginsF(*(PICTURE_MARGIN_PX,) * 4))
        if not self._side_by_side:
            return [area]
        half = (area.width() - SIDE_BY_SIDE_GAP_PX) / 2
        return [QRectF(area.left(), area.top(), half, area.height()),
                QRectF(area.right() - half, area.top(), half, area.height())]

    def _area_at(self, position: QPointF) -> QRectF:
        areas = self.picture_areas()
        return areas[-1] if len(areas) > 1 and position.x() > areas[0].right() else areas[0]

    def _target_in(self, area: QRectF) -> QRectF:
        """The whole picture's rectangle in widget coordinates (it may reach beyond `area` when zoomed)."""
        zoom = self.zoom()
        width, height = self._before.width() * zoom, self._before.height() * zoom
        if self._zoom is None:
            return QRectF(area.center().x() - width / 2, area.center().y() - height / 2, width, height)
        return QRectF(area.center().x() - self._centre.x() * zoom, area.center().y() - self._centre.y() * zoom,
                      width, height)

    def image_rect(self) -> QRect:
        """Where the picture is visible (in the first area); empty without pictures."""
        if self._before is None:
            return QRect()
        area = self.picture_areas()[0]
        return self._target_in(area).intersected(area).toAlignedRect()

    def _split_x(self) -> float:
        visible = QRectF(self.image_rect())
        return visible.left() + self._split * visible.width()

    # --- painting ------------------------------------------------------------------------------------------
    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().window().color().darker(108))
        if self._before is not None and self._after is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom() < PIXELATED_FROM_ZOOM)
            if self._side_by_side:
                self._paint_side_by_side(painter)
            else:
                self._paint_split(painter)
        if self._message:
            self._paint_message(painter)

    def _draw_part(self, painter: QPainter, image: QImage, area: QRectF, clip: QRectF) -> None:
        """Draw the part of `image` that falls inside `clip`, placed and zoomed as for `area`."""
        target = self._target_in(area)
        visible = target.intersected(clip)
        if visible.isEmpty():
            return
        zoom = self.zoom()
        source = QRectF((visible.left() - target.left()) / zoom, (visible.top() - target.top()) / zoom,
                        visible.width() / zoom, visible.height() / zoom)
        painter.drawImage(visible, image, source)

    def _paint_split(self, painter: QPainter) -> None:
        area = self.picture_areas()[0]
        visible = QRectF(self.image_rect())
        split_x = self._split_x()
        self._draw_part(painter, self._before, area, QRectF(visible.left(), visible.top(),
                                                            split_x - visible.left(), visible.height()))
        self._draw_part(painter, self._after, area, QRectF(split_x, visible.top(), visible.right() - split_x,
                                                           visible.height()))
        painter.setPen(QPen(QColor(255, 255, 255, 230), 2))
        painter.drawLine(QPointF(split_x, visible.top()), QPointF(split_x, visible.bottom()))
        centre = QPointF(split_x, visible.center().y())
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.setPen(QPen(QColor(0, 0, 0, 120), 1))
        painter.drawEllipse(centre, HANDLE_RADIUS_PX, HANDLE_RADIUS_PX)
        painter.setPen(QPen(QColor(60, 60, 60), 2))
        for direction in (-1, 1):  # two small arrowheads: ‹ ›
            tip = centre + QPointF(direction * 6, 0)
            painter.drawLine(tip, tip + QPointF(-direction * 4, -4))
            painter.drawLine(tip, tip + QPointF(-direction * 4, 4))
        self._paint_label(painter, "Before", QPointF(visible.left() + 8, visible.top() + 8), align_right=False)
        self._paint_label(painter, "After", QPointF(visible.right() - 8, visible.top() + 8), align_right=True)

    def _paint_side_by_side(self, painter: QPainter) -> None:
        for area, image, label in zip(self.picture_areas(), (self._before, self._after), ("Before", "After")):
            self._draw_part(painter, image, area, area)
            visible = self._target_in(area).intersected(area)
            self._paint_label(painter, label, QPointF(visible.left() + 8, visible.top() + 8), align_right=False)

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
    def _near_split(self, x: float) -> bool:
        return not self._side_by_side and self.image_rect().isValid() and abs(x - self._split_x()) < HANDLE_GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        position = event.position()
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and not self.is_fit()
                and not self._near_split(position.x())):
            self._drag, self._drag_origin = "pan", (position, self._centre)
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif event.button() == Qt.MouseButton.LeftButton and not self._side_by_side:
            self._drag = "split"
            self._split_to(position.x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        position = event.position()
        if self._drag == "split":
            self._split_to(position.x())
        elif self._drag == "pan" and self._zoom is not None:
            start, centre = self._drag_origin
            self._centre = centre - (position - start) / self._zoom
            self._clamp_centre()
            self.update()
        if self._drag is None:
            if self._near_split(position.x()):
                self.setCursor(Qt.CursorShape.SplitHCursor)
            elif not self.is_fit():
                self.setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.setCursor(Qt.CursorShape.ArrowCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self._drag = None
        self.setCursor(Qt.CursorShape.OpenHandCursor if not self.is_fit() else Qt.CursorShape.ArrowCursor)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        """Double-click: 1:1 at that point, or back to fit."""
        if self.is_fit() and self._fit_zoom() < 1.0:
            self.zoom_to(1.0, event.position())
        else:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        notches = event.angleDelta().y() / 120
        if not notches or self._before is None:
            event.ignore()
            return
        self.zoom_by(WHEEL_ZOOM_STEP ** notches, event.position())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        key = event.key()
        if key == Qt.Key.Key_Left:
            self.set_split(self._split - KEY_STEP)
        elif key == Qt.Key.Key_Right:
            self.set_split(self._split + KEY_STEP)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(WHEEL_ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(1 / WHEEL_ZOOM_STEP)
        elif key == Qt.Key.Key_0:
            self.fit()
        elif key == Qt.Key.Key_1:
            self.zoom_to(1.0)
        else:
            super().keyPressEvent(event)

    def _split_to(self, x: float) -> None:
        visible = self.image_rect()
        if visible.isValid():
            self.set_split((x - visible.left()) / max(1, visible.width()))


def _clamped(centre: float, picture: float, view: float) -> float:
    """A centre coordinate that keeps a picture of length `picture` covering a view of length `view`."""
    if picture <= view:
        return picture / 2
    return min(picture - view / 2, max(view / 2, centre))
