"""One still frame of a video file at a chosen time, for previews: the GUI shows a frame before and after
cartoonizing without running the whole video job.

It reads through the job's own reader (`core.video.VideoFileReader.frame_at`), so a preview frame is decoded exactly
as the job will decode it (upright after a rotation flag, the frame's own colour matrix, downscaled to `max_side`
with even sides).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.video import VideoFileReader


@dataclass(frozen=True)
class VideoFrame:
    """`rgb`: (H, W, 3) uint8, upright. `time_s`: when it is shown, counted from the video's first frame.
    `duration_s`: the video's length as its header states it (None when it states none)."""

    rgb: np.ndarray
    time_s: float
    duration_s: float | None


def read_video_frame(path: str | Path, time_s: float, max_side: int | None = None) -> VideoFrame:
    """The frame on screen at `time_s` (clamped to the video): seek to the key-frame before it, decode forward to
    the last frame that starts at or before it. Raises VideoReadError with a reason a person reads."""
    with VideoFileReader(Path(path), max_side, threads=1) as reader:
        rgb, shown_s = reader.frame_at(time_s)
        return VideoFrame(rgb, shown_s, reader.duration_s)
