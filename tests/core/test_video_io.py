"""Video jobs end to end on tiny generated clips: timing, size, rotation, copied audio and subtitles, frame folders,
clear errors, and cancel leaving nothing behind."""
from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from core.atomic_files import PARTIAL_PREFIX
from core.cancel import Cancelled, CancelToken
from core.cartoonizer import Cartoonizer
from core.frame_sequence import find_frame_sequence
from core.steps import drain
from core.video import (
    FrameCount, VideoOptions, VideoReadError, VideoWriteError, Frame, FrameSink, FrameSource, run_frame_pipeline,
    cartoonize_video, check_video_encoder, video_destination,
)
from tests.core.synthetic_video import moving_picture, read_clip, write_clip, write_frame_folder

VFR_PTS_MS = [0, 40, 100, 120, 300, 340, 400, 520, 560, 600, 700, 710]


@pytest.fixture
def identity(tiny_model) -> Cartoonizer:
    """The whole model path with strength 0: output pixels equal input pixels, so geometry can be checked."""
    return Cartoonizer(tiny_model, "cpu", strength=0.0)


@pytest.fixture
def cartoonizer(tiny_model) -> Cartoonizer:
    return Cartoonizer(tiny_model, "cpu")


def run_job(source: Path, destination: Path, cartoonizer: Cartoonizer, cancel_after: int | None = None,
            **options) -> tuple[list[FrameCount], object]:
    cancel = CancelToken()
    counts = []

    def count(frames: FrameCount) -> None:
        counts.append(frames)
        if cancel_after is not None and frames.done >= cancel_after:
            cancel.cancel()

    outcome = drain(cartoonize_video(source, destination, cartoonizer, VideoOptions(**options), cancel=cancel), count)
    return counts, outcome


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(PARTIAL_PREFIX))


def pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("video-")]


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


# --- timing, size, streams ---------------------------------------------------------------------------------------
def test_mp4_keeps_frames_rate_duration_size_and_audio_packets(tmp_path, identity):
    source = write_clip(tmp_path / "in.mp4", frames=20, audio="aac")
    counts, outcome = run_job(source, tmp_path / "out" / "in.mp4", identity, batch_frames=4)
    before, after = read_clip(source), read_clip(tmp_path / "out" / "in.mp4")
    assert outcome.frames == 20 and outcome.notes == ()
    assert len(after.frame_times) == 20
    assert after.frame_times == before.frame_times
    assert after.average_rate == before.average_rate == 25
    assert after.duration_s == pytest.approx(before.duration_s, abs=1e-6)
    assert (after.width, after.height) == (before.width, before.height) == (64, 48)
    assert (after.video_codec, after.pix_fmt) == ("h264", "yuv420p")
    (audio_in,), (audio_out,) = before.other.values(), after.other.values()
    assert audio_out.codec == audio_in.codec == "aac"
    assert audio_out.payloads == audio_in.payloads and len(audio_in.payloads) > 10
    assert audio_out.times == audio_in.times
    for a, b in zip(before.frames, after.frames):  # colours survive decode → RGB → encode
        assert mean_abs_diff(a, b) < 4.0
        assert abs(float(a.astype(np.float32).mean() - b.mean())) < 1.5
    assert [c.done for c in counts] == [4, 8, 12, 16, 20] and counts[-1].total == 20
    assert all(c.fps > 0 for c in counts) and counts[-1].eta_s == 0


@pytest.mark.parametrize("suffix, audio, subtitles", [(".mp4", "aac", "mov_text"), (".mkv", "libopus", "subrip")])
def test_variable_frame_rate_stays_in_sync_with_audio_and_subtitles(tmp_path, identity, suffix, audio, subtitles):
    source = write_clip(tmp_path / f"vfr{suffix}", pts=VFR_PTS_MS, time_base=Fraction(1, 1000), rate=Fraction(20),
                        audio=audio, subtitles=subtitles)
    destination = tmp_path / "out" / f"vfr{suffix}"
    run_job(source, destination, identity)
    before, after = read_clip(source), read_clip(destination)
    assert after.frame_times == before.frame_times == [Fraction(ms, 1000) for ms in VFR_PTS_MS]
    assert after.duration_s == pytest.approx(before.duration_s, abs=1e-6)
    assert sorted((s.type, s.codec) for s in after.other.values()) == sorted(
        (s.type, s.codec) for s in before.other.values())
    for index, stream in before.other.items():
        assert after.other[index].payloads == stream.payloads
        assert after.other[index].times == stream.times


@pytest.mark.parametrize("rotation_deg, quarter_turns_ccw", [(-90, -1), (90, 1), (180, 2)])
def test_rotated_input_comes_out_upright(tmp_path, identity, rotation_deg, quarter_turns_ccw):
    """FFmpeg's display matrix angle is counter-clockwise: -90 (a phone held upright) means turn 90° clockwise."""
    source = write_clip(tmp_path / "rot.mp4", frames=6, rotation_deg=rotation_deg)
    destination = tmp_path / "out" / "rot.mp4"
    run_job(source, destination, identity)
    before, after = read_clip(source), read_clip(destination)
    assert before.rotation % 360 == rotation_deg % 360 and after.rotation == 0
    assert (after.width, after.height) == (before.width, before.height)
    for stored, shown in zip(before.frames, after.frames):
        expected = np.rot90(stored, quarter_turns_ccw)
        assert shown.shape == expected.shape
        assert mean_abs_diff(shown, expected) < 4.0
        assert mean_abs_diff(shown, np.rot90(stored, quarter_turns_ccw + 2)) > 20.0  # not upside down


def test_webm_becomes_mkv_with_its_opus_track(tmp_path, identity):
    source = write_clip(tmp_path / "clip.webm", frames=8, codec="libvpx-vp9", audio="libopus")
    destination = tmp_path / "out" / video_destination(Path("clip.webm"), False, VideoOptions())
    assert destination.name == "clip.mkv"
    run_job(source, destination, identity)
    before, after = read_clip(source), read_clip(destination)
    assert after.video_codec == "h264" and after.frame_times == before.frame_times
    assert [s.payloads for s in after.other.values()] == [s.payloads for s in before.other.values()]


def test_avi_keeps_frame_count_rate_and_audio_packets(tmp_path, identity):
    """AVI has no presentation times (its demuxer guesses them when frames are reordered): frames are restamped one
    per tick, and the output is written without reordered frames."""
    source = write_clip(tmp_path / "clip.avi", frames=15, audio="mp3")
    run_job(source, tmp_path / "out" / "clip.avi", identity)
    before, after = read_clip(source), read_clip(tmp_path / "out" / "clip.avi")
    assert len(after.frame_times) == 15 and after.average_rate == 25
    assert after.frame_times == sorted(after.frame_times)
    assert after.frame_times[-1] - after.frame_times[0] == Fraction(14, 25)
    assert [s.payloads for s in after.other.values()] == [s.payloads for s in before.other.values()]


def test_stream_the_container_cannot_hold_is_left_out_with_a_note(tmp_path, identity):
    matroska = write_clip(tmp_path / "real.mkv", frames=6, audio="aac", subtitles="subrip")
    mislabelled = matroska.rename(tmp_path / "clip.flv")   # FFmpeg reads it by content; the output is mp4
    destination = tmp_path / "out" / video_destination(Path("clip.flv"), False, VideoOptions())
    _, outcome = run_job(mislabelled, destination, identity)
    assert destination.suffix == ".mp4"
    assert [s.type for s in read_clip(destination).other.values()] == ["audio"]
    assert len(outcome.notes) == 1 and "subtitle" in outcome.notes[0] and "srt" in outcome.notes[0]


def test_max_side_and_odd_sizes_give_even_downscaled_frames(tmp_path, identity):
    odd = write_clip(tmp_path / "odd.mkv", frames=4, size=(65, 49), codec="ffv1", audio=None)
    run_job(odd, tmp_path / "out" / "odd.mkv", identity)
    assert (read_clip(tmp_path / "out" / "odd.mkv").width, read_clip(tmp_path / "out" / "odd.mkv").height) == (64, 48)
    big = write_clip(tmp_path / "big.mp4", frames=4, size=(128, 96), audio=None)
    counts = []
    job = cartoonize_video(big, tmp_path / "out" / "big.mp4", identity, max_side=50)
    counts.extend(job)
    small = read_clip(tmp_path / "out" / "big.mp4")
    assert (small.width, small.height) == (50, 38) and len(small.frame_times) == 4


# --- frame folders -----------------------------------------------------------------------------------------------
def test_frame_folder_round_trips_to_a_frame_folder(tmp_path, identity):
    frames = write_frame_folder(tmp_path / "shot", count=10)
    destination = tmp_path / "out" / "shot"
    counts, outcome = run_job(tmp_path / "shot", destination, identity)
    assert outcome.frames == 10 and counts[-1].total == 10
    assert sorted(p.name for p in destination.iterdir()) == [p.name for p in frames]
    for original in frames:  # PNG is lossless and strength 0 returns the input exactly
        np.testing.assert_array_equal(np.asarray(Image.open(destination / original.name)),
                                      np.asarray(Image.open(original)))
    assert find_frame_sequence(destination) is not None


def test_frame_folder_becomes_a_video_at_the_given_rate(tmp_path, identity):
    write_frame_folder(tmp_path / "shot", count=10)
    run_job(tmp_path / "shot", tmp_path / "out" / "shot.mp4", identity, fps=Fraction(24), frames_as_video=True)
    clip = read_clip(tmp_path / "out" / "shot.mp4")
    assert len(clip.frame_times) == 10 and clip.average_rate == 24
    assert clip.frame_times == [Fraction(i, 24) for i in range(10)]
    assert clip.duration_s == pytest.approx(10 / 24, abs=1e-6)
    assert clip.other == {}


def test_transparent_frames_keep_alpha_as_frames_and_note_its_loss_in_a_video(tmp_path, identity):
    folder = tmp_path / "shot"
    folder.mkdir()
    for i in range(8):
        rgba = np.dstack([moving_picture(i, 32, 24), np.full((24, 32), 128, np.uint8)])
        Image.fromarray(rgba, "RGBA").save(folder / f"f{i:03d}.png")
    run_job(folder, tmp_path / "frames", identity)
    assert Image.open(tmp_path / "frames" / "f000.png").mode == "RGBA"
    _, outcome = run_job(folder, tmp_path / "shot.mp4", identity, fps=Fraction(12), frames_as_video=True)
    assert len(outcome.notes) == 1 and "alpha" in outcome.notes[0]


def test_video_to_png_frames_and_back(tmp_path, identity):
    source = write_clip(tmp_path / "clip.mp4", frames=12, audio=None)
    run_job(source, tmp_path / "frames", identity, frames_only=True)
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == [f"frame_{i:06d}.png" for i in range(1, 13)]
    assert find_frame_sequence(tmp_path / "frames") is not None
    run_job(tmp_path / "frames", tmp_path / "again.mp4", identity, fps=Fraction(25), frames_as_video=True)
    again, before = read_clip(tmp_path / "again.mp4"), read_clip(source)
    assert again.frame_times == before.frame_times
    assert all(mean_abs_diff(a, b) < 5.0 for a, b in zip(before.frames, again.frames))


# --- errors, cancel ----------------------------------------------------------------------------------------------
def _broken_inputs(folder: Path) -> dict[str, str]:
    """name → words its error must contain."""
    whole = write_clip(folder / "whole.mp4", frames=30).read_bytes()
    (folder / "cut.mp4").write_bytes(whole[: len(whole) // 2])                       # index (moov) at the end, lost
    faststart = write_clip(folder / "fs.mp4", frames=30, container_options={"movflags": "+faststart"}).read_bytes()
    (folder / "cut_faststart.mp4").write_bytes(faststart[: len(faststart) * 2 // 3])  # index kept, data cut
    matroska = write_clip(folder / "whole.mkv", frames=30, audio=None).read_bytes()
    (folder / "cut.mkv").write_bytes(matroska[: len(matroska) // 2])
    (folder / "text.mp4").write_text("this is a text file, not a video\n" * 10)
    (folder / "empty.mp4").write_bytes(b"")
    with av.open(str(folder / "sound.mp4"), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return {"cut.mp4": "not a readable video", "cut_faststart.mp4": "truncated", "cut.mkv": "truncated",
            "text.mp4": "not a readable video", "empty.mp4": "not a readable video", "sound.mp4": "no video stream",
            "missing.mp4": "file not found"}


def test_broken_inputs_give_clear_errors_and_no_output(tmp_path, identity):
    inputs = tmp_path / "in"
    inputs.mkdir()
    out = tmp_path / "out"
    for name, words in _broken_inputs(inputs).items():
        with pytest.raises(VideoReadError, match=words):
            run_job(inputs / name, out / name, identity)
    assert not out.exists() or list(out.rglob("*")) == []
    assert pipeline_threads() == []


@pytest.mark.parametrize("frames_only", [False, True])
def test_cancel_mid_video_leaves_nothing_and_a_rerun_succeeds(tmp_path, identity, frames_only):
    source = write_clip(tmp_path / "clip.mp4", frames=30)
    destination = tmp_path / "out" / ("clip" if frames_only else "clip.mp4")
    with pytest.raises(Cancelled):
        run_job(source, destination, identity, cancel_after=4, batch_frames=2, frames_only=frames_only)
    assert not destination.exists() and leftovers(tmp_path / "out") == []
    assert pipeline_threads() == []
    _, outcome = run_job(source, destination, identity, frames_only=frames_only)
    assert outcome.frames == 30 and destination.exists()


def test_closing_the_job_early_stops_threads_and_removes_the_partial_file(tmp_path, identity):
    source = write_clip(tmp_path / "clip.mp4", frames=30)
    job = cartoonize_video(source, tmp_path / "out" / "clip.mp4", identity, VideoOptions(batch_frames=2))
    next(job)
    job.close()  # what a consumer dropping the generator (or Ctrl-C in the CLI) does
    assert list((tmp_path / "out").iterdir()) == [] and pipeline_threads() == []


def test_missing_encoder_is_reported_before_any_work():
    check_video_encoder("libx264")
    with pytest.raises(VideoWriteError, match="unknown video codec"):
        check_video_encoder("mpeg1video")


# --- the pipeline itself ------------------------------------------------------------------------------------------
class _CountingSource(FrameSource):
    def __init__(self, count: int, fail_at: int | None = None):
        self.frames_total, self.pulled, self.fail_at = count, 0, fail_at

    def frames(self):
        for i in range(self.frames_total):
            if i == self.fail_at:
                raise VideoReadError("corrupt frame for the test")
            self.pulled += 1
            yield Frame(moving_picture(i, 32, 24), i, Fraction(1, 25), 1)


class _SlowModel:
    """Records how far decoding ran ahead of inference at every batch."""

    def __init__(self, source: _CountingSource):
        self.source, self.ahead = source, []

    def cartoonize_batch(self, frames, cancel=None, history=None):
        time.sleep(0.01)
        self.ahead.append(self.source.pulled)
        return frames


class _ListSink(FrameSink):
    def __init__(self, fail_at: int | None = None):
        self.pts, self.finished, self.fail_at = [], False, fail_at

    def write(self, frame, cartoon):
        if len(self.pts) == self.fail_at:
            raise OSError("disk full for the test")
        self.pts.append(frame.pts)

    def finish(self):
        self.finished = True


def test_pipeline_queues_are_bounded_and_keep_order():
    source, sink = _CountingSource(200), _ListSink()
    model = _SlowModel(source)
    options = VideoOptions(batch_frames=4, queue_frames=6)
    assert drain(run_frame_pipeline(source, sink, model, options, CancelToken())) == 200
    assert sink.pts == list(range(200)) and sink.finished
    inferred = [4 * (i + 1) for i in range(len(model.ahead))]
    # decoded-but-not-yet-inferred frames: the batch, the decode queue, one frame in the decoder's hand
    assert max(pulled - done for pulled, done in zip(model.ahead, inferred)) <= 6 + 1


@pytest.mark.parametrize("where", ["decoder", "encoder"])
def test_pipeline_failures_reach_the_caller_and_stop_both_threads(where):
    source = _CountingSource(100, fail_at=37 if where == "decoder" else None)
    sink = _ListSink(fail_at=21 if where == "encoder" else None)
    with pytest.raises((VideoReadError, OSError), match="for the test"):
        drain(run_frame_pipeline(source, sink, _SlowModel(source), VideoOptions(), CancelToken()))
    assert pipeline_threads() == []


def test_cartoonize_batch_matches_frame_by_frame(cartoonizer):
    frames = np.stack([moving_picture(i, 40, 30, noise=0.02) for i in range(5)])
    batched = cartoonizer.cartoonize_batch(frames)
    assert batched.dtype == np.uint8 and batched.shape == frames.shape
    for frame, cartoon in zip(frames, batched):
        single = cartoonizer.cartoonize(frame.astype(np.float32) / 255.0)
        assert np.abs(cartoon.astype(np.float32) - single * 255.0).max() <= 1.0
    floats = cartoonizer.cartoonize_batch(frames.astype(np.float32) / 255.0)
    assert floats.dtype == np.float32 and np.abs(floats * 255.0 - batched).max() <= 1.0


def test_an_existing_output_is_kept_unless_replace(tmp_path, identity):
    source = write_clip(tmp_path / "clip.mp4", frames=4, audio=None)
    destination = tmp_path / "out.mp4"
    destination.write_bytes(b"precious")
    with pytest.raises(VideoWriteError, match="already exists"):
        run_job(source, destination, identity)
    assert destination.read_bytes() == b"precious"
    for _ in cartoonize_video(source, destination, identity, replace=True):
        pass
    assert len(read_clip(destination).frame_times) == 4
