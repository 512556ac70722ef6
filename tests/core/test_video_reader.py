"""The video reader's public faces: the frame iterator used for analysis and the stream description it hands the
writer (`core.video.reader`)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from core.frame_sequence import MIN_SEQUENCE_FRAMES, find_frame_sequence
from core.image_io import write_image
from core.video import FrameFolderReader, StreamDescription, VideoFileReader, VideoReadError
from tests.core.synthetic_video import write_clip


def test_decoded_frames_are_timed_from_the_start_and_converted_on_request(tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", frames=10, size=(64, 48), rate=Fraction(10), audio=None)
    with VideoFileReader(clip) as reader:
        frames = list(reader.decoded_frames())
        assert reader.duration_s == pytest.approx(1.0, abs=0.01)
    assert [round(frame.time_s, 3) for frame in frames] == [i / 10 for i in range(10)]
    assert frames[0].rgb().shape == (48, 64, 3)
    assert frames[0].rgb(max_width_px=32).shape == (24, 32, 3)    # area-downscaled by the shown width
    assert frames[0].rgb(max_width_px=100).shape == (48, 64, 3)   # never enlarged


def test_decoded_frames_are_upright(tmp_path):
    clip = write_clip(tmp_path / "phone.mp4", frames=3, size=(64, 48), rotation_deg=90, audio=None)
    with VideoFileReader(clip) as reader:
        first = next(reader.decoded_frames())
        assert first.rgb().shape == (64, 48, 3)
        assert first.rgb(max_width_px=24).shape == (32, 24, 3)


def test_the_stream_description_travels_with_the_frames(tmp_path):
    clip = write_clip(tmp_path / "clip.mkv", frames=6, rate=Fraction(25), audio="aac", subtitles="subrip")
    with VideoFileReader(clip) as reader:
        assert reader.description is None          # complete only once the first frame is decoded
        frames = list(reader.frames())
        described = reader.description
    assert isinstance(described, StreamDescription) and all(frame.stream is described for frame in frames)
    assert described.rate == Fraction(25) and described.source == clip
    assert len(described.side_streams) == 2        # the audio track and the subtitles, to be copied
    with pytest.raises(AttributeError):
        described.rate = Fraction(30)              # frozen: the writer cannot change what the reader saw


def test_a_frame_folder_describes_a_fixed_rate_bt709_stream(tmp_path):
    folder = tmp_path / "shot"
    for i in range(MIN_SEQUENCE_FRAMES):
        write_image(folder / f"frame_{i:04d}.png", np.full((8, 8, 3), 0.5, np.float32))
    reader = FrameFolderReader(find_frame_sequence(folder), Fraction(24), None, 10**8)
    frames = list(reader.frames())
    assert frames[0].stream == StreamDescription.fixed_rate(Fraction(24))
    assert frames[0].stream.colour_tags() == {"colorspace": 1, "color_primaries": 1, "color_trc": 1}
    assert frames[0].stream.side_streams == ()


def test_unreadable_files_are_refused_with_a_reason(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    with pytest.raises(VideoReadError, match="not a readable video"):
        VideoFileReader(bogus)
    with pytest.raises(VideoReadError, match="file not found"):
        VideoFileReader(tmp_path / "missing.mp4")
