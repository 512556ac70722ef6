"""The queue's behaviour: turning inputs into jobs, running queued jobs one at a time on a `BatchWorker`, and the
start / pause / cancel / remove / re-order / re-run commands. Widgets call these methods; the model shows the result.

One job runs at a time (the device and its memory are shared); a paused job keeps its place, so the jobs after it
wait. Everything here runs on the GUI thread and never blocks: counting, model loading and inference are on
workers.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

from PySide6.QtCore import QObject, QThreadPool, Signal

from core.batch import BatchFinished, ItemFinished, plan_batch
from core.failures import FailureKind

from desktop_app.batch_worker import BatchRequest, BatchWorker, batch_failure_kind
from desktop_app.function_worker import run_in_background
from desktop_app.job import ACTIVE_STATUSES, FINISHED_STATUSES, START_ALL_STATUSES, Job, JobStatus, apply_event
from desktop_app.job_inputs import group_into_jobs, output_dir_for
from desktop_app.job_options import JobOptions
from desktop_app.job_queue_model import JobQueueModel, display_path
from desktop_app.log_panel import details

log = logging.getLogger("desktop_app.queue")
RETRY_TILE_SIZE_PX = 512
def job_output_dir(inputs: Iterable[Path], options: JobOptions) -> Path:
    return output_dir_for(inputs, options.output_folder, options.beside_inputs)


def _count_planned_items(job_id: int, inputs: list[Path], batch_options) -> tuple[int, int]:
    """The Items column: the files of the engine's own plan (`BatchPlan.counted`, as `BatchStarted.total`)."""
    return job_id, len(plan_batch(inputs, batch_options).counted)


class QueueController(QObject):
    job_added = Signal(int)                  # job id
    job_finished = Signal(int)               # job id; its status says how
    device_problem = Signal(int, str)        # job id, message: offer "retry on CPU" / "retry with tiles"
    job_errored = Signal(int, str)           # job id, message: the job could not run
    queue_changed = Signal()                 # structure or a status changed: time to save the queue
    running_changed = Signal(bool)           # whether a worker is busy
    queue_finished = Signal()                # the last queued job finished and nothing waits to run
    worker_started = Signal(object)          # the BatchWorker, before it runs (for tests and instrumentation)

    def __init__(self, model: JobQueueModel, parent: QObject | None = None):
        super().__init__(parent)
        self.model = model
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._worker: BatchWorker | None = None
        self._retired: BatchWorker | None = None

    # --- adding ------------------------------------------------------------------------------------------
    def add_inputs(self, paths: Iterable[str | Path], options: JobOptions) -> tuple[list[Job], list[Path]]:
        """Group `paths` into new pending jobs with `options`; returns (jobs added, paths ignored)."""
        groups, ignored = group_into_jobs(paths)
        jobs = [Job(inputs=list(g.inputs), kind=g.kind, output_dir=job_output_dir(g.inputs, options),
                    options=options) for g in groups]
        self.add_jobs(jobs)
        for path in ignored:
            log.warning("ignored %s: not a folder, photo or video", path)
        return jobs, ignored

    def add_jobs(self, jobs: list[Job]) -> None:
        self.model.add_jobs(jobs)
        for job in jobs:
            log.info("added %s (%s) → %s", job.title, job.kind, display_path(job.output_dir))
            self._count_items(job)
            self.job_added.emit(job.id)
        if jobs:
            self.queue_changed.emit()

    def _count_items(self, job: Job) -> None:
        """The Items column, from the engine's own plan (walking a big folder takes a while: off the GUI thread).
        The slots are bound methods, so a reply that arrives after this controller is gone goes nowhere."""
        run_in_background(_count_planned_items, job.id, list(job.inputs), job.options.batch_options(job.output_dir),
                          on_returned=self._on_counted, on_errored=self._on_count_failed)

    def _on_counted(self, answer: tuple[int, int]) -> None:
        job_id, total = answer
        job = self.model.job_by_id(job_id)
        if job is not None and job.counts.total is None:
            job.counts.total = total
            self.model.job_changed(job_id)

    def _on_count_failed(self, message: str, _trace: str) -> None:
        log.warning("could not count the items of a job: %s", message)

    # --- commands on jobs ----------------------------------------------------------------------------------
    def start(self, job_ids: Iterable[int]) -> None:
        """Queue pending, held or stopped jobs; resume the running one if it is paused."""
        for job in self._jobs(job_ids):
            if self._is_running(job):
                if job.status != JobStatus.PAUSED:
                    continue
                self._worker.resume()
                job.status = JobStatus.RUNNING
                log.info("resumed %s", job.title)
            elif job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
                job.reset_for_run()
                job.status = JobStatus.QUEUED
            elif job.status in (JobStatus.PENDING, JobStatus.PAUSED):
                job.status = JobStatus.QUEUED
            else:
                continue
            self.model.job_changed(job.id)
        self._after_command()

    def start_all(self) -> None:
        """Every job that waits or was stopped: pending, held, paused and cancelled ones (failed ones have
        Re-run failed)."""
        self.start(j.id for j in self.model.jobs() if j.status in START_ALL_STATUSES)

    def pause(self, job_ids: Iterable[int]) -> None:
        """Pause the running job between tiles/frames; hold back queued ones."""
        for job in self._jobs(job_ids):
            if self._is_running(job) and job.status == JobStatus.RUNNING and not self._worker.cancelled:
                self._worker.pause()
                log.info("paused %s", job.title)
            elif job.status != JobStatus.QUEUED:
                continue
            job.status = JobStatus.PAUSED
            self.model.job_changed(job.id)
        self._after_command()

    def pause_all(self) -> None:
        self.pause(j.id for j in self.model.jobs() if j.status in (JobStatus.RUNNING, JobStatus.QUEUED))

    def cancel(self, job_ids: Iterable[int]) -> None:
        """Stop the running job between tiles/frames (no partial file is left); unqueue the others."""
        for job in self._jobs(job_ids):
            if self._is_running(job):
                self._worker.cancel()
                job.current_item = "cancelling…"
                log.info("cancelling %s", job.title)
            elif job.status in (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.PAUSED):
                job.status = JobStatus.CANCELLED
            else:
                continue
            self.model.job_changed(job.id)
        self._after_command()

    def cancel_all(self) -> None:
        self.cancel(j.id for j in self.model.jobs() if j.status not in FINISHED_STATUSES)

    def rerun(self, job_ids: Iterable[int]) -> None:
        """Run failed or cancelled jobs again; with skip-existing only what is missing is redone."""
        self.start(j.id for j in self._jobs(job_ids) if j.status in (JobStatus.FAILED, JobStatus.CANCELLED))

    def rerun_all_failed(self) -> None:
        self.rerun(j.id for j in self.model.jobs())

    def retry_with(self, job_id: int, **option_changes: object) -> None:
        """Re-queue a finished job with changed options, e.g. device="cpu" or tile_size_px=512."""
        job = self.model.job_by_id(job_id)
        if job is None or self._is_running(job):
            return
        job.options = job.options.replaced(**option_changes)
        job.reset_for_run()
        job.status = JobStatus.QUEUED
        self.model.job_changed(job_id)
        log.info("retrying %s with %s", job.title, option_changes)
        self._after_command()

    def remove(self, job_ids: Iterable[int]) -> None:
        """Remove jobs that are not running (their outputs stay on disk)."""
        for job in self._jobs(job_ids):
            if self.is_editable(job):
                self.model.remove_job(job.id)
        self.queue_changed.emit()

    def remove_finished(self) -> None:
        self.remove(j.id for j in self.model.jobs() if j.status == JobStatus.DONE)

    def move(self, job_id: int, offset: int) -> bool:
        """Re-order a job that has not started; the running job keeps its place."""
        job = self.model.job_by_id(job_id)
        if job is None or not self.is_editable(job):
            return False
        moved = self.model.move_job(job_id, offset)
        if moved:
            self.queue_changed.emit()
        return moved

    def set_output_dir(self, job_ids: Iterable[int], folder: Path) -> None:
        """Send the outputs of jobs that have not started into `folder` (one subfolder per input folder)."""
        for job in self._jobs(job_ids):
            if job.status in (JobStatus.PENDING, JobStatus.PAUSED, JobStatus.QUEUED) and not self._is_running(job):
                job.output_dir = output_dir_for(job.inputs, folder)
                job.options = job.options.replaced(output_folder=str(folder), beside_inputs=False)
                job.output_dir_chosen = True
                self.model.job_changed(job.id)
        self.queue_changed.emit()

    def set_job_options(self, job_ids: Iterable[int], options: JobOptions) -> None:
        """The options panel's edits for the selected jobs: each job that is not running and not done takes them
        (and its output folder follows), so that what runs is what the panel showed."""
        changed = False
        for job in self._jobs(job_ids):
            if not self.options_editable(job) or job.options == options:
                continue
            moved = (options.output_folder, options.beside_inputs) != (job.options.output_folder,
                                                                       job.options.beside_inputs)
            if not job.output_dir_chosen or moved:
                job.output_dir = job_output_dir(job.inputs, options)
                job.output_dir_chosen = False
            job.options = options
            self.model.job_changed(job.id)
            changed = True
        if changed:
            self.queue_changed.emit()

    def options_editable(self, job: Job) -> bool:
        """A job's options can change until it runs; a done job keeps those it ran with."""
        return not self._is_running(job) and job.status != JobStatus.DONE

    # --- state ---------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._worker is not None

    def is_editable(self, job: Job) -> bool:
        """Removing, re-ordering and re-targeting are for every job but the one a worker is running."""
        return not self._is_running(job)

    def running_job(self) -> Job | None:
        job = self.model.job_by_id(self._worker.request.job_id) if self._worker else None
        return job if job is not None and self._is_running(job) else None

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel the running job and wait for its worker (the engine stops at its next tile); True if it did."""
        if self._worker is not None:
            self._worker.cancel()
        return self._pool.waitForDone(timeout_ms)

    # --- running -------------------------------------------------------------------------------------------
    def _jobs(self, job_ids: Iterable[int]) -> list[Job]:
        return [job for job in (self.model.job_by_id(i) for i in list(job_ids)) if job is not None]

    def _is_running(self, job: Job) -> bool:
        """Its worker runs and the engine has not finished it yet (after BatchFinished the worker only winds
        down: the job may already be re-queued, edited or removed)."""
        return (self._worker is not None and self._worker.request.job_id == job.id
                and job.status in ACTIVE_STATUSES)

    def _after_command(self) -> None:
        self.queue_changed.emit()
        self._start_next()

    def _start_next(self) -> None:
        if self._worker is not None:
            return
        job = next((j for j in self.model.jobs() if j.status == JobStatus.QUEUED), None)
        if job is None:
            return
        job.reset_for_run()
        job.status = JobStatus.RUNNING
        self.model.job_changed(job.id)
        worker = BatchWorker(BatchRequest(job.id, tuple(job.inputs), job.output_dir, job.options))
        worker.signals.yielded.connect(self._on_event)
        worker.signals.errored.connect(self._on_errored)
        worker.signals.finished.connect(self._on_finished)
        self._worker = worker
        self.worker_started.emit(worker)
        log.info("started %s on %s with model %s", job.title, job.options.device, job.options.model or "(default)")
        worker.start(self._pool)
        self.running_changed.emit(True)

    def _running_job_id(self) -> int | None:
        """The job of the worker whose signals arrive: one worker runs at a time and its `finished` comes last."""
        return self._worker.request.job_id if self._worker is not None else None

    def _on_event(self, event: object) -> None:
        job_id = self._running_job_id()
        job = self.model.job_by_id(job_id)
        if job is None:
            return
        apply_event(job, event)
        if isinstance(event, ItemFinished) and event.result.status == "failed":
            log.warning("%s: %s failed: %s", job.title, event.result.item.relative, event.result.error)
        elif isinstance(event, ItemFinished) and event.result.note:
            log.info("%s: %s: %s", job.title, event.result.item.relative, event.result.note)
        if isinstance(event, BatchFinished):
            summary = event.summary
            log.info("%s: %d done, %d skipped, %d failed%s in %.1f s", job.title, summary.done, summary.skipped,
                     summary.failed, " (cancelled)" if summary.cancelled else "", summary.seconds)
        self.model.job_changed(job_id)

    def _on_errored(self, message: str, trace: str, exc: Exception) -> None:
        job_id, kind = self._running_job_id(), batch_failure_kind(exc)
        job = self.model.job_by_id(job_id)
        log.error("%s could not run: %s", job.title if job else job_id, message, extra=details(trace))
        if job is not None:
            job.status, job.error, job.eta_s, job.current_item = JobStatus.FAILED, message, None, ""
            if kind is FailureKind.DEVICE:
                job.device_failure = message
            self.model.job_changed(job_id)
        self.job_errored.emit(job_id, message)

    def _on_finished(self) -> None:
        job_id = self._running_job_id()
        worker, self._worker = self._worker, None
        self._retired = worker  # freed at the next finish, not inside its own signal's delivery
        job = self.model.job_by_id(job_id)
        if job is not None:
            if job.status in ACTIVE_STATUSES:  # the worker stopped without the engine's final event
                job.status = JobStatus.CANCELLED if worker and worker.cancelled else JobStatus.FAILED
            self.model.job_changed(job_id)
            if job.status == JobStatus.FAILED and job.options.device != "cpu" and job.device_failure:
                self.device_problem.emit(job_id, job.device_failure)   # the engine said it was the device
            self.job_finished.emit(job_id)
        self.running_changed.emit(False)
        self.queue_changed.emit()
        self._start_next()
        if self._worker is None:
            self.queue_finished.emit()
