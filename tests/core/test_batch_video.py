"""Videos and frame folders in the batch engine and the CLI: planning beside photos, per-file errors, frame
progress, resume, cancel."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from core.atomic_files import PARTIAL_PREFIX
from core.batch import BatchFinished, BatchOptions, FrameProgress, plan_batch, run_batch, write_report
from core.cancel import CancelToken
from core.cartoonizer import Cartoonizer
from core.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main
from core.frame_sequence import MIN_SEQUENCE_FRAMES, find_frame_sequence
from core.video import VideoOptions
from tests.conftest import gradient_image
from tests.core.synthetic_video import read_clip, write_clip, write_frame_folder


def _photo(path: Path, seed: int = 0, exif_make: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray((gradient_image(48, 64, seed) * 255).astype(np.uint8))
    exif = Image.Exif()
    if exif_make:
        exif[0x010F] = exif_make
    image.save(path, exif=exif.tobytes()) if exif_make else image.save(path)
    return path


def _kinds(plan) -> dict[str, str]:
    return {str(item.relative): item.kind for item in plan.items}


def _run(inputs, options: BatchOptions, model, cancel=None, on_event=None):
    cartoonizer = Cartoonizer(model, "cpu")
    events = []
    for event in run_batch(plan_batch(inputs, options), cartoonizer, options, cancel):
        events.append(event)
        if on_event:
            on_event(event)
    assert isinstance(events[-1], BatchFinished)
    return events, events[-1].summary


# --- planning ----------------------------------------------------------------------------------------------------
def test_frame_folders_are_told_apart_from_photo_folders(tmp_path):
    root = tmp_path / "in"
    write_frame_folder(root / "shot", count=MIN_SEQUENCE_FRAMES)
    write_frame_folder(root / "too_short", count=MIN_SEQUENCE_FRAMES - 1)
    write_frame_folder(root / "gap", count=MIN_SEQUENCE_FRAMES + 1)
    (root / "gap" / f"frame_{3:04d}.png").unlink()                       # deleted photos leave gaps
    write_frame_folder(root / "mixed", count=MIN_SEQUENCE_FRAMES)
    _photo(root / "mixed" / "cover.png")                                 # one odd name out
    for i in range(1, MIN_SEQUENCE_FRAMES + 2):                          # a camera card dump: numbered, no gaps
        _photo(root / "camera" / f"IMG_{i:04d}.JPG", seed=i, exif_make="Canon")
    for i in (1, 2, 10, 11, 12, 13, 14, 15):                             # unpadded numbers
        _photo(root / "unpadded" / f"{i}.png")
    plan = plan_batch([root], BatchOptions(tmp_path / "out", video=VideoOptions(frames_as_video=True)))
    kinds = _kinds(plan)
    assert kinds["shot"] == "frames"
    assert not any(k.startswith("shot/") for k in kinds)
    for folder in ("too_short", "gap", "mixed", "camera", "unpadded"):
        assert find_frame_sequence(root / folder) is None, folder
        assert kinds[next(k for k in kinds if k.startswith(folder + "/"))] == "image", folder


def test_destinations_by_kind_and_option(tmp_path):
    root = tmp_path / "in"
    for name in ("a.mp4", "b.mov", "c.mkv", "d.webm", "e.avi", "f.m4v", "g.ts"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"planning does not open files")
    write_frame_folder(root / "shot", count=8)
    _photo(root / "photo.jpg")
    out = tmp_path / "out"
    planned = {str(i.relative): str(i.destination.relative_to(out))
               for i in plan_batch([root], BatchOptions(out)).items}
    frames = {f"shot/frame_{i:04d}.png": f"shot/frame_{i:04d}.png" for i in range(1, 9)}  # by default: pictures
    assert planned == {"a.mp4": "a.mp4", "b.mov": "b.mov", "c.mkv": "c.mkv", "d.webm": "d.mkv", "e.avi": "e.avi",
                       "f.m4v": "f.mp4", "g.ts": "g.mp4", "photo.jpg": "photo.jpg", **frames}
    frames_only = BatchOptions(out, video=VideoOptions(frames_only=True, frames_as_video=True))
    assert {str(i.relative): str(i.destination.relative_to(out)) for i in plan_batch([root / "a.mp4", root / "shot"],
                                                                                      frames_only).items} == {
        "a.mp4": "a", "shot": "shot.mp4"}
    at_fps = BatchOptions(out, video=VideoOptions(frames_as_video=True, fps=Fraction(24)))
    (item,) = plan_batch([root / "shot"], at_fps).items
    assert (item.kind, item.destination) == ("frames", out / "shot.mp4")
    named = BatchOptions(out, video=VideoOptions(frames_as_video=True), name_pattern="{stem}_cartoon")
    assert {str(i.relative): str(i.destination.relative_to(out)) for i in plan_batch([root / "a.mp4", root / "shot",
                                                                                      root / "photo.jpg"],
                                                                                     named).items} == {
        "a.mp4": "a_cartoon.mp4", "shot": "shot_cartoon.mp4", "photo.jpg": "photo_cartoon.jpg"}


# --- running -----------------------------------------------------------------------------------------------------
@pytest.fixture
def mixed_media(tmp_path) -> Path:
    """Photos, a video with sound, a frame folder, and three broken videos, in one folder."""
    root = tmp_path / "in"
    _photo(root / "photos" / "a.jpg", seed=1)
    _photo(root / "photos" / "b.png", seed=2)
    write_clip(root / "clip.mp4", frames=12)
    write_frame_folder(root / "shot", count=9)
    whole = (root / "clip.mp4").read_bytes()
    (root / "broken" / "cut.mp4").parent.mkdir(parents=True)
    (root / "broken" / "cut.mp4").write_bytes(whole[: len(whole) // 2])
    (root / "broken" / "text.mp4").write_text("not a video\n" * 20)
    with av.open(str(root / "broken" / "sound.mkv"), "w") as out:  # audio only
        stream = out.add_stream("libopus", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return root


def test_mixed_batch_processes_everything_and_reports_each_bad_video(tmp_path, mixed_media, tiny_model):
    out = tmp_path / "out"
    events, summary = _run([mixed_media], BatchOptions(out, video=VideoOptions(frames_as_video=True)), tiny_model)
    status = {str(r.item.relative): (r.status, r.error) for r in summary.results}
    assert {k: s for k, (s, _) in status.items()} == {
        "broken/cut.mp4": "failed", "broken/sound.mkv": "failed", "broken/text.mp4": "failed",
        "clip.mp4": "done", "photos/a.jpg": "done", "photos/b.png": "done", "shot": "done"}
    assert "not a readable video" in status["broken/cut.mp4"][1]
    assert "not a readable video" in status["broken/text.mp4"][1]
    assert "no video stream" in status["broken/sound.mkv"][1]
    clip_in, clip_out = read_clip(mixed_media / "clip.mp4"), read_clip(out / "clip.mp4")
    assert clip_out.frame_times == clip_in.frame_times
    assert [s.payloads for s in clip_out.other.values()] == [s.payloads for s in clip_in.other.values()]
    assert len(read_clip(out / "shot.mp4").frame_times) == 9
    assert not [p for p in out.rglob("*") if p.name.startswith(PARTIAL_PREFIX)]


def test_frame_progress_moves_the_batch_fraction_within_a_video(tmp_path, tiny_model):
    write_clip(tmp_path / "clip.mp4", frames=16, audio=None)
    _photo(tmp_path / "z.png")
    options = BatchOptions(tmp_path / "out", video=VideoOptions(batch_frames=4))
    events, summary = _run([tmp_path / "clip.mp4", tmp_path / "z.png"], options, tiny_model)
    frames = [e for e in events if isinstance(e, FrameProgress)]
    assert [e.frames_done for e in frames] == [4, 8, 12, 16]
    assert all(e.frames_total == 16 and e.fps > 0 and e.index == 0 for e in frames)
    fractions = [e.progress.fraction for e in frames]
    assert fractions == sorted(fractions) and 0 < fractions[0] < fractions[-1] < 0.5  # first of two files
    assert frames[-1].eta_s == 0 and summary.done == 2


def test_rerun_skips_finished_videos_and_overwrite_redoes_them(tmp_path, tiny_model):
    write_clip(tmp_path / "clip.mp4", frames=6)
    write_frame_folder(tmp_path / "shot", count=8)
    inputs = [tmp_path / "clip.mp4", tmp_path / "shot"]
    as_video = VideoOptions(frames_as_video=True)
    _, first = _run(inputs, BatchOptions(tmp_path / "out", video=as_video), tiny_model)
    _, again = _run(inputs, BatchOptions(tmp_path / "out", video=as_video), tiny_model)
    _, redo = _run(inputs, BatchOptions(tmp_path / "out", existing="overwrite", video=as_video), tiny_model)
    assert (first.done, again.skipped, redo.done) == (2, 2, 2)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.mp4", "shot.mp4"]


@pytest.mark.parametrize("frames_only", [False, True])
def test_cancel_mid_video_leaves_nothing_and_the_next_run_finishes(tmp_path, tiny_model, frames_only):
    write_clip(tmp_path / "clip.mp4", frames=24)
    options = BatchOptions(tmp_path / "out", video=VideoOptions(batch_frames=2, frames_only=frames_only))
    cancel = CancelToken()

    def cancel_at_frame_4(event):
        if isinstance(event, FrameProgress) and event.frames_done >= 4:
            cancel.cancel()

    events, summary = _run([tmp_path / "clip.mp4"], options, tiny_model, cancel, cancel_at_frame_4)
    assert summary.cancelled and summary.results == []
    assert list((tmp_path / "out").iterdir()) == []
    _, summary = _run([tmp_path / "clip.mp4"], options, tiny_model)
    assert summary.done == 1 and (tmp_path / "out" / ("clip" if frames_only else "clip.mp4")).exists()


def test_stale_partial_folders_from_a_killed_run_are_removed(tmp_path, tiny_model):
    stale = tmp_path / "out" / f"{PARTIAL_PREFIX}dead-shot"
    stale.mkdir(parents=True)
    (stale / "frame_0001.png").write_bytes(b"half")
    write_clip(tmp_path / "clip.mp4", frames=4, audio=None)
    _run([tmp_path / "clip.mp4"], BatchOptions(tmp_path / "out"), tiny_model)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.mp4"]


def test_report_records_kind_and_note(tmp_path, tiny_model):
    matroska = write_clip(tmp_path / "real.mkv", frames=4, subtitles="subrip")
    matroska.rename(tmp_path / "clip.flv")  # read as Matroska, written as mp4, which cannot hold srt subtitles
    events, summary = _run([tmp_path / "clip.flv"], BatchOptions(tmp_path / "out"), tiny_model)
    report = json.loads(write_report(summary, tmp_path / "report.json").read_text())
    (entry,) = report["files"]
    assert entry["kind"] == "video" and entry["status"] == "done" and "srt" in entry["note"]


# --- CLI ---------------------------------------------------------------------------------------------------------
def test_cli_cartoonizes_an_mp4_with_sound(tmp_path, tiny_model_file, capsys):
    source = write_clip(tmp_path / "clip.mp4", frames=10)
    code = main([str(source), "-o", str(tmp_path / "out"), "--model", str(tiny_model_file), "--device", "cpu",
                 "--temporal-smoothing", "--crf", "20"])
    assert code == EXIT_OK
    before, after = read_clip(source), read_clip(tmp_path / "out" / "clip.mp4")
    assert after.frame_times == before.frame_times and after.duration_s == pytest.approx(before.duration_s)
    assert [s.payloads for s in after.other.values()] == [s.payloads for s in before.other.values()]
    assert "1 done" in capsys.readouterr().err


def test_cli_frame_folder_options(tmp_path, tiny_model_file):
    write_frame_folder(tmp_path / "shot", count=8)
    base = [str(tmp_path / "shot"), "--model", str(tiny_model_file), "--device", "cpu", "--quiet"]
    assert main(base + ["-o", str(tmp_path / "frames")]) == EXIT_OK       # by default: pictures, mirrored
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [f"frame_{i:04d}.png" for i in range(1, 9)]
    assert main(base + ["-o", str(tmp_path / "video"), "--frames-as-video", "--fps", "30000/1001"]) == EXIT_OK
    clip = read_clip(tmp_path / "video" / "shot.mp4")
    assert clip.average_rate == Fraction(30000, 1001) and len(clip.frame_times) == 8


def test_cli_rejects_bad_video_options(tmp_path, tiny_model_file, capsys):
    source = write_clip(tmp_path / "clip.mp4", frames=2, audio=None)
    base = [str(source), "-o", str(tmp_path / "out"), "--model", str(tiny_model_file), "--device", "cpu"]
    for bad in (["--crf", "60"], ["--fps", "fast"], ["--fps", "0"], ["--frames-only", "--fps", "24"],
                ["--fps", "24"], ["--frames-as-video", "--fps", "0"],
                ["--video-codec", "mpeg4"], ["--frame-batch", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(base + bad)
        assert exit_info.value.code == EXIT_USAGE, bad
    assert not (tmp_path / "out").exists()


def test_cli_says_when_the_gpu_encoder_is_missing(tmp_path, tiny_model_file, capsys):
    from core.video import VideoWriteError, check_video_encoder
    try:
        check_video_encoder("h264_nvenc")
        pytest.skip("this machine has a working NVENC encoder")
    except VideoWriteError:
        pass
    source = write_clip(tmp_path / "clip.mp4", frames=2, audio=None)
    code = main([str(source), "-o", str(tmp_path / "out"), "--model", str(tiny_model_file), "--device", "cpu",
                 "--video-codec", "h264_nvenc"])
    assert code == EXIT_USAGE and "h264_nvenc" in capsys.readouterr().err


def test_cli_reports_failed_videos_with_exit_code(tmp_path, tiny_model_file, capsys):
    (tmp_path / "text.mp4").write_text("not a video")
    write_clip(tmp_path / "good.mp4", frames=3, audio=None)
    code = main([str(tmp_path / "text.mp4"), str(tmp_path / "good.mp4"), "-o", str(tmp_path / "out"),
                 "--model", str(tiny_model_file), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == EXIT_SOME_FAILED and "failed:" in err and "text.mp4" in err and "not a readable video" in err
    assert (tmp_path / "out" / "good.mp4").exists()


def _odd_size_clip(path: Path, width: int = 321, height: int = 241, frames: int = 3) -> Path:
    """A lossless (FFV1) clip of odd size, which H.264 in yuv420p cannot hold."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p"
        for i in range(frames):
            picture = av.VideoFrame.from_ndarray(np.full((height, width, 3), 40 * i, np.uint8), format="rgb24")
            picture = picture.reformat(format="yuv444p")
            picture.pts = i
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_an_odd_size_video_keeps_its_size_as_frames_and_says_why_not_as_h264(tmp_path, tiny_model):
    source = _odd_size_clip(tmp_path / "odd.mkv")
    _, summary = _run([source], BatchOptions(tmp_path / "video"), tiny_model)
    (result,) = summary.results
    assert result.status == "done" and "321×241 frames were stored as 320×240" in result.note
    with av.open(str(tmp_path / "video" / "odd.mkv")) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (320, 240)
    _run([source], BatchOptions(tmp_path / "frames", video=VideoOptions(frames_only=True)), tiny_model)
    frames = sorted((tmp_path / "frames" / "odd").iterdir())
    assert len(frames) == 3 and all(Image.open(frame).size == (321, 241) for frame in frames)
