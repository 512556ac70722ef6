"""The queue's table model, checked by Qt's own QAbstractItemModelTester while rows are added, moved, changed and
removed."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester

from desktop_app.job import Job, JobKind, JobStatus
from desktop_app.job_queue_model import JOB_ROLE, PROGRESS_ROLE, Column, JobQueueModel, format_duration


def _job(name: str, **fields) -> Job:
    return Job([Path("/in") / name], JobKind.PHOTOS, Path("/out") / name, **fields)


@pytest.fixture
def model(qapp):
    model = JobQueueModel()
    tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    yield model
    del tester


def _titles(model: JobQueueModel) -> list[str]:
    return [model.index(row, Column.INPUT).data() for row in range(model.rowCount())]


def test_rows_are_added_moved_and_removed_consistently(model, qtbot):
    jobs = [_job(name) for name in "abcd"]
    model.add_jobs(jobs[:2])
    model.add_jobs(jobs[2:])
    assert _titles(model) == ["a", "b", "c", "d"]
    assert model.move_job(jobs[0].id, 1) and _titles(model) == ["b", "a", "c", "d"]
    assert model.move_job(jobs[3].id, -2) and _titles(model) == ["b", "d", "a", "c"]
    assert not model.move_job(jobs[1].id, -1)  # already first
    assert not model.move_job(jobs[2].id, 1)   # already last
    assert model.remove_job(jobs[3].id) is jobs[3]
    assert _titles(model) == ["b", "a", "c"]
    assert model.index(0, Column.INPUT).data(JOB_ROLE) is jobs[1]
    assert model.columnCount(model.index(0, 0)) == 0 and model.rowCount(model.index(0, 0)) == 0


def test_a_change_is_announced_for_its_row_only(model, qtbot):
    jobs = [_job(name) for name in "abc"]
    model.add_jobs(jobs)
    jobs[1].progress, jobs[1].status = 0.5, JobStatus.RUNNING
    with qtbot.waitSignal(model.dataChanged) as blocker:
        model.job_changed(jobs[1].id)
    top_left, bottom_right = blocker.args[:2]
    assert (top_left.row(), bottom_right.row()) == (1, 1)
    assert (top_left.column(), bottom_right.column()) == (0, len(Column) - 1)
    assert model.index(1, Column.PROGRESS).data(PROGRESS_ROLE) == 0.5


def test_cells_show_what_people_read(model):
    job = _job("holiday", status=JobStatus.FAILED, error="x.jpg: not an image")
    job.counts.total, job.counts.done, job.counts.failed = 3, 2, 1
    job.failures.append(("x.jpg", "not an image"))
    model.add_jobs([job, _job("new")])
    row = {column: model.index(0, column).data() for column in Column}
    assert row[Column.KIND] == "Photos" and row[Column.ITEMS] == "3" and row[Column.STATUS] == "2 done, 1 failed"
    assert row[Column.ERROR] == "x.jpg: not an image" and row[Column.OUTPUT] == "/out/holiday"
    assert "not an image" in model.index(0, Column.ERROR).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(1, Column.ITEMS).data() == "…"  # not counted yet
    assert model.headerData(Column.PROGRESS, Qt.Orientation.Horizontal) == "Progress"
    assert model.data(QModelIndex()) is None
    assert format_duration(75) == "1 min 15 s" and format_duration(7300) == "2 h 01 min"
