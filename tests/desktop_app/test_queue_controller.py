"""Jobs through the real engine on a worker: completion with progress signals, cancel, bad files, pause, order,
GPU-failure retry, and a GUI event loop that stays responsive while a job runs."""
from __future__ import annotations

import time

import pytest
import torch
from PySide6.QtCore import QElapsedTimer, Qt, QThreadPool, QTimer
from PySide6.QtTest import QAbstractItemModelTester

from core import batch_setup
from core.atomic_files import PARTIAL_PREFIX
from core.batch import BatchFinished, BatchStarted, ItemFinished, TileProgress
from core.cartoonizer import Cartoonizer, DeviceOutOfMemory
from core.failures import FailureKind, failure_kind
from core.image_io import ImageReadError
from desktop_app.job import JobStatus
from desktop_app.job_options import JobOptions
from desktop_app.job_queue_model import Column, JobQueueModel
from desktop_app.queue_controller import QueueController
from tests.desktop_app.conftest import TINY_MODEL_NAME, outputs_under, wait_for_status, write_photo

CPU = JobOptions(model=TINY_MODEL_NAME, device="cpu")


@pytest.fixture
def queue(qtbot, bundled_tiny_model):
    model = JobQueueModel()
    tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    controller = QueueController(model)
    yield controller
    assert controller.shutdown(20_000)
    assert QThreadPool.globalInstance().waitForDone(20_000)  # item counting
    del tester


def _events(controller: QueueController) -> list[object]:
    """Every engine event the worker re-emits, in order, as the GUI receives them."""
    received: list[object] = []
    controller.worker_started.connect(lambda worker: worker.signals.yielded.connect(received.append))
    return received


def test_a_batch_runs_to_completion_with_progress_signals_and_files(queue, make_photo_folder, qtbot):
    folder = make_photo_folder("holiday", count=3)
    events = _events(queue)
    [job], _ = queue.add_inputs([folder], CPU)
    with qtbot.waitSignal(queue.job_finished, timeout=30_000) as finished:
        queue.start_all()
    assert finished.args == [job.id]
    assert job.status == JobStatus.DONE and job.progress == 1.0
    assert (job.counts.total, job.counts.done, job.counts.failed) == (3, 3, 0)
    assert outputs_under(job.output_dir) == ["photo_00.png", "photo_01.png", "photo_02.png"]
    assert isinstance(events[0], BatchStarted) and isinstance(events[-1], BatchFinished)
    assert sum(isinstance(e, ItemFinished) for e in events) == 3 and any(isinstance(e, TileProgress) for e in events)
    fractions = [e.progress.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_the_items_count_is_the_photos_not_a_readme_beside_them(queue, make_photo_folder, qtbot):
    """The Items column says 2 before, throughout and after the run (the engine's total counts the photos only)."""
    folder = make_photo_folder("samples", count=2)
    (folder / "README.md").write_text("Where these photos come from.\n", encoding="utf-8")
    [job], _ = queue.add_inputs([folder], CPU)
    qtbot.waitUntil(lambda: job.counts.total is not None, timeout=10_000)
    assert job.counts.total == 2
    shown: list[str] = []
    queue.model.dataChanged.connect(lambda *_: shown.append(queue.model.data(queue.model.index(0, Column.ITEMS))))
    with qtbot.waitSignal(queue.job_finished, timeout=30_000):
        queue.start_all()
    assert job.status == JobStatus.DONE
    assert len(shown) > 3 and set(shown) == {"2"}
    assert (job.counts.total, job.counts.done, job.counts.skipped, job.counts.failed) == (2, 2, 0, 0)
    assert queue.model.data(queue.model.index(0, Column.ITEMS)) == "2"


def test_cancel_mid_batch_leaves_no_partial_file(queue, make_photo_folder, qtbot):
    folder = make_photo_folder("big", count=4, height=300, width=300)
    options = CPU.replaced(tile_size_px=256)  # 300 px in 256 px tiles: 2×2 tiles per photo

    workers = []

    def pause_on_second_photo(worker):
        workers.append(worker)
        # direct connection: runs on the worker thread, so the pause lands exactly at this event
        def on_event(event):
            if isinstance(event, TileProgress) and event.index == 1 and event.tiles_done == 2:
                worker.pause()
        worker.signals.yielded.connect(on_event, Qt.ConnectionType.DirectConnection)

    queue.worker_started.connect(pause_on_second_photo)
    [job], _ = queue.add_inputs([folder], options)
    queue.start_all()
    qtbot.waitUntil(lambda: bool(workers) and workers[0].paused, timeout=30_000)
    qtbot.waitUntil(lambda: job.counts.done == 1 and job.progress > 0.25, timeout=10_000)
    qtbot.wait(100)  # the worker sits paused in the middle of photo 2
    assert queue.running_job() is job and job.counts.done == 1 and workers[0].paused
    queue.cancel([job.id])
    wait_for_status(qtbot, job, [JobStatus.CANCELLED])
    assert outputs_under(job.output_dir) == ["photo_00.png"]
    assert not [p for p in job.output_dir.rglob("*") if p.name.startswith(PARTIAL_PREFIX)]


def test_a_bad_file_shows_its_error_while_the_rest_completes(queue, make_photo_folder, qtbot):
    folder = make_photo_folder("mixed", count=2)
    (folder / "broken.jpg").write_bytes(b"this is not a jpeg")
    [job], _ = queue.add_inputs([folder], CPU)
    queue.start_all()
    wait_for_status(qtbot, job, [JobStatus.FAILED, JobStatus.DONE])
    assert job.status == JobStatus.FAILED
    assert (job.counts.done, job.counts.failed) == (2, 1)
    assert "broken.jpg" in job.error and "not an image" in job.error
    row = queue.model.row_of(job.id)
    assert "broken.jpg" in queue.model.index(row, 6).data()
    assert outputs_under(job.output_dir) == ["photo_00.png", "photo_01.png"]


def test_a_job_that_cannot_start_fails_with_a_reason_and_the_queue_goes_on(queue, make_photo_folder, qtbot):
    first, second = make_photo_folder("one", count=1), make_photo_folder("two", count=1)
    [broken], _ = queue.add_inputs([first], CPU.replaced(model="no-such-model"))
    [fine], _ = queue.add_inputs([second], CPU)
    with qtbot.waitSignal(queue.job_errored, timeout=30_000) as errored:
        queue.start_all()
    assert errored.args[0] == broken.id and "no-such-model" in errored.args[1]
    wait_for_status(qtbot, fine, [JobStatus.DONE])
    assert broken.status == JobStatus.FAILED and "no-such-model" in broken.error


def test_jobs_run_in_queue_order_and_pending_ones_can_be_moved_and_removed(queue, make_photo_folder, qtbot):
    folders = [make_photo_folder(name, count=1) for name in ("a", "b", "c")]
    jobs = [queue.add_inputs([f], CPU)[0][0] for f in folders]
    assert queue.move(jobs[2].id, -2)
    queue.remove([jobs[1].id])
    assert [j.title for j in queue.model.jobs()] == ["c", "a"]
    finished: list[str] = []
    queue.job_finished.connect(lambda job_id: finished.append(queue.model.job_by_id(job_id).title))
    queue.start_all()
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=30_000)
    assert finished == ["c", "a"]
    assert jobs[1].status == JobStatus.PENDING and not jobs[1].output_dir.exists()


def test_pause_holds_the_job_and_start_resumes_it(queue, make_photo_folder, qtbot):
    folder = make_photo_folder("paused", count=3, height=300, width=300)
    [job], _ = queue.add_inputs([folder], CPU.replaced(tile_size_px=256))
    queue.start_all()
    qtbot.waitUntil(lambda: job.progress > 0.0, timeout=30_000)
    queue.pause_all()
    assert job.status == JobStatus.PAUSED
    assert not queue.move(job.id, 1) and not queue.is_editable(job)
    qtbot.wait(150)
    progress_while_paused = job.progress
    qtbot.wait(300)
    assert job.progress == progress_while_paused and job.status == JobStatus.PAUSED
    queue.start_all()
    wait_for_status(qtbot, job, [JobStatus.DONE])
    assert len(outputs_under(job.output_dir)) == 3


def test_a_held_job_can_be_moved_and_removed_while_the_running_one_cannot(queue, make_photo_folder, qtbot):
    running_folder = make_photo_folder("running", count=2, height=300, width=300)
    [running], _ = queue.add_inputs([running_folder], CPU.replaced(tile_size_px=256))
    [held], _ = queue.add_inputs([make_photo_folder("held", count=1)], CPU)
    queue.start_all()
    qtbot.waitUntil(lambda: running.progress > 0.0, timeout=30_000)
    queue.pause_all()
    assert (running.status, held.status) == (JobStatus.PAUSED, JobStatus.PAUSED)
    assert not queue.is_editable(running) and queue.is_editable(held)
    assert queue.move(held.id, -1) and [j.title for j in queue.model.jobs()] == ["held", "running"]
    queue.remove([running.id, held.id])
    assert queue.model.jobs() == [running]
    queue.cancel_all()
    wait_for_status(qtbot, running, [JobStatus.CANCELLED])


def test_rerun_after_failure_redoes_only_what_is_missing(queue, make_photo_folder, qtbot):
    folder = make_photo_folder("again", count=2)
    broken = folder / "late.png"
    broken.write_bytes(b"")
    [job], _ = queue.add_inputs([folder], CPU)
    queue.start_all()
    wait_for_status(qtbot, job, [JobStatus.FAILED])
    write_photo(broken)
    queue.rerun_all_failed()
    wait_for_status(qtbot, job, [JobStatus.DONE])
    assert (job.counts.done, job.counts.skipped, job.counts.failed) == (1, 2, 0)


def test_a_rerun_right_at_the_end_of_a_run_is_not_lost(queue, make_photo_folder, qtbot):
    """The engine's last event arrives before its worker has wound down; a re-run in between must still run."""
    folder = make_photo_folder("eager", count=1)
    broken = folder / "late.png"
    broken.write_bytes(b"")
    [job], _ = queue.add_inputs([folder], CPU)
    reruns: list[int] = []

    def rerun_as_soon_as_it_fails(*_args) -> None:
        if job.status == JobStatus.FAILED and not reruns:
            assert queue.busy  # the worker has not reported `finished` yet
            reruns.append(job.id)
            write_photo(broken)
            queue.rerun([job.id])

    queue.model.dataChanged.connect(rerun_as_soon_as_it_fails)
    queue.start_all()
    wait_for_status(qtbot, job, [JobStatus.DONE])
    assert reruns == [job.id] and (job.counts.done, job.counts.skipped) == (1, 1)


class _FailingGpuCartoonizer(Cartoonizer):
    """Behaves like a GPU that runs out of memory unless the job asked for the CPU."""

    def __init__(self, model, device="auto", *args, **kwargs):
        self.requested_device = device
        super().__init__(model, "cpu", *args, **kwargs)

    def cartoonize_steps(self, rgb, cancel=None):
        if self.requested_device != "cpu":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return (yield from super().cartoonize_steps(rgb, cancel))


def test_a_gpu_failure_offers_a_retry_on_the_cpu(queue, make_photo_folder, qtbot, monkeypatch):
    monkeypatch.setattr(batch_setup, "Cartoonizer", _FailingGpuCartoonizer)
    folder = make_photo_folder("gpu", count=2)
    [job], _ = queue.add_inputs([folder], CPU.replaced(device="auto"))
    with qtbot.waitSignal(queue.device_problem, timeout=30_000) as problem:
        queue.start_all()
    assert problem.args[0] == job.id and "out of memory" in problem.args[1]
    assert job.status == JobStatus.FAILED and job.counts.failed == 2
    assert "out of memory" in job.device_failure    # from the items' failure kind, not from their messages
    queue.retry_with(job.id, device="cpu")
    wait_for_status(qtbot, job, [JobStatus.DONE])
    assert job.options.device == "cpu" and len(outputs_under(job.output_dir)) == 2
    assert failure_kind(DeviceOutOfMemory("out of memory on cuda:0")) is FailureKind.DEVICE
    assert failure_kind(ImageReadError("not an image, or an image format this app cannot read")) is FailureKind.INPUT


def test_the_gui_stays_responsive_while_a_job_runs(queue, make_photo_folder, qtbot):
    folder = make_photo_folder("load", count=4, height=512, width=512)
    [job], _ = queue.add_inputs([folder], CPU)
    gaps_ms: list[int] = []
    clock = QElapsedTimer()
    ticker = QTimer()
    ticker.setInterval(10)

    def tick():
        if clock.isValid():
            gaps_ms.append(clock.restart())
        else:
            clock.start()

    ticker.timeout.connect(tick)
    ticker.start()
    started = time.perf_counter()
    queue.start_all()
    wait_for_status(qtbot, job, [JobStatus.DONE], timeout_ms=60_000)
    ticker.stop()
    busy_s = time.perf_counter() - started
    assert busy_s > 0.3, "the job was too quick to say anything about responsiveness"
    assert len(gaps_ms) > 10
    assert max(gaps_ms) < 200, f"the event loop stalled for {max(gaps_ms)} ms while a {busy_s:.1f} s job ran"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_job_runs_on_the_gpu(queue, make_photo_folder, qtbot):
    folder = make_photo_folder("gpu-run", count=2)
    [job], _ = queue.add_inputs([folder], CPU.replaced(device="cuda"))
    queue.start_all()
    wait_for_status(qtbot, job, [JobStatus.DONE, JobStatus.FAILED])
    assert job.status == JobStatus.DONE, job.error
