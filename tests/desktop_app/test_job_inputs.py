"""Grouping dropped paths into jobs, kinds, and default output folders (never over an input)."""
from __future__ import annotations

import os

from desktop_app.job import JobKind
from desktop_app.job_inputs import group_into_jobs, input_kind, output_dir_for
from tests.desktop_app.conftest import write_photo


def test_each_folder_and_video_is_a_job_and_loose_photos_group_by_folder(tmp_path):
    folder = tmp_path / "holiday"
    write_photo(folder / "a.jpg")
    loose_a = write_photo(tmp_path / "loose" / "x.png")
    loose_b = write_photo(tmp_path / "loose" / "y.png")
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not really a video; the engine will say so")
    notes = tmp_path / "notes.txt"
    notes.write_text("ignored")
    jobs, ignored = group_into_jobs([loose_a, folder, video, loose_b, notes, tmp_path / "missing"])
    assert [(job.kind, [p.name for p in job.inputs]) for job in jobs] == [
        (JobKind.PHOTOS, ["x.png", "y.png"]), (JobKind.PHOTOS, ["holiday"]), (JobKind.VIDEO, ["clip.mp4"])]
    assert [p.name for p in ignored] == ["notes.txt", "missing"]


def test_numbered_frame_folders_are_frames_and_camera_folders_are_photos(tmp_path):
    frames = tmp_path / "shot"
    for index in range(1, 10):
        write_photo(frames / f"frame_{index:04d}.png", 16, 16, seed=index)
    assert input_kind(frames) == JobKind.FRAMES
    camera = tmp_path / "camera"
    for index in (1, 2, 5):
        write_photo(camera / f"IMG_{index:04d}.png", 16, 16)
    assert input_kind(camera) == JobKind.PHOTOS


def test_default_output_is_beside_the_input_and_never_over_it(tmp_path):
    folder = tmp_path / "holiday"
    photo = write_photo(folder / "a.jpg")
    assert output_dir_for([folder], None) == tmp_path / "holiday_cartoon"
    assert output_dir_for([photo], None) == tmp_path / "holiday_cartoon"
    chosen = tmp_path / "exports"
    assert output_dir_for([folder], chosen) == chosen / "holiday"
    assert output_dir_for([photo], chosen) == chosen
    assert output_dir_for([folder], tmp_path) == tmp_path / "holiday_cartoon"   # chosen = the input's parent
    assert output_dir_for([photo], folder) == tmp_path / "holiday_cartoon"      # chosen = the photos' folder


def test_output_goes_inside_when_the_parent_is_not_writable(tmp_path):
    locked = tmp_path / "locked"
    folder = locked / "photos"
    write_photo(folder / "a.jpg")
    os.chmod(locked, 0o555)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions
            return
        assert output_dir_for([folder], None) == folder / "cartoon"
    finally:
        os.chmod(locked, 0o755)
