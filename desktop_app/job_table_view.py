"""The queue's table view: whole-row selection, sensible column widths and a progress bar painted in the Progress
column. It only shows what `JobQueueModel` answers."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView, QApplication, QHeaderView, QStyle, QStyledItemDelegate, QStyleOptionProgressBar,
    QStyleOptionViewItem, QTableView, QWidget,
)

from desktop_app.job import JobStatus
from desktop_app.job_queue_model import PROGRESS_ROLE, STATUS_ROLE, Column

BAR_COLOURS = {JobStatus.DONE: "#2e7d32", JobStatus.FAILED: "#c62828", JobStatus.CANCELLED: "#8d6e63",
               JobStatus.PAUSED: "#ef8f00"}


class ProgressBarDelegate(QStyledItemDelegate):
    """Paints the cell as the style's progress bar, with the model's display text (percent and time left), in a
    colour that says how the job stands (done, failed, paused), readable on a selected row too."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        fraction = index.data(PROGRESS_ROLE) or 0.0
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(4, 4, -4, -4)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(round(float(fraction) * 1000))
        bar.text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        bar.palette = QPalette(option.palette)
        colour = BAR_COLOURS.get(index.data(STATUS_ROLE))
        if colour is not None:
            bar.palette.setColor(QPalette.ColorRole.Highlight, QColor(colour))
        bar.palette.setColor(QPalette.ColorRole.HighlightedText, QColor("white"))
        bar.palette.setColor(QPalette.ColorRole.Text, QColor("#202020"))
        bar.palette.setColor(QPalette.ColorRole.Base, QColor("white"))
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)


class JobTableView(QTableView):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.verticalHeader().setDefaultSectionSize(28)
        self.setItemDelegateForColumn(int(Column.PROGRESS), ProgressBarDelegate(self))

    def setModel(self, model) -> None:  # noqa: N802 - Qt's name
        super().setModel(model)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setMinimumSectionSize(48)
        header.setDefaultSectionSize(80)
        widths = {Column.INPUT: 160, Column.KIND: 60, Column.ITEMS: 52, Column.STATUS: 150, Column.PROGRESS: 150,
                  Column.OUTPUT: 240}
        for column, width in widths.items():
            header.setSectionResizeMode(int(column), QHeaderView.ResizeMode.Interactive)
            header.resizeSection(int(column), width)
        header.setStretchLastSection(True)  # the error column takes the rest

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """Esc deselects: the options panel then shows (and edits) the options for new jobs."""
        if event.key() == Qt.Key.Key_Escape and self.selectionModel() and self.selectionModel().hasSelection():
            self.clearSelection()
            event.accept()
            return
        super().keyPressEvent(event)

    def selected_rows(self) -> list[int]:
        selection = self.selectionModel()
        return sorted({index.row() for index in selection.selectedRows()}) if selection else []
