"""The queue as a Qt table model over plain `Job` records: views hold no data, they ask per cell and role, and
each change is announced for its row only."""
from __future__ import annotations

from enum import IntEnum
from pathlib import Path
from typing import Any, Iterable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from desktop_app.job import Job, JobStatus

AnyIndex = QModelIndex | QPersistentModelIndex
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 1    # float in [0, 1]
JOB_ROLE = Qt.ItemDataRole.UserRole + 2         # the Job itself
STATUS_ROLE = Qt.ItemDataRole.UserRole + 3      # its JobStatus
_STATUS_COLOURS = {JobStatus.FAILED: QColor("#b3261e"), JobStatus.DONE: QColor("#1b6e2d"),
                   JobStatus.CANCELLED: QColor("#7a5b00")}


class Column(IntEnum):
    INPUT = 0
    KIND = 1
    ITEMS = 2
    STATUS = 3
    PROGRESS = 4
    OUTPUT = 5
    ERROR = 6


HEADERS = {Column.INPUT: "Input", Column.KIND: "Kind", Column.ITEMS: "Items", Column.STATUS: "Status",
           Column.PROGRESS: "Progress", Column.OUTPUT: "Output", Column.ERROR: "Error"}


class JobQueueModel(QAbstractTableModel):
    """Rows are jobs in queue order; the controller mutates jobs and then calls `job_changed`."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self._jobs: list[Job] = []

    # --- Qt model interface --------------------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(Column):
            return HEADERS[Column(section)]
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self._jobs):
            return str(section + 1)
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._jobs) or not 0 <= index.column() < len(Column):
            return None
        job, column = self._jobs[index.row()], Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(job, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(job, column)
        if role == PROGRESS_ROLE:
            return job.progress
        if role == JOB_ROLE:
            return job
        if role == STATUS_ROLE:
            return job.status
        if role == Qt.ItemDataRole.ForegroundRole and column in (Column.STATUS, Column.ERROR):
            colour = _STATUS_COLOURS.get(job.status)
            return QBrush(colour) if colour is not None and (column == Column.STATUS or job.error) else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column == Column.ITEMS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    # --- queue operations ----------------------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        return list(self._jobs)

    def job_at(self, row: int) -> Job:
        return self._jobs[row]

    def row_of(self, job_id: int) -> int | None:
        for row, job in enumerate(self._jobs):
            if job.id == job_id:
                return row
        return None

    def job_by_id(self, job_id: int) -> Job | None:
        row = self.row_of(job_id)
        return None if row is None else self._jobs[row]

    def add_jobs(self, jobs: Iterable[Job]) -> None:
        jobs = list(jobs)
        if not jobs:
            return
        first = len(self._jobs)
        self.beginInsertRows(QModelIndex(), first, first + len(jobs) - 1)
        self._jobs.extend(jobs)
        self.endInsertRows()

    def remove_job(self, job_id: int) -> Job | None:
        row = self.row_of(job_id)
        if row is None:
            return None
        self.beginRemoveRows(QModelIndex(), row, row)
        job = self._jobs.pop(row)
        self.endRemoveRows()
        return job

    def move_job(self, job_id: int, offset: int) -> bool:
        """Move a job `offset` rows up (negative) or down; False when it would leave the table."""
        row = self.row_of(job_id)
        if row is None or offset == 0:
            return False
        target = row + offset
        if not 0 <= target < len(self._jobs):
            return False
        # Qt's destination is the row *before which* the moved row lands, counted before the move
        destination = target + 1 if offset > 0 else target
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), destination)
        self._jobs.insert(target, self._jobs.pop(row))
        self.endMoveRows()
        return True

    def job_changed(self, job_id: int) -> None:
        """Announce that one job's record changed: dataChanged for its row only."""
        row = self.row_of(job_id)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))


def _display(job: Job, column: Column) -> str:
    if column == Column.INPUT:
        return job.title
    if column == Column.KIND:
        return job.kind.label
    if column == Column.ITEMS:
        return "…" if job.counts.total is None else str(job.counts.total)
    if column == Column.STATUS:
        return status_text(job)
    if column == Column.PROGRESS:
        return progress_text(job)
    if column == Column.OUTPUT:
        return display_path(job.output_dir)
    return job.error


def display_path(path: Path) -> str:
    """A path as people read it: the home folder shortened to ~ (the tooltip has the full path)."""
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def status_text(job: Job) -> str:
    counts = job.counts
    if job.status in (JobStatus.RUNNING, JobStatus.PAUSED) and counts.total:
        return f"{job.status.label} {counts.finished}/{counts.total}"
    if job.status == JobStatus.FAILED and counts.failed:
        return f"{counts.done} done, {counts.failed} failed" if counts.done else f"{counts.failed} failed"
    if job.status == JobStatus.DONE and counts.skipped:
        return f"Done ({counts.skipped} skipped)"
    return job.status.label


def progress_text(job: Job) -> str:
    text = f"{job.progress * 100:.0f}%"
    if job.status == JobStatus.RUNNING and job.eta_s is not None:
        text += f" · {format_duration(job.eta_s)} left"
    return text


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _tooltip(job: Job, column: Column) -> str | None:
    """The full text of a cell (the view elides long text in the middle), with more where there is more."""
    if column == Column.INPUT:
        return "\n".join(str(p) for p in job.inputs[:30]) + ("\n…" if len(job.inputs) > 30 else "")
    if column == Column.OUTPUT:
        return str(job.output_dir)
    if column == Column.STATUS and job.current_item:
        return f"{status_text(job)}: working on {job.current_item}" + (f", {job.detail}" if job.detail else "")
    if column == Column.ERROR and (job.failures or job.error):
        lines = [f"{name}: {reason}" for name, reason in job.failures[:20]] or [job.error]
        if len(job.failures) > 20:
            lines.append(f"… {len(job.failures) - 20} more (see the log)")
        return "\n".join(lines)
    return _display(job, column) or None
