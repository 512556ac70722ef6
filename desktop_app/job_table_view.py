"""The queue's table view: whole-row selection, columns that fit the view's width and a progress bar painted in the
Progress column. It only shows what `JobQueueModel` answers."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView, QApplication, QHeaderView, QStyle, QStyledItemDelegate, QStyleOptionProgressBar,
    QStyleOptionViewItem, QTableView, QWidget,
)

from desktop_app.job import JobStatus
from desktop_app.job_queue_model import PROGRESS_ROLE, STATUS_ROLE, Column

BAR_COLOURS = {JobStatus.DONE: "#2e7d32", JobStatus.FAILED: "#c62828", JobStatus.CANCELLED: "#8d6e63",
               JobStatus.PAUSED: "#ef8f00"}
# The short columns are as wide as their longest usual text. Error, Input and Output share what they leave: Error
# up to the width of a short reason (the tooltip has all of it), Input a share of the rest, and Output stretches to
# fill the rest, so that the table needs no horizontal scroll bar (the long paths are elided in the middle).
SHORT_COLUMN_SAMPLES = {Column.KIND: ("Photos", "Frames", "Video"), Column.ITEMS: ("88888",),
                        Column.STATUS: ("Running 888/888", "Done (888 skipped)"),
                        Column.PROGRESS: ("88% · 88 min 88 s left",)}
ERROR_SAMPLE = "no such file or folder"   # one of the engine's reasons
CELL_PADDING_PX = 16
ERROR_SHARE = 0.3   # of the width the short columns leave, at most the sample's width
INPUT_SHARE = 0.4   # of what Error leaves; Output takes the rest


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
        self._sized_by_user: set[Column] = set()   # flexible columns the user dragged: they keep that width
        self._fitting = False

    def setModel(self, model) -> None:  # noqa: N802 - Qt's name
        """Every column but Output can be dragged wider or narrower; Output stretches to fill the rest."""
        super().setModel(model)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setMinimumSectionSize(48)
        header.setStretchLastSection(False)
        for column in Column:
            header.setSectionResizeMode(int(column), QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(int(Column.OUTPUT), QHeaderView.ResizeMode.Stretch)
        for column, samples in SHORT_COLUMN_SAMPLES.items():
            header.resizeSection(int(column), max(self._text_px(*samples), header.sectionSizeHint(int(column))))
        header.sectionResized.connect(self._on_section_resized)
        self._fit_flexible_columns()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name; the viewport's resizes too
        super().resizeEvent(event)
        self._fit_flexible_columns()

    def _text_px(self, *samples: str) -> int:
        return max(self.fontMetrics().horizontalAdvance(sample) for sample in samples) + CELL_PADDING_PX

    def _fit_flexible_columns(self) -> None:
        """Size Error and Input to their shares of the width the short columns leave (Output stretches)."""
        header = self.horizontalHeader()
        if self.model() is None:
            return
        free_px = self.viewport().width() - sum(header.sectionSize(int(column)) for column in SHORT_COLUMN_SAMPLES)
        error_px = min(self._text_px(ERROR_SAMPLE), round(free_px * ERROR_SHARE))
        if Column.ERROR in self._sized_by_user:
            error_px = header.sectionSize(int(Column.ERROR))
        input_px = round((free_px - error_px) * INPUT_SHARE)
        self._fitting = True
        try:
            for column, width_px in ((Column.ERROR, error_px), (Column.INPUT, input_px)):
                if column not in self._sized_by_user:
                    header.resizeSection(int(column), max(header.minimumSectionSize(), width_px))
        finally:
            self._fitting = False

    def _on_section_resized(self, column: int, _old_px: int, _new_px: int) -> None:
        if column in (Column.ERROR, Column.INPUT) and not self._fitting:
            self._sized_by_user.add(Column(column))

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
