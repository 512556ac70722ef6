"""A live loss plot: one polyline per loss against the step, painted with QPainter (QtCharts is not part of
PySide6-Essentials). Linear or log scale; the legend above the plot toggles a loss on and off with a click.

The trainer logs raw terms (content, texture …) next to the weighted totals, spanning several decades, so the log
scale is the default; points ≤ 0 cannot be drawn on it and are left out there.
"""
from __future__ import annotations

import math
from typing import Mapping

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

# Tableau 10: distinct on light and dark backgrounds, and for the common colour-vision deficiencies
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
LABELS = {
    "reconstruction": "reconstruction", "g_total": "generator total", "d_total": "discriminator total",
    "g_surface": "surface (G)", "g_texture": "texture (G)", "g_content": "content", "g_structure": "structure",
    "g_total_variation": "smoothness (TV)", "g_semantic": "regions kept", "d_surface": "surface (D)",
    "d_texture": "texture (D)",
}
SHOWN_AT_FIRST = {"reconstruction", "g_total", "d_total", "g_content", "g_surface", "g_texture"}
MARGIN_PX = 8


def nice_ticks(low: float, high: float, count: int = 5, min_step: float = 0.0) -> list[float]:
    """Round numbers (1, 2 or 5 × 10^k apart, at least `min_step`) covering [low, high], as close to `count` of
    them as those allow. Steps are whole numbers: `min_step=1` keeps their ticks whole too."""
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        return [low] if math.isfinite(low) else []
    intervals = max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10((high - low) / intervals))
    step = min((m * magnitude for m in (1, 2, 5, 10)), key=lambda s: abs((high - low) / s - intervals))
    step = max(step, min_step)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(i * step, 12) + 0.0 for i in range(first, last + 1)]


class LossPlot(QWidget):
    visibility_changed = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._series: dict[str, list[tuple[int, float]]] = {}
        self._colours: dict[str, QColor] = {}
        self._hidden: set[str] = set()
        self._log_scale = True
        self._legend_hits: list[tuple[QRectF, str]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(260, 160)

    # --- data ----------------------------------------------------------------------------------------------------
    def add_point(self, step: int, values: Mapping[str, float]) -> None:
        """One log event's losses at `step`; unknown names start a new series, non-finite values are skipped."""
        for name, value in values.items():
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            if name not in self._series:
                self._series[name] = []
                self._colours[name] = QColor(PALETTE[(len(self._series) - 1) % len(PALETTE)])
                if name not in SHOWN_AT_FIRST:
                    self._hidden.add(name)
            self._series[name].append((int(step), float(value)))
        self.update()

    def clear(self) -> None:
        self._series.clear()
        self._colours.clear()
        self._hidden.clear()
        self.update()

    def series_names(self) -> list[str]:
        return list(self._series)

    def points(self, name: str) -> list[tuple[int, float]]:
        return list(self._series.get(name, []))

    def is_series_visible(self, name: str) -> bool:
        return name in self._series and name not in self._hidden

    def set_series_visible(self, name: str, visible: bool) -> None:
        if name not in self._series or visible == self.is_series_visible(name):
            return
        (self._hidden.discard if visible else self._hidden.add)(name)
        self.visibility_changed.emit(name, visible)
        self.update()

    @property
    def log_scale(self) -> bool:
        return self._log_scale

    def set_log_scale(self, enabled: bool) -> None:
        self._log_scale = bool(enabled)
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(480, 260)

    # --- painting ------------------------------------------------------------------------------------------------
    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.base())
        metrics = QFontMetrics(self.font())
        legend_bottom = self._paint_legend(painter, metrics)
        visible = {name: self._drawable(points) for name, points in self._series.items()
                   if name not in self._hidden}
        visible = {name: points for name, points in visible.items() if points}
        text_colour = palette.placeholderText().color()
        if not visible:
            painter.setPen(text_colour)
            message = "The losses appear here after the first steps." if not self._series else "Every loss is hidden."
            painter.drawText(self.rect().adjusted(0, legend_bottom, 0, 0), Qt.AlignmentFlag.AlignCenter, message)
            return
        steps = [step for points in visible.values() for step, _ in points]
        values = [value for points in visible.values() for _, value in points]
        x_low, x_high = min(steps), max(steps)
        if x_high == x_low:
            x_low, x_high = x_low - 1, x_high + 1
        y_low, y_high = self._y_range(min(values), max(values))
        y_ticks = self._y_ticks(y_low, y_high)
        y_labels = [self._format_value(tick) for tick in y_ticks]
        left = MARGIN_PX + max((metrics.horizontalAdvance(label) for label in y_labels), default=0) + 6
        plot = QRectF(left, legend_bottom + metrics.height() / 2, self.width() - left - MARGIN_PX - 4,
                      self.height() - legend_bottom - metrics.height() * 2.5 - MARGIN_PX)
        if plot.width() < 20 or plot.height() < 20:
            return

        def x_of(step: float) -> float:
            return plot.left() + (step - x_low) / (x_high - x_low) * plot.width()

        def y_of(value: float) -> float:
            position = self._scaled(value)
            low, high = self._scaled(y_low), self._scaled(y_high)
            return plot.bottom() - (position - low) / (high - low) * plot.height()

        grid_pen = QPen(palette.mid().color(), 1, Qt.PenStyle.DotLine)
        for tick, label in zip(y_ticks, y_labels):
            y = y_of(tick)
            painter.setPen(grid_pen)
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(text_colour)
            painter.drawText(QRectF(MARGIN_PX, y - metrics.height() / 2, left - MARGIN_PX - 6, metrics.height()),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
        for tick in nice_ticks(x_low, x_high, max(2, int(plot.width() // 90)), min_step=1):
            x = x_of(tick)
            painter.setPen(grid_pen)
            painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            painter.setPen(text_colour)
            text = f"{tick:,.0f}"
            width = metrics.horizontalAdvance(text)
            painter.drawText(QPointF(min(max(x - width / 2, plot.left() - 4), self.width() - width - 2),
                                     plot.bottom() + metrics.ascent() + 4), text)
        painter.setPen(QPen(palette.text().color(), 1))
        painter.drawRect(plot)
        painter.setPen(text_colour)  # the axis title: its own line under the tick labels, at the right
        title = "training step"
        painter.drawText(QPointF(plot.right() - metrics.horizontalAdvance(title),
                                 plot.bottom() + metrics.height() + metrics.ascent() + 4), title)

        painter.setClipRect(plot.adjusted(-1, -1, 1, 1))
        for name, points in visible.items():
            stride = max(1, len(points) // max(1, int(plot.width())))  # no more points than pixels across
            path = QPainterPath()
            for i, (step, value) in enumerate(points[::stride] + ([points[-1]] if stride > 1 else [])):
                point = QPointF(x_of(step), y_of(value))
                if i == 0:
                    path.moveTo(point)
                else:
                    path.lineTo(point)
            painter.setPen(QPen(self._colours[name], 1.8))
            painter.drawPath(path)
            if len(points) == 1:
                painter.setBrush(self._colours[name])
                painter.drawEllipse(QPointF(x_of(points[0][0]), y_of(points[0][1])), 2.5, 2.5)
                painter.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_legend(self, painter: QPainter, metrics: QFontMetrics) -> int:
        """Swatch + label per series, wrapping into rows; returns the legend's bottom edge."""
        self._legend_hits = []
        x, y = MARGIN_PX, MARGIN_PX
        row_height = metrics.height() + 4
        for name in self._series:
            label = LABELS.get(name, name)
            width = 14 + metrics.horizontalAdvance(label) + 14
            if x + width > self.width() - MARGIN_PX and x > MARGIN_PX:
                x, y = MARGIN_PX, y + row_height
            shown = name not in self._hidden
            colour = QColor(self._colours[name])
            if not shown:
                colour.setAlpha(70)
            painter.fillRect(QRectF(x, y + row_height / 2 - 2, 10, 4), colour)
            painter.setPen(self.palette().text().color() if shown else self.palette().placeholderText().color())
            painter.drawText(QPointF(x + 14, y + metrics.ascent() + 2), label)
            self._legend_hits.append((QRectF(x, y, width - 6, row_height), name))
            x += width
        return int(y + (row_height if self._series else 0) + 2)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        for rect, name in self._legend_hits:
            if rect.contains(event.position()):
                self.set_series_visible(name, not self.is_series_visible(name))
                return
        super().mousePressEvent(event)

    # --- scales --------------------------------------------------------------------------------------------------
    def _drawable(self, points: list[tuple[int, float]]) -> list[tuple[int, float]]:
        return [point for point in points if point[1] > 0] if self._log_scale else points

    def _scaled(self, value: float) -> float:
        return math.log10(value) if self._log_scale else value

    def _y_range(self, low: float, high: float) -> tuple[float, float]:
        if self._log_scale:
            low_exp, high_exp = math.floor(math.log10(low)), math.ceil(math.log10(high))
            return 10.0 ** low_exp, 10.0 ** max(high_exp, low_exp + 1)
        if high == low:
            pad = abs(high) * 0.1 or 1.0
            return low - pad, high + pad
        pad = (high - low) * 0.05
        return (0.0 if low >= 0 and low - pad < 0 else low - pad), high + pad

    def _y_ticks(self, low: float, high: float) -> list[float]:
        if self._log_scale:
            exponents = range(round(math.log10(low)), round(math.log10(high)) + 1)
            every = max(1, math.ceil(len(exponents) / 6))
            return [10.0 ** e for e in exponents if (e - exponents[0]) % every == 0]
        return [tick for tick in nice_ticks(low, high, 5) if low <= tick <= high]

    @staticmethod
    def _format_value(value: float) -> str:
        return f"{value:.3g}" if value != 0 else "0"
