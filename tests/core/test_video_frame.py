"""One frame of a video at a chosen time, for the GUI's preview."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from core.video_frame import read_video_frame
from core.video import VideoReadError
from tests.core.synthetic_video import write_clip

FRAMES = 10


def _grey_clip(path, **kwargs):
    """Frame i is a flat grey of level 20 + 20·i, so the frame read tells which one it was."""
    pictures = [np.full((48, 64, 3), 20 + 20 * i, np.uint8) for i in range(FRAMES)]
    return write_clip(path, frames=FRAMES, rate=Fraction(10), pictures=pictures, audio=None, crf=0, **kwargs)


def _level(frame) -> int:
    return round((float(frame.rgb.mean()) - 20) / 20)


def test_the_frame_shown_at_a_time_is_read(tmp_path):
    clip = _grey_clip(tmp_path / "grey.mp4")
    first = read_video_frame(clip, 0.0)
    assert first.rgb.shape == (48, 64, 3) and first.rgb.dtype == np.uint8
    assert _level(first) == 0 and first.time_s == 0.0
    assert first.duration_s == pytest.approx(1.0, abs=0.05)
    middle = read_video_frame(clip, 0.55)   # frame 5 is shown from 0.5 s to 0.6 s
    assert _level(middle) == 5 and middle.time_s == pytest.approx(0.5)
    assert _level(read_video_frame(clip, 0.5)) == 5
    assert _level(read_video_frame(clip, 99.0)) == FRAMES - 1   # past the end: the last frame


def test_rotated_and_large_videos_come_out_upright_and_downscaled(tmp_path):
    clip = _grey_clip(tmp_path / "phone.mp4", rotation_deg=90)
    assert read_video_frame(clip, 0.2).rgb.shape == (64, 48, 3)
    assert read_video_frame(clip, 0.2, max_side=32).rgb.shape == (32, 24, 3)


def test_a_file_that_is_not_a_video_is_a_read_error(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\0" * 64)
    with pytest.raises(VideoReadError):
        read_video_frame(fake, 0.0)
