"""The wizard's picture rules: counts as the trainer counts, too few refused with a reason, and the cartoon
folder built from key-frames of videos."""
from __future__ import annotations

from pathlib import Path

from core.steps import drain

from desktop_app.fine_tune.data import (
    KEYFRAMES_FOLDER, MIN_CARTOONS, MIN_PHOTOS, PICTURES_FOLDER, cartoons_problem, photos_problem,
    prepare_cartoon_folder, scan_folder,
)
from tests.desktop_app.fine_tune_fixtures import write_pictures, write_video


def test_scan_counts_what_the_trainer_reads(tmp_path):
    folder = write_pictures(tmp_path / "cartoons", 3, cartoon=True)
    write_pictures(folder / "season 2", 2, cartoon=True)
    (folder / "notes.txt").write_text("not a picture")
    (folder / ".hidden").mkdir()
    write_pictures(folder / ".hidden", 1)
    (folder / "clip.MP4").write_bytes(b"\0")
    scan = scan_folder(folder)
    assert (len(scan.images), [v.name for v in scan.videos], scan.error) == (5, ["clip.MP4"], None)
    assert "not a folder" in scan_folder(tmp_path / "missing").error


def test_too_few_pictures_are_refused_with_a_reason(tmp_path):
    cartoons = scan_folder(write_pictures(tmp_path / "cartoons", MIN_CARTOONS - 1, cartoon=True))
    photos = scan_folder(write_pictures(tmp_path / "photos", MIN_PHOTOS - 5))
    reason = cartoons_problem(cartoons, None)
    assert f"Only {MIN_CARTOONS - 1} cartoon pictures" in reason and f"at least {MIN_CARTOONS}" in reason
    assert f"Only {MIN_PHOTOS - 5} photos" in photos_problem(photos, cartoons.folder)
    write_pictures(tmp_path / "cartoons", MIN_CARTOONS, cartoon=True)
    write_pictures(tmp_path / "photos", MIN_PHOTOS)
    cartoons, photos = scan_folder(tmp_path / "cartoons"), scan_folder(tmp_path / "photos")
    assert cartoons_problem(cartoons, None) is None and photos_problem(photos, cartoons.folder) is None
    assert "separate folders" in photos_problem(cartoons, cartoons.folder)
    assert "separate folders" in photos_problem(scan_folder(tmp_path), cartoons.folder)  # cartoons inside
    assert cartoons_problem(None, None).startswith("Choose")


def test_videos_need_their_key_frames_first(tmp_path):
    folder = write_pictures(tmp_path / "cartoons", 2, cartoon=True)
    write_video(folder / "episode.mp4", scenes=3)
    scan = scan_folder(folder)
    assert "1 video found: extract their key-frames first" in cartoons_problem(scan, None)

    progress = []
    prepared = drain(prepare_cartoon_folder(scan, tmp_path / "run" / "cartoons"), progress.append)
    assert progress and progress[-1].videos_total == 1
    names = sorted(str(p.relative_to(prepared.folder).parent) for p in prepared.images)
    assert names.count(KEYFRAMES_FOLDER) == 3 and names.count(PICTURES_FOLDER) == 2
    assert prepared.failed_videos == {}
    assert "Only 5 key-frames and pictures" in cartoons_problem(scan, prepared)
    assert all(Path(p).is_file() for p in prepared.images)
