"""Reading frames: a video file's first video stream (`VideoFileReader`) or a numbered-frame folder
(`FrameFolderReader`), as upright uint8 RGB frames with their timestamps.

Frames come out upright: a rotation flag (display matrix) is applied to the pixels. Colour: decoding honours each
frame's matrix and range. The video reader hands a `StreamDescription` (rate, colour, aspect, tags, copyable
streams) to the writer with every frame. Besides the pipeline's `frames()`, it offers `decoded_frames()`, every
frame with its time and pixels converted only on request (for analysis such as key-frame extraction), and
`frame_at(time_s)` (for previews), both decoded exactly as a job decodes them.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av
import numpy as np

from core.frame_sequence import FrameSequence
from core.image_io import ImageReadError, downscale_to_max_side, read_image
from core.output_marker import carries_marker
from core.video.frames import Frame, FrameSource, StreamDescription
from core.video.options import VideoReadError, ffmpeg_reason

_TRUNCATION_SLACK = 0.02              # of the stated length (plus 3 frames): ending earlier is truncation


def video_is_ours(path: str | Path) -> bool:
    """Whether a video file carries our marker in its comment tag; False if it cannot be opened."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            return any(key.lower() == "comment" and carries_marker(value) for key, value in container.metadata.items())
    except Exception:  # any unreadable or odd file is simply not one of ours (so it is never replaced)
        return False


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame at `time_s` (seconds from the stream's start), its pixels converted only when asked, so
    that an analysis which skips most frames does not pay for them."""

    time_s: float
    _picture: Any       # av.VideoFrame

    def rgb(self, max_width_px: int | None = None) -> np.ndarray:
        """Upright (H, W, 3) uint8 RGB, area-downscaled so that the shown width is at most `max_width_px`."""
        picture = self._picture
        quarters = round(picture.rotation / 90) % 4 if picture.rotation else 0
        shown_width = picture.height if quarters % 2 else picture.width
        if max_width_px is None or shown_width <= max_width_px:
            rgb = picture.to_ndarray(format="rgb24")
        else:
            scale = max_width_px / shown_width
            width, height = max(1, round(picture.width * scale)), max(1, round(picture.height * scale))
            rgb = picture.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
        return np.ascontiguousarray(np.rot90(rgb, quarters)) if quarters else rgb   # counter-clockwise, as FFmpeg's


class VideoFileReader(FrameSource):
    """The first video stream of a file, decoded to upright uint8 RGB frames (downscaled to `max_side`).

    Use it as a context manager (it holds the file open). Raises VideoReadError with a reason a person reads: not a
    video, no video stream, an undecodable codec, or (with `require_complete`, what a job needs) an index pointing
    past the end of the file; an analysis that can use what is there passes `require_complete=False`."""

    def __init__(self, path: str | Path, max_side: int | None = None, threads: int = 0,
                 require_complete: bool = True):
        self.path = Path(path)
        self.max_side = max_side
        try:
            self.container = av.open(str(self.path), metadata_errors="ignore")
        except FileNotFoundError as exc:
            raise VideoReadError("file not found") from exc
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise VideoReadError("not a readable video: the file is not a video, or is damaged or truncated so "
                                 f"that its header or index is missing ({ffmpeg_reason(exc)})") from exc
        try:
            if not self.container.streams.video:
                kinds = sorted({stream.type for stream in self.container.streams}) or ["no"]
                raise VideoReadError(f"no video stream in this file (it has {', '.join(kinds)} streams)")
            self.stream = self.container.streams.video[0]
            if self.stream.codec_context is None:
                raise VideoReadError(f"the video codec ({self.stream.codec.name}) cannot be decoded by this build")
            self.stream.thread_type = "AUTO"
            self.stream.codec_context.thread_count = threads   # 0: FFmpeg's choice
            if require_complete:
                self._check_index_fits_file()
        except BaseException:
            self.container.close()
            raise
        self.time_base: Fraction = self.stream.time_base or Fraction(1, 90000)
        self.rate: Fraction | None = self.stream.average_rate or self.stream.guessed_rate
        self.fixed_rate_only = "avi" in self.container.format.name.split(",")
        self.start_s = float((self.stream.start_time or 0) * self.time_base)
        self.expected_end_s = self._expected_end_s()
        self.frames_total = self._frames_total()
        self.description: StreamDescription | None = None   # complete once the first frame is decoded
        self.rotation_quarters = 0
        self.scaled_size: tuple[int, int] | None = None

    def __enter__(self) -> "VideoFileReader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.container.close()

    @property
    def duration_s(self) -> float | None:
        """The video's length as its header states it (None when it states none)."""
        return self.expected_end_s - self.start_s if self.expected_end_s else None

    def _frames_total(self) -> int | None:
        if self.stream.frames:
            return int(self.stream.frames)
        if self.expected_end_s and self.rate:
            return max(1, round(self.expected_end_s * float(self.rate)))
        return None

    def _expected_end_s(self) -> float | None:
        """When the header says the video ends: stream start + duration, a Matroska DURATION tag, or (for a file with
        only a video stream) the container's duration."""
        if self.stream.duration:
            return self.start_s + float(self.stream.duration * self.time_base)
        tag = self.stream.metadata.get("DURATION") or self.stream.metadata.get("duration")
        if tag:
            with contextlib.suppress(ValueError):
                hours, minutes, seconds = tag.split(":")
                return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        if len(self.container.streams) == 1 and self.container.duration:
            return self.container.duration / av.time_base
        return None

    # --- the pipeline's frames -------------------------------------------------------------------------------
    def frames(self) -> Iterator[Frame]:
        """Frames in presentation order. Each frame's duration is the gap to the next one (a packet's duration is
        a decode-order gap in containers such as mp4); the last one lasts until the stream's stated end."""
        decoded = 0
        nominal = self._nominal_duration()
        held: Frame | None = None   # one frame of look-ahead, to know its presentation duration
        try:
            for frame in self.container.decode(self.stream):
                if decoded == 0:
                    self._note_format(frame)
                    self.description = self._describe(frame)
                pts = frame.pts if frame.pts is not None else frame.dts
                if self.fixed_rate_only:
                    pts = decoded * nominal   # AVI has no presentation times: one frame per tick from the start
                if pts is None:
                    pts = 0 if held is None else held.pts + held.duration
                if held is not None:
                    pts = max(pts, held.pts + 1)  # the encoder needs strictly increasing timestamps
                    held.duration = pts - held.pts
                    yield held
                decoded += 1
                held = Frame(self._pixels(frame), pts, self.time_base, frame.duration or nominal,
                             stream=self.description)
        except av.FFmpegError as exc:
            raise VideoReadError(f"corrupt or truncated video data after {decoded} frame(s) "
                                 f"({ffmpeg_reason(exc)})") from exc
        if held is None:
            return
        end_s = float((held.pts + held.duration) * self.time_base)
        if self.expected_end_s:
            slack_s = max(3 * float(nominal * self.time_base), _TRUNCATION_SLACK * self.expected_end_s)
            if self._header_is_exact() and end_s < self.expected_end_s - slack_s:
                raise VideoReadError(f"the video is truncated: its frames end at {end_s:.2f} s but its header says "
                                     f"{self.expected_end_s:.2f} s")
            stated = round(self.expected_end_s / self.time_base) - held.pts
            if 0 < stated <= 2 * held.duration:
                held.duration = stated
        yield held

    def _describe(self, first: av.VideoFrame) -> StreamDescription:
        """What the writer needs, from the header and the first frame (colour tags and pixel aspect)."""
        sar = self.stream.codec_context.sample_aspect_ratio
        aspect = None
        if sar and sar != 1:
            aspect = Fraction(1, 1) / sar if self.rotation_quarters % 2 else Fraction(sar)
        side = tuple(stream.index for stream in self.container.streams if stream.type in ("audio", "subtitle"))
        return StreamDescription(self.rate, first.colorspace, first.color_primaries, first.color_trc, aspect,
                                 tuple(dict(self.container.metadata).items()), self.path, side)

    # --- analysis and previews -------------------------------------------------------------------------------
    def decoded_frames(self) -> Iterator[DecodedFrame]:
        """Every frame with a timestamp, as the decoder hands them out (in presentation order), timed from the
        stream's start (or its first frame).
        Decoding stops with VideoReadError at corrupt data; the frames before it have been yielded."""
        origin: int | None = self.stream.start_time
        last_time_s = 0.0
        frames = self.container.decode(self.stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except av.FFmpegError as exc:
                raise VideoReadError(f"corrupt or truncated video data after {last_time_s:.2f} s "
                                     f"({ffmpeg_reason(exc)})") from exc
            pts = frame.pts if frame.pts is not None else frame.dts
            if pts is None:
                continue
            origin = pts if origin is None else origin
            time_s = float((pts - origin) * self.time_base)
            last_time_s = max(last_time_s, time_s)
            yield DecodedFrame(time_s, frame)

    def frame_at(self, time_s: float) -> tuple[np.ndarray, float]:
        """The frame on screen at `time_s` from the start (clamped to the video) and when it is shown: seek to the
        key-frame before it, decode forward to the last frame that starts at or before it. Its pixels are made as
        `frames()` makes them (upright, the frame's colour matrix, downscaled to `max_side` with even sides)."""
        duration_s = self.duration_s
        wanted_s = max(0.0, time_s if duration_s is None else min(time_s, duration_s))
        target_s = self.start_s + wanted_s
        try:
            if wanted_s > 0:
                self.container.seek(round(target_s / self.time_base), stream=self.stream, backward=True)
            chosen = chosen_s = None
            for frame in self.container.decode(self.stream):
                shown_s = float(frame.pts * self.time_base) if frame.pts is not None else None
                if chosen is not None and shown_s is not None and shown_s > target_s:
                    break
                chosen, chosen_s = frame, shown_s
        except Exception as exc:  # PyAV's errors
            raise VideoReadError(f"cannot decode a frame at {wanted_s:.2f} s ({exc})") from exc
        if chosen is None:
            raise VideoReadError("the video has no frames")
        self._note_format(chosen)  # rotation and scaled size, as the job's decoder sets them
        time_shown = max(0.0, chosen_s - self.start_s) if chosen_s is not None else wanted_s
        return self._pixels(chosen), time_shown

    # --- internals -------------------------------------------------------------------------------------------
    def _header_is_exact(self) -> bool:
        """Whether the header states the video's length exactly (Matroska's segment duration, AVI's frame count)
        rather than as an estimate (MPEG-TS and others guess it from the bit rate; mp4/mov are checked through their
        index instead, in `_check_index_fits_file`)."""
        return any(name in self.container.format.name for name in ("matroska", "avi"))

    def _check_index_fits_file(self) -> None:
        """An mp4/mov index (or any other) pointing past the end of the file means the file was cut short."""
        entries = self.stream.index_entries
        tail = entries[max(0, len(entries) - 64):] if len(entries) else []
        data_end = max((entry.pos + entry.size for entry in tail if entry.pos >= 0), default=0)
        file_size = self.path.stat().st_size
        if data_end > file_size:
            raise VideoReadError(f"the video is truncated: its index points to byte {data_end:,} but the file has "
                                 f"only {file_size:,} bytes")

    def _nominal_duration(self) -> int:
        if self.rate:
            return max(1, round(1 / (self.rate * self.time_base)))
        return 1

    def _note_format(self, frame: av.VideoFrame) -> None:
        """Rotation and output size, from a frame (the first, for a job)."""
        self.rotation_quarters = round(frame.rotation / 90) % 4 if frame.rotation else 0
        coded_w, coded_h = frame.width, frame.height
        shown_w, shown_h = (coded_h, coded_w) if self.rotation_quarters % 2 else (coded_w, coded_h)
        self.scaled_size = None
        if self.max_side and max(shown_w, shown_h) > self.max_side:
            scale = self.max_side / max(shown_w, shown_h)
            width, height = _even(shown_w * scale), _even(shown_h * scale)
            self.scaled_size = (height, width) if self.rotation_quarters % 2 else (width, height)

    def _pixels(self, frame: av.VideoFrame) -> np.ndarray:
        """Upright (H, W, 3) uint8 RGB, converted with the frame's own matrix and range."""
        if self.scaled_size:
            width, height = self.scaled_size
            rgb = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
        else:
            rgb = frame.to_ndarray(format="rgb24")
        if self.rotation_quarters:
            rgb = np.ascontiguousarray(np.rot90(rgb, self.rotation_quarters))   # counter-clockwise, as FFmpeg's
        return rgb


class FrameFolderReader(FrameSource):
    """A numbered-frame folder, read in order at a fixed frame rate (frame i at i / fps)."""

    def __init__(self, sequence: FrameSequence, fps: Fraction, max_side: int | None, max_pixels: int):
        self.sequence = sequence
        self.time_base = 1 / Fraction(fps)
        self.description = StreamDescription.fixed_rate(Fraction(fps))
        self.max_side = max_side
        self.max_pixels = max_pixels
        self.frames_total = len(sequence.frames)

    def frames(self) -> Iterator[Frame]:
        for index, path in enumerate(self.sequence.frames):
            try:
                image = downscale_to_max_side(read_image(path, self.max_pixels), self.max_side)
            except ImageReadError as exc:
                raise VideoReadError(f"frame {path.name}: {exc}") from exc
            rgb = (np.clip(image.rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
            yield Frame(rgb, index, self.time_base, 1, image.alpha, path.with_suffix(".png").name, self.description)


def _even(value: float) -> int:
    return max(2, int(round(value)) // 2 * 2)
