"""What a video job is asked and what it reports: the user's video options, frame progress, the outcome, the
errors a person reads, and which files are videos. Shared by CLI and GUI (through `core.batch`)."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from core.temporal_smoothing import SmoothingConfig

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".mpg", ".mpeg",
                            ".ts", ".mts", ".m2ts", ".3gp", ".ogv"})
VIDEO_CODECS = ("libx264", "h264_nvenc")
DEFAULT_FRAME_FOLDER_FPS = Fraction(25)


class VideoError(Exception):
    """A video job that cannot be done; the message is the reason a person reads."""


class VideoReadError(VideoError):
    """An input video (or frame folder) that cannot be read: not a video, no video stream, corrupt, truncated."""


class VideoWriteError(VideoError):
    """The output cannot be written, e.g. the chosen encoder cannot be opened on this machine."""


class EncoderUnavailable(VideoWriteError):
    """The chosen video encoder cannot be opened on this machine (e.g. NVENC without an NVIDIA GPU)."""


@dataclass(frozen=True)
class VideoOptions:
    """What the user chose for video jobs; shared by CLI and GUI.

    `crf`: H.264 quality (0 = lossless … 51; about 18 looks lossless), used as `cq` by h264_nvenc; `preset` is
    libx264's. `frames_only`: videos become PNG frame folders. `frames_as_video`: numbered-frame folders become one
    video each, at `fps` (default 25; without `frames_as_video` their frames are photos like any other, cartoonized
    into a mirrored folder). `batch_frames`: frames per generator pass; `queue_frames`: frames each queue holds."""

    codec: str = "libx264"
    crf: int = 18
    preset: str = "medium"
    frames_only: bool = False
    frames_as_video: bool = False
    fps: Fraction | None = None
    temporal_smoothing: bool = False
    smoothing: SmoothingConfig = SmoothingConfig()
    batch_frames: int = 4
    queue_frames: int = 8


@dataclass(frozen=True)
class FrameCount:
    """Progress within one video: frames cartoonized so far, the total (an estimate from the container for videos,
    None when it says nothing), and this job's speed and remaining time."""

    done: int
    total: int | None
    fps: float
    eta_s: float | None


@dataclass(frozen=True)
class VideoOutcome:
    frames: int
    notes: tuple[str, ...] = ()     # what a person should know, e.g. a stream the output container cannot hold


def is_video_path(path: Path) -> bool:
    """Whether `path` names a video file, by its suffix (the one set of video suffixes every layer uses)."""
    return path.suffix.lower() in VIDEO_SUFFIXES


def ffmpeg_reason(exc: BaseException) -> str:
    """The short reason an FFmpeg (PyAV) error gives, for messages a person reads."""
    return getattr(exc, "strerror", None) or str(exc)
