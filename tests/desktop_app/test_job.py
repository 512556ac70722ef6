"""The job record: how engine events move it, and how it is saved and restored."""
from __future__ import annotations

from pathlib import Path

from core.batch import (
    BatchFinished, BatchItem, BatchStarted, BatchSummary, FrameProgress, ItemFinished, ItemResult, ItemStarted,
    Progress, TileProgress,
)

from desktop_app.job import Job, JobKind, JobStatus, apply_event
from desktop_app.job_options import JobOptions


def _progress(done: int, total: int, fraction: float, eta: float | None = 1.0) -> Progress:
    return Progress(done, total, fraction, 0.5, eta)


def _item(name: str) -> BatchItem:
    return BatchItem(Path("/in") / name, Path("/out") / name, Path(name))


def test_events_move_a_job_from_start_to_done_with_failures():
    job = Job([Path("/in")], JobKind.PHOTOS, Path("/out"), status=JobStatus.RUNNING)
    apply_event(job, BatchStarted(2, _progress(0, 2, 0.0, None)))
    assert job.counts.total == 2 and job.progress == 0.0 and job.eta_s is None
    apply_event(job, ItemStarted(0, _item("a.jpg"), _progress(0, 2, 0.0)))
    assert job.current_item == "a.jpg"
    apply_event(job, TileProgress(0, 1, 2, _progress(0, 2, 0.25, 3.0)))
    assert (job.progress, job.eta_s) == (0.25, 3.0)
    apply_event(job, ItemFinished(0, ItemResult(_item("a.jpg"), "done"), _progress(1, 2, 0.5)))
    apply_event(job, ItemFinished(1, ItemResult(_item("b.jpg"), "failed", "not an image"), _progress(2, 2, 1.0)))
    assert (job.counts.done, job.counts.failed) == (1, 1)
    assert job.error == "b.jpg: not an image"
    summary = BatchSummary(done=1, failed=1)
    apply_event(job, BatchFinished(summary, _progress(2, 2, 1.0, 0.0)))
    assert job.status == JobStatus.FAILED and job.eta_s is None


def test_a_cancelled_batch_ends_cancelled_and_a_clean_one_done():
    job = Job([Path("/in")], JobKind.PHOTOS, Path("/out"), status=JobStatus.RUNNING)
    apply_event(job, BatchFinished(BatchSummary(cancelled=True), _progress(0, 3, 0.1)))
    assert job.status == JobStatus.CANCELLED
    job.status = JobStatus.RUNNING
    apply_event(job, BatchFinished(BatchSummary(done=3), _progress(3, 3, 1.0)))
    assert job.status == JobStatus.DONE and job.progress == 1.0


def test_frame_progress_moves_the_bar_and_says_which_frame():
    job = Job([Path("/clip.mp4")], JobKind.VIDEO, Path("/out"), status=JobStatus.RUNNING)
    apply_event(job, FrameProgress(0, frames_done=12, frames_total=30, fps=2.5, eta_s=7.2,
                                   progress=_progress(0, 1, 0.4, 12.0)))
    assert (job.progress, job.eta_s, job.status) == (0.4, 12.0, JobStatus.RUNNING)
    assert job.detail == "frame 12 of 30 at 2.5 fps"
    apply_event(job, FrameProgress(0, 13, None, 2.5, None, _progress(0, 1, 0.42, 11.0)))
    assert job.detail == "frame 13 at 2.5 fps"


def test_a_saved_job_comes_back_pending_with_its_options(tmp_path):
    options = JobOptions(model="tiny", device="cpu", strength=0.5, max_side_px=512, skip_existing=False)
    job = Job([tmp_path / "a"], JobKind.PHOTOS, tmp_path / "a_cartoon", options, status=JobStatus.RUNNING,
              output_dir_chosen=True)
    job.failures.append(("x.jpg", "broken"))
    restored = Job.from_dict(job.to_dict())
    assert restored.status == JobStatus.PENDING
    assert (restored.inputs, restored.kind, restored.output_dir) == (job.inputs, job.kind, job.output_dir)
    assert restored.options == options and restored.output_dir_chosen
    assert restored.failures == [("x.jpg", "broken")]
    assert restored.id != job.id
    failed = Job.from_dict({**job.to_dict(), "status": "failed"})
    assert failed.status == JobStatus.FAILED  # finished jobs keep their outcome (so they can be re-run)


def test_options_from_a_damaged_file_fall_back_field_by_field():
    options = JobOptions.from_dict({"quality": 500, "strength": "high", "device": "cuda:1", "unknown": 1,
                                    "max_side_px": None, "skip_existing": 0, "output_format": "gif"})
    assert options.quality == 95 and options.strength == 1.0 and options.output_format == "same"
    assert options.device == "cuda:1" and options.max_side_px is None and options.skip_existing is True
    assert options.batch_options(Path("/o")).existing == "skip"
    assert JobOptions(skip_existing=False).batch_options(Path("/o")).existing == "overwrite"
    assert JobOptions.from_dict({"keep_audio": False, "video_crf": 20}) == JobOptions(video_crf=20)  # an old key


def test_a_restored_cancelled_job_shows_its_real_progress_and_new_options_survive(tmp_path):
    options = JobOptions(foreground_strength=0.3, background_strength=0.8, name_pattern="{stem}_cartoon",
                         beside_inputs=True, frames_as_video=True, frames_fps=23.976)
    job = Job([tmp_path / "a"], JobKind.PHOTOS, tmp_path / "a", options, status=JobStatus.CANCELLED, progress=0.4)
    restored = Job.from_dict(job.to_dict())
    assert restored.status == JobStatus.CANCELLED and restored.progress == 0.4
    assert restored.options == options
    assert Job.from_dict({**job.to_dict(), "progress": "lots"}).progress == 0.0
    video = options.video_options()
    assert video.frames_as_video and float(video.fps) == 23.976
    assert options.batch_options(tmp_path).name_pattern == "{stem}_cartoon"
    assert JobOptions.from_dict({"name_pattern": "no stem"}).name_pattern == "{stem}"
    assert not JobOptions.from_dict({"beside_inputs": True}).beside_inputs   # "{stem}" would replace the inputs
