"""One still frame of a video file at a chosen time, for previews: the GUI shows a frame before and after
cartoonizing without running the whole video job.

It reads through `core.video_io`'s own reader, so a preview frame is decoded exactly as the job will decode it
(upright after a rotation flag, the frame's own colour matrix, downscaled to `max_side` with even sides), and PyAV
stays imported by `video_io` alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.video_io import VideoReadError, _VideoFileReader


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
    with _VideoFileReader(Path(path), max_side, threads=1) as reader:
        start_s = float((reader.stream.start_time or 0) * reader.time_base)
        duration_s = reader.expected_end_s - start_s if reader.expected_end_s else None
        wanted_s = max(0.0, time_s if duration_s is None else min(time_s, duration_s))
        target_s = start_s + wanted_s
        try:
            if wanted_s > 0:
                reader.container.seek(round(target_s / reader.time_base), stream=reader.stream, backward=True)
            chosen = chosen_s = None
            for frame in reader.container.decode(reader.stream):
                shown_s = float(frame.pts * reader.time_base) if frame.pts is not None else None
                if chosen is not None and shown_s is not None and shown_s > target_s:
                    break
                chosen, chosen_s = frame, shown_s
        except VideoReadError:
            raise
        except Exception as exc:  # PyAV's errors; only video_io names them
            raise VideoReadError(f"cannot decode a frame at {wanted_s:.2f} s ({exc})") from exc
        if chosen is None:
            raise VideoReadError("the video has no frames")
        reader._note_first_frame(chosen)  # rotation, colour and scaled size, as the job's decoder sets them
        time_shown = max(0.0, chosen_s - start_s) if chosen_s is not None else wanted_s
        return VideoFrame(reader._pixels(chosen), time_shown, duration_s)
