"""Video and frame-folder jobs through the GUI's queue: they run on the engine and report frames; the GUI does no
video processing of its own."""
from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.job import JobStatus
from desktop_app.job import JobKind
from desktop_app.job_options import JobOptions
from tests.desktop_app.conftest import TINY_MODEL_NAME, outputs_under, wait_for_status

CPU = JobOptions(model=TINY_MODEL_NAME, device="cpu")


@pytest.fixture
def synthetic_video():
    from tests.core import synthetic_video

    return synthetic_video


def test_video_options_reach_the_engine():
    from core.video import VideoOptions

    options = JobOptions(video_codec="h264_nvenc", video_crf=30, temporal_smoothing=True)
    batch_options = options.batch_options(Path("/out"))
    assert batch_options.video == VideoOptions(codec="h264_nvenc", crf=30, temporal_smoothing=True)
    assert batch_options.output_dir == Path("/out")


def test_a_dropped_video_runs_with_frame_progress(window, synthetic_video, tmp_path, qtbot):
    (tmp_path / "clips").mkdir()
    clip = synthetic_video.write_clip(tmp_path / "clips" / "clip.mp4", frames=10, size=(64, 48))
    [job] = window.add_paths([clip])
    assert job.kind == JobKind.VIDEO
    details: list[str] = []
    window.queue_model.dataChanged.connect(lambda *_: job.detail and details.append(job.detail))
    window.options_panel.set_options(CPU)
    window.commands.start_all.trigger()
    wait_for_status(qtbot, job, [JobStatus.DONE, JobStatus.FAILED], timeout_ms=60_000)
    assert job.status == JobStatus.DONE, job.error
    assert outputs_under(job.output_dir) == ["clip.mp4"]
    assert any(d.startswith("frame ") for d in details)


def test_a_frame_folder_is_cartoonized_frame_by_frame_or_into_a_video(window, synthetic_video, tmp_path, qtbot):
    folder = tmp_path / "shot"
    synthetic_video.write_frame_folder(folder, count=9)
    [job] = window.add_paths([folder])
    assert job.kind == JobKind.FRAMES
    qtbot.waitUntil(lambda: job.counts.total == 9, timeout=10_000)  # the engine's default: frame by frame
    window.options_panel.set_options(CPU)
    window.commands.start_all.trigger()
    wait_for_status(qtbot, job, [JobStatus.DONE, JobStatus.FAILED], timeout_ms=60_000)
    assert job.status == JobStatus.DONE, job.error
    assert len(outputs_under(job.output_dir)) == 9

    [as_video] = window.add_paths([folder])
    panel = window.options_panel
    panel.frames_as_video_check.setChecked(True)   # the selected job takes it
    panel.fps_spin.setValue(12.0)
    assert as_video.options.frames_as_video and as_video.options.frames_fps == 12.0
    assert as_video.options.batch_options(as_video.output_dir).video.fps == 12
    panel.set_options(CPU.replaced(frames_as_video=True, frames_fps=12.0))
    window.commands.start.trigger()
    wait_for_status(qtbot, as_video, [JobStatus.DONE, JobStatus.FAILED], timeout_ms=60_000)
    assert as_video.status == JobStatus.DONE, as_video.error
    assert "shot.mp4" in outputs_under(as_video.output_dir)
