"""A queued job as plain data, and how the engine's progress events move it along. Qt-free, so the queue model,
the worker controller and the settings file share one record and tests can drive it without a window."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from core.batch import BatchEvent, BatchFinished, BatchStarted, FrameProgress, ItemFinished, ItemKind, ItemStarted
from core.failures import FailureKind

from desktop_app.job_options import JobOptions

_job_ids = itertools.count(1)
MAX_FAILURES_KEPT = 200  # enough to read; a folder of 100k broken files must not grow the queue without bound


class JobKind(str, Enum):
    """What a queue row was made from; saved queues hold the value. Its relation to the engine's `ItemKind`: a
    photos job is a folder (or loose pictures) whose items may be of every kind (photos, animations, videos, and
    frame folders when they become videos); a video job is one VIDEO item; a frames job is one numbered-frame
    folder, one FRAMES item when frame folders become videos (else its frames are IMAGE items)."""

    PHOTOS = "photos"
    VIDEO = ItemKind.VIDEO.value
    FRAMES = ItemKind.FRAMES.value

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def has_timeline(self) -> bool:
        """Whether it is previewed along a timeline (a video's or a frame folder's) rather than picture by picture."""
        return self is not JobKind.PHOTOS


class JobStatus(str, Enum):
    PENDING = "pending"        # added; waits for Start
    QUEUED = "queued"          # will run when the jobs before it are done
    RUNNING = "running"
    PAUSED = "paused"          # a running job that waits, or a queued job held back
    DONE = "done"
    FAILED = "failed"          # could not start, or some items failed
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.capitalize()


ACTIVE_STATUSES = frozenset({JobStatus.RUNNING, JobStatus.PAUSED})
FINISHED_STATUSES = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED})
START_ALL_STATUSES = frozenset({JobStatus.PENDING, JobStatus.PAUSED, JobStatus.CANCELLED})  # failed: Re-run


@dataclass
class ItemCounts:
    """`total` is None until the inputs have been counted."""

    total: int | None = None
    done: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def finished(self) -> int:
        return self.done + self.skipped + self.failed


@dataclass
class Job:
    """One row of the queue: what goes in (`inputs` and their `kind`), where it goes and how.

    `progress` is in [0, 1]; `error` is a job-level reason (could not start) or a summary of failed items, whose
    details are in `failures` as (relative path, reason)."""

    inputs: list[Path]
    kind: JobKind
    output_dir: Path
    options: JobOptions = field(default_factory=JobOptions)
    status: JobStatus = JobStatus.PENDING
    progress: float = 0.0
    eta_s: float | None = None
    error: str = ""
    counts: ItemCounts = field(default_factory=ItemCounts)
    failures: list[tuple[str, str]] = field(default_factory=list)
    current_item: str = ""
    detail: str = ""                 # e.g. "frame 120 of 300 at 24.0 fps" while a video runs; not saved
    device_failure: str = ""         # the first failure of kind "device" (a CPU retry may fix it); not saved
    output_dir_chosen: bool = False  # set per job by the user: option changes no longer move it
    id: int = field(default_factory=lambda: next(_job_ids))

    @property
    def title(self) -> str:
        """What the Input column shows: the folder or file, or how many files of which folder."""
        if len(self.inputs) == 1:
            return self.inputs[0].name or str(self.inputs[0])
        return f"{len(self.inputs)} files in {self.inputs[0].parent.name or self.inputs[0].parent}"

    def reset_for_run(self) -> None:
        """Forget the last run's outcome; with skip-existing the engine resumes where it stopped."""
        self.progress, self.eta_s, self.error, self.current_item, self.detail = 0.0, None, "", "", ""
        self.counts = ItemCounts(total=self.counts.total)
        self.failures, self.device_failure = [], ""

    # --- persistence --------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [str(p) for p in self.inputs], "kind": self.kind.value, "output_dir": str(self.output_dir),
            "options": self.options.to_dict(), "status": self.status.value, "error": self.error,
            "progress": self.progress,
            "counts": {"total": self.counts.total, "done": self.counts.done, "skipped": self.counts.skipped,
                       "failed": self.counts.failed},
            "failures": [list(f) for f in self.failures[:MAX_FAILURES_KEPT]],
            "output_dir_chosen": self.output_dir_chosen,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Job":
        """A saved job comes back waiting for Start: whatever was running when the app stopped is pending again.
        Its progress stays as it was (a cancelled job at 40 % shows 40 %)."""
        status = JobStatus(data.get("status", "pending"))
        if status not in FINISHED_STATUSES:
            status = JobStatus.PENDING
        counts = data.get("counts") or {}
        progress = data.get("progress", 0.0)
        return cls(
            inputs=[Path(p) for p in data["inputs"]], kind=JobKind(data["kind"]), output_dir=Path(data["output_dir"]),
            options=JobOptions.from_dict(data.get("options") or {}), status=status, error=str(data.get("error", "")),
            progress=min(1.0, max(0.0, float(progress))) if isinstance(progress, (int, float)) else 0.0,
            counts=ItemCounts(counts.get("total"), int(counts.get("done", 0)), int(counts.get("skipped", 0)),
                              int(counts.get("failed", 0))),
            failures=[(str(a), str(b)) for a, b in data.get("failures", [])],
            output_dir_chosen=bool(data.get("output_dir_chosen", False)),
        )


def apply_event(job: Job, event: BatchEvent) -> None:
    """Update `job` from one engine event (`core.batch`); each carries the batch's progress."""
    job.progress = float(event.progress.fraction)
    job.eta_s = event.progress.eta_s
    if isinstance(event, BatchStarted):
        job.counts = ItemCounts(total=event.total)
        job.failures = []
    elif isinstance(event, ItemStarted):
        job.current_item, job.detail = str(event.item.relative), ""
    elif isinstance(event, FrameProgress):  # within a video or frame folder
        total = f" of {event.frames_total}" if event.frames_total else ""
        job.detail = f"frame {event.frames_done}{total} at {event.fps:.1f} fps"
    elif isinstance(event, ItemFinished):
        result = event.result
        if not result.item.only_named and result.status in ("done", "skipped", "failed"):
            setattr(job.counts, result.status, getattr(job.counts, result.status) + 1)
        if result.status == "failed":
            if result.error_kind is FailureKind.DEVICE and not job.device_failure:
                job.device_failure = result.error or "device failure"
            if len(job.failures) < MAX_FAILURES_KEPT:
                job.failures.append((str(result.item.relative), result.error or "unknown error"))
            job.error = failure_summary(job)
    elif isinstance(event, BatchFinished):
        summary = event.summary
        job.current_item, job.detail, job.eta_s = "", "", None
        if summary.cancelled:
            job.status = JobStatus.CANCELLED
        elif summary.failed:
            job.status = JobStatus.FAILED
            job.error = failure_summary(job)
        else:
            job.status, job.progress = JobStatus.DONE, 1.0


def failure_summary(job: Job) -> str:
    """One line for the Error column: the first failure and how many more there are."""
    if not job.failures:
        return job.error
    name, reason = job.failures[0]
    more = job.counts.failed - 1
    return f"{name}: {reason}" + (f" (and {more} more)" if more > 0 else "")
