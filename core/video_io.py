"""Video jobs: a video file or a numbered-frame folder in; its cartoon out as a video file (H.264 with the input's
audio and subtitles remuxed untouched) or as a folder of PNG frames. The only module that imports PyAV (`av`).

Pipeline: one thread decodes frames into a bounded queue; the caller's thread cartoonizes them in batches on the
model's device; another thread (temporally smooths and) encodes them from a second bounded queue, so memory stays flat
however long the video is, and decoding and encoding overlap inference.

Timing: every output frame keeps its input frame's `pts` in the input stream's `time_base` (encoder and stream use
that time base), so the exact frame rate, variable frame rates included, and the sync with the copied audio survive.
Frames come out upright: a rotation flag (display matrix) is applied to the pixels and not written again.
Colour: decoding honours each frame's matrix and range; the output is limited-range yuv420p encoded with the input's
matrix and tagged with its matrix, primaries and transfer (BT.709 for frame folders; untagged input stays untagged and
uses swscale's default both ways), so players show the input's colours.
Output is written to a temporary file or folder and renamed on success: a cancelled or failed job leaves nothing.
"""
from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Generator, Iterator

import av
import numpy as np

from core.atomic_files import atomic_output
from core.cancel import CancelToken
from core.cartoonizer import Cartoonizer
from core.frame_sequence import (
    VIDEO_FRAME_DIGITS, FrameSequence, atomic_output_folder, find_frame_sequence, video_frame_name,
)
from core.image_io import DEFAULT_MAX_PIXELS, ImageReadError, downscale_to_max_side, read_image, write_image
from core.output_marker import OUTPUT_MARKER, carries_marker
from core.region_strength import MaskHistory
from core.temporal_smoothing import SmoothingConfig, TemporalSmoother

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".mpg", ".mpeg",
                            ".ts", ".mts", ".m2ts", ".3gp", ".ogv"})
# The same container kind; Matroska for WebM (which may not hold H.264) and for WMV/Ogg (whose audio codecs mp4
# cannot hold); mp4 for the rest.
_OUTPUT_SUFFIX = {".mp4": ".mp4", ".m4v": ".mp4", ".mov": ".mov", ".mkv": ".mkv", ".avi": ".avi",
                  ".webm": ".mkv", ".wmv": ".mkv", ".ogv": ".mkv"}
VIDEO_CODECS = ("libx264", "h264_nvenc")
DEFAULT_FRAME_FOLDER_FPS = Fraction(25)
_OUTPUT_PIX_FMT = "yuv420p"            # what every player opens
_POLL_S = 0.05                         # how often blocked threads look at cancel and failure flags
_TRUNCATION_SLACK = 0.02              # of the stated length (plus 3 frames): ending earlier is truncation
_MUXER_OWNED_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder", "duration"}
_STREAM_TAGS_KEPT = ("language", "title", "handler_name")
# AVColorSpace values → swscale's names for the matrices it converts with
_SWS_MATRIX = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "SMPTE170M", 7: "SMPTE240M"}


class VideoError(Exception):
    """A video job that cannot be done; the message is the reason a person reads."""


class VideoReadError(VideoError):
    """An input video (or frame folder) that cannot be read: not a video, no video stream, corrupt, truncated."""


class VideoWriteError(VideoError):
    """The output cannot be written, e.g. the chosen encoder cannot be opened on this machine."""


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


# --- planning helpers ----------------------------------------------------------------------------------------
def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def output_is_frame_folder(source_is_frames: bool, options: VideoOptions) -> bool:
    """Videos become frame folders with `frames_only`; frame folders become videos with `frames_as_video` (the batch
    makes frame folder jobs only then), else frame folders (temporally smoothed if asked)."""
    return not options.frames_as_video if source_is_frames else options.frames_only


def video_destination(relative: Path, source_is_frames: bool, options: VideoOptions) -> Path:
    """Where a video job's output goes (relative to the output folder): `clip.mp4` → `clip.mp4` (or the folder
    `clip/` with `frames_only`); frame folder `shot/` → `shot.mp4` (or `shot/` without `frames_as_video`)."""
    if output_is_frame_folder(source_is_frames, options):
        return relative if source_is_frames else relative.with_suffix("")
    if source_is_frames:
        return relative.with_name(relative.name + ".mp4")
    return relative.with_suffix(_OUTPUT_SUFFIX.get(relative.suffix.lower(), ".mp4"))


def video_is_ours(path: str | Path) -> bool:
    """Whether a video file carries our marker in its comment tag; False if it cannot be opened."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            return any(key.lower() == "comment" and carries_marker(value) for key, value in container.metadata.items())
    except Exception:  # any unreadable or odd file is simply not one of ours (so it is never replaced)
        return False


def check_video_encoder(codec: str) -> None:
    """Open the encoder once on a tiny frame, so that a missing GPU encoder is reported before a batch starts."""
    if codec not in VIDEO_CODECS:
        raise VideoWriteError(f"unknown video codec {codec!r}: use one of {', '.join(VIDEO_CODECS)}")
    try:
        context = av.CodecContext.create(codec, "w")
        context.width, context.height, context.pix_fmt = 256, 256, _OUTPUT_PIX_FMT
        context.time_base = Fraction(1, 25)
        context.open()
    except (av.FFmpegError, ValueError) as exc:
        hint = " (it needs an NVIDIA GPU, its driver and NVENC)" if codec == "h264_nvenc" else ""
        raise VideoWriteError(f"the {codec} encoder cannot be opened on this machine{hint}: {exc}") from exc


# --- the job --------------------------------------------------------------------------------------------------
def cartoonize_video(source: str | Path, destination: str | Path, cartoonizer: Cartoonizer,
                     options: VideoOptions = VideoOptions(), *, max_side: int | None = None,
                     max_pixels: int = DEFAULT_MAX_PIXELS, replace: bool = False,
                     cancel: CancelToken | None = None) -> Generator[FrameCount, None, VideoOutcome]:
    """Cartoonize a video file or numbered-frame folder into `destination`: a video file (its suffix picks the
    container) or a PNG frame folder, as `output_is_frame_folder` says. Yields a FrameCount after each batch and
    returns the outcome. Raises VideoReadError/VideoWriteError with a reason, or Cancelled; in every such case
    nothing is left at `destination`. An existing `destination` is an error unless `replace`, and is then replaced
    only on success."""
    source, destination = Path(source), Path(destination)
    if destination.exists() and not replace:
        raise VideoWriteError(f"{destination} already exists")
    cancel = cancel or CancelToken()
    source_is_frames = source.is_dir()
    to_frames = output_is_frame_folder(source_is_frames, options)
    notes: list[str] = []
    # Inference on the CPU already keeps every core busy: a single-threaded decoder and encoder then cost less than
    # codec threads pre-empting PyTorch's (which wait for each other); with a GPU the codecs take what they like.
    codec_threads = 1 if cartoonizer.device.type == "cpu" else 0
    with contextlib.ExitStack() as stack:
        if to_frames:
            temp = stack.enter_context(atomic_output_folder(destination, replace=replace))
        else:
            temp = stack.enter_context(atomic_output(destination))
        if source_is_frames:
            sequence = find_frame_sequence(source)
            if sequence is None:
                raise VideoReadError("not a numbered-frame folder")
            reader: FrameSource = _FrameFolderReader(sequence, options.fps or DEFAULT_FRAME_FOLDER_FPS,
                                                      max_side, max_pixels)
        else:
            reader = stack.enter_context(_VideoFileReader(source, max_side, codec_threads))
        if to_frames:
            digits = max(VIDEO_FRAME_DIGITS, len(str(reader.frames_total or 0)))
            sink: FrameSink = _FrameFolderWriter(temp, digits)
        else:
            sink = stack.enter_context(_VideoFileWriter(temp, options, reader, notes, codec_threads))
        frames = yield from run_frame_pipeline(reader, sink, cartoonizer, options, cancel)
    return VideoOutcome(frames, tuple(notes))


# --- pipeline -------------------------------------------------------------------------------------------------
@dataclass
class Frame:
    """One decoded frame: `rgb` (H, W, 3) uint8, upright; `pts`/`duration` in `time_base` units."""

    rgb: np.ndarray
    pts: int
    time_base: Fraction
    duration: int = 0
    alpha: np.ndarray | None = None     # (H, W) float32 [0, 1], frame folders only
    name: str | None = None             # output file name, frame folders only


class FrameSource:
    frames_total: int | None

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError


class FrameSink:
    def write(self, frame: Frame, cartoon: np.ndarray) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Called once after the last frame (flush encoders, copy what is left of other streams)."""


_END = object()


@dataclass
class _Failure:
    error: BaseException


def run_frame_pipeline(reader: FrameSource, sink: FrameSink, cartoonizer: Cartoonizer, options: VideoOptions,
                       cancel: CancelToken) -> Generator[FrameCount, None, int]:
    """Decode thread → bounded queue → batched inference here → bounded queue → encode thread (videos, frame folders
    and animated pictures alike). Returns the number of frames written. Both threads are stopped and joined before
    this returns or raises, so the caller may close the containers they used."""
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=max(1, options.queue_frames))
    to_encode: queue.Queue = queue.Queue(maxsize=max(1, options.queue_frames))
    encoder_failed: list[BaseException] = []
    encoder_finished = threading.Event()
    smoother = TemporalSmoother(options.smoothing) if options.temporal_smoothing else None
    history = MaskHistory()   # the region-strength mask, smoothed over this video's frames

    def decode() -> None:
        frames = reader.frames()
        try:
            for frame in frames:
                if not _put(decoded, frame, stop):
                    return
            _put(decoded, _END, stop)
        except BaseException as exc:  # handed to the inference loop, which raises it in the caller's thread
            _put(decoded, _Failure(exc), stop)
        finally:
            frames.close()  # here, while the container is still open, not later by the garbage collector

    def encode() -> None:
        try:
            while not stop.is_set():
                try:
                    item = to_encode.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                if item is _END:
                    sink.finish()
                    encoder_finished.set()
                    return
                frame, cartoon = item
                if smoother is not None:
                    cartoon = smoother.smooth(frame.rgb, cartoon)
                sink.write(frame, cartoon)
        except BaseException as exc:
            encoder_failed.append(exc)
            stop.set()

    def check() -> None:
        cancel.raise_if_cancelled()
        if encoder_failed:
            raise encoder_failed[0]

    def hand_over(item: object) -> None:
        while not _put(to_encode, item, stop, timeout_s=_POLL_S):
            check()
            if stop.is_set():
                raise RuntimeError("the video encoder stopped")

    def next_decoded() -> Any:
        while True:
            try:
                item = decoded.get(timeout=_POLL_S)
            except queue.Empty:
                check()
                continue
            if isinstance(item, _Failure):
                raise item.error
            return item

    threads = [threading.Thread(target=decode, name="video-decoder", daemon=True),
               threading.Thread(target=encode, name="video-encoder", daemon=True)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    done, total = 0, reader.frames_total
    try:
        carried: Frame | None = None
        ended = False
        while not ended:
            batch = [carried] if carried is not None else []
            carried = None
            while len(batch) < max(1, options.batch_frames):
                item = next_decoded()
                if item is _END:
                    ended = True
                    break
                if batch and item.rgb.shape != batch[0].rgb.shape:
                    carried = item  # a batch holds frames of one size; this one starts the next
                    break
                batch.append(item)
            if not batch:
                continue
            check()
            cartoons = cartoonizer.cartoonize_batch(np.stack([frame.rgb for frame in batch]), cancel, history)
            for frame, cartoon in zip(batch, cartoons):
                hand_over((frame, cartoon))
            done += len(batch)
            elapsed = time.perf_counter() - started
            fps = done / elapsed if elapsed > 0 else 0.0
            if total is not None and done > total:
                total = done
            eta = (total - done) / fps if total is not None and fps > 0 else None
            yield FrameCount(done, total, fps, eta)
        if done == 0:
            raise VideoReadError("the video stream holds no decodable frames")
        hand_over(_END)
        while not encoder_finished.wait(_POLL_S):
            check()
            if stop.is_set():
                raise RuntimeError("the video encoder stopped")
        return done
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _put(target: queue.Queue, item: object, stop: threading.Event, timeout_s: float | None = None) -> bool:
    """Put `item`, waiting while the queue is full; False if `stop` was set (or `timeout_s` passed) first."""
    deadline = None if timeout_s is None else time.perf_counter() + timeout_s
    while not stop.is_set():
        try:
            target.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            if deadline is not None and time.perf_counter() >= deadline:
                return False
    return False


# --- reading --------------------------------------------------------------------------------------------------
class _VideoFileReader(FrameSource):
    """The first video stream of a file, decoded to upright uint8 RGB frames (downscaled to `max_side`)."""

    def __init__(self, path: Path, max_side: int | None, threads: int = 0):
        self.path = path
        self.max_side = max_side
        try:
            self.container = av.open(str(path), metadata_errors="ignore")
        except FileNotFoundError as exc:
            raise VideoReadError("file not found") from exc
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise VideoReadError("not a readable video: the file is not a video, or is damaged or truncated so "
                                 f"that its header or index is missing ({_ffmpeg_reason(exc)})") from exc
        try:
            if not self.container.streams.video:
                kinds = sorted({stream.type for stream in self.container.streams}) or ["no"]
                raise VideoReadError(f"no video stream in this file (it has {', '.join(kinds)} streams)")
            self.stream = self.container.streams.video[0]
            if self.stream.codec_context is None:
                raise VideoReadError(f"the video codec ({self.stream.codec.name}) cannot be decoded by this build")
            self.stream.thread_type = "AUTO"
            self.stream.codec_context.thread_count = threads   # 0: FFmpeg's choice
            self._check_index_fits_file()
        except BaseException:
            self.container.close()
            raise
        self.time_base: Fraction = self.stream.time_base or Fraction(1, 90000)
        self.rate: Fraction | None = self.stream.average_rate or self.stream.guessed_rate
        self.side_streams = [stream for stream in self.container.streams
                             if stream.type in ("audio", "subtitle")]
        self.metadata = dict(self.container.metadata)
        self.fixed_rate_only = "avi" in self.container.format.name.split(",")
        self.expected_end_s = self._expected_end_s()
        self.frames_total = self._frames_total()
        self.colour: dict[str, int] = {}
        self.sample_aspect_ratio: Fraction | None = None

    def __enter__(self) -> "_VideoFileReader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.container.close()

    def _frames_total(self) -> int | None:
        if self.stream.frames:
            return int(self.stream.frames)
        if self.expected_end_s and self.rate:
            return max(1, round(self.expected_end_s * float(self.rate)))
        return None

    def _expected_end_s(self) -> float | None:
        """When the header says the video ends: stream start + duration, a Matroska DURATION tag, or (for a file with
        only a video stream) the container's duration."""
        start = float((self.stream.start_time or 0) * self.time_base)
        if self.stream.duration:
            return start + float(self.stream.duration * self.time_base)
        tag = self.stream.metadata.get("DURATION") or self.stream.metadata.get("duration")
        if tag:
            with contextlib.suppress(ValueError):
                hours, minutes, seconds = tag.split(":")
                return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        if len(self.container.streams) == 1 and self.container.duration:
            return self.container.duration / av.time_base
        return None

    def frames(self) -> Iterator[Frame]:
        """Frames in presentation order. Each frame's duration is the gap to the next one (a packet's duration is
        a decode-order gap in containers such as mp4); the last one lasts until the stream's stated end."""
        decoded = 0
        nominal = self._nominal_duration()
        held: Frame | None = None   # one frame of look-ahead, to know its presentation duration
        try:
            for frame in self.container.decode(self.stream):
                if decoded == 0:
                    self._note_first_frame(frame)
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
                held = Frame(self._pixels(frame), pts, self.time_base, frame.duration or nominal)
        except av.FFmpegError as exc:
            raise VideoReadError(f"corrupt or truncated video data after {decoded} frame(s) "
                                 f"({_ffmpeg_reason(exc)})") from exc
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

    def _note_first_frame(self, frame: av.VideoFrame) -> None:
        self.rotation_quarters = round(frame.rotation / 90) % 4 if frame.rotation else 0
        self.colour = {"colorspace": frame.colorspace, "color_primaries": frame.color_primaries,
                       "color_trc": frame.color_trc}
        sar = self.stream.codec_context.sample_aspect_ratio
        if sar and sar != 1:
            self.sample_aspect_ratio = Fraction(1, 1) / sar if self.rotation_quarters % 2 else Fraction(sar)
        coded_w, coded_h = frame.width, frame.height
        shown_w, shown_h = (coded_h, coded_w) if self.rotation_quarters % 2 else (coded_w, coded_h)
        self.scaled_size: tuple[int, int] | None = None
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


class _FrameFolderReader(FrameSource):
    """A numbered-frame folder, read in order at a fixed frame rate (frame i at i / fps)."""

    def __init__(self, sequence: FrameSequence, fps: Fraction, max_side: int | None, max_pixels: int):
        self.sequence = sequence
        self.time_base = 1 / Fraction(fps)
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
            yield Frame(rgb, index, self.time_base, 1, image.alpha, path.with_suffix(".png").name)


def _even(value: float) -> int:
    return max(2, int(round(value)) // 2 * 2)


def _ffmpeg_reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


# --- writing --------------------------------------------------------------------------------------------------
class _FrameFolderWriter(FrameSink):
    """PNG frames (alpha kept for frame folders that have it), named after the input frames or frame_000001.png…"""

    def __init__(self, folder: Path, digits: int):
        self.folder = folder
        self.digits = digits
        self.count = 0

    def write(self, frame: Frame, cartoon: np.ndarray) -> None:
        self.count += 1
        name = frame.name or video_frame_name(self.count, self.digits)
        write_image(self.folder / name, cartoon.astype(np.float32) / 255.0, frame.alpha, "png")


class _VideoFileWriter(FrameSink):
    """H.264 video at the input's timestamps, plus the input's audio and subtitle packets copied untouched.

    The container is opened at once, the streams on the first frame (when the output size is known). Audio and
    subtitle packets come from a second demuxer over the input and are muxed up to each video frame's time, so the
    file is interleaved as it is written."""

    def __init__(self, path: Path, options: VideoOptions, reader: FrameSource, notes: list[str], threads: int = 0):
        self.path = path
        self.options = options
        self.reader = reader
        self.notes = notes
        self.threads = threads
        self.stream: Any = None
        self.size: tuple[int, int] | None = None
        self.side_input: Any = None
        self.side_map: dict[int, Any] = {}
        self.side_packets: Iterator[Any] | None = None
        self.pending: Any = None
        self.held: Any = None                   # the last encoded video packet, not yet muxed
        self.first_pts: int | None = None
        self.first_dts: int | None = None
        self.end_pts = 0
        self.alpha_noted = False
        self.odd_size_noted = False
        container_options = {"movflags": "+faststart"} if path.suffix.lower() in (".mp4", ".mov") else {}
        try:
            self.container = av.open(str(path), "w", options=container_options)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise VideoWriteError(f"cannot create the output file ({_ffmpeg_reason(exc)})") from exc

    def __enter__(self) -> "_VideoFileWriter":
        return self

    def __exit__(self, exc_type: type | None, *exc_info: object) -> None:
        try:
            with contextlib.suppress(*(() if exc_type is None else (av.FFmpegError, OSError))):
                self.container.close()   # on a failure the file is deleted anyway: keep the original error
        finally:
            if self.side_input is not None:
                self.side_input.close()

    # --- set-up on the first frame -------------------------------------------------------------------------
    def _start(self, frame: Frame, height: int, width: int) -> None:
        options = self.options
        reader = self.reader
        from_video = isinstance(reader, _VideoFileReader)
        rate = (reader.rate if from_video else 1 / frame.time_base) or Fraction(25)
        codec_options = {"crf": str(options.crf), "preset": options.preset}
        if options.codec == "h264_nvenc":
            codec_options = {"rc": "vbr", "cq": str(options.crf), "b": "0", "preset": "p5"}
        if self.path.suffix.lower() == ".avi":
            codec_options["bf"] = "0"  # AVI stores one frame per tick in decode order: no reordered (B) frames
        try:
            stream = self.container.add_stream(options.codec, rate=rate, options=codec_options)
        except (av.FFmpegError, ValueError) as exc:
            raise VideoWriteError(f"cannot add a {options.codec} stream to {self.path.suffix} ({exc})") from exc
        stream.width, stream.height, stream.pix_fmt = width, height, _OUTPUT_PIX_FMT
        stream.codec_context.thread_count = self.threads
        stream.time_base = frame.time_base
        stream.codec_context.time_base = frame.time_base
        colour = reader.colour if from_video else {"colorspace": 1, "color_primaries": 1, "color_trc": 1}
        self.matrix = _SWS_MATRIX.get(colour.get("colorspace", 2))
        if self.matrix is None:
            colour = {}  # untagged input, decoded with swscale's default matrix: encode with it, leave untagged
        for name, value in colour.items():
            setattr(stream.codec_context, name, value)
        stream.codec_context.color_range = 1  # limited ("MPEG") range, what yuv420p players expect
        if from_video and reader.sample_aspect_ratio:
            stream.codec_context.sample_aspect_ratio = reader.sample_aspect_ratio
        self.stream, self.size = stream, (height, width)
        if from_video:
            self._add_side_streams(reader)
            self.container.metadata.update({key: value for key, value in reader.metadata.items()
                                            if key.lower() not in _MUXER_OWNED_TAGS})
        self._mark_as_ours()

    def _mark_as_ours(self) -> None:
        """Our marker in the container's comment (after the input's own comment, if any)."""
        metadata = self.container.metadata
        key = next((k for k in metadata if k.lower() == "comment"), "comment")
        earlier = metadata.get(key, "")
        metadata[key] = f"{earlier}\n{OUTPUT_MARKER}" if earlier and not carries_marker(earlier) else OUTPUT_MARKER

    def _add_side_streams(self, reader: _VideoFileReader) -> None:
        """Audio and subtitle streams copied as they are; one the container cannot hold is left out, with a note."""
        for in_stream in reader.side_streams:
            codec_name = in_stream.codec.name if in_stream.codec else "unknown"
            try:
                out_stream = self.container.add_stream_from_template(in_stream)
            except (av.FFmpegError, ValueError) as exc:
                self.notes.append(f"{in_stream.type} stream #{in_stream.index} ({codec_name}) cannot be stored in "
                                  f"{self.path.suffix} without re-encoding, so it was left out ({exc})")
                continue
            for key in _STREAM_TAGS_KEPT:
                if key in in_stream.metadata:
                    out_stream.metadata[key] = in_stream.metadata[key]
            with contextlib.suppress(AttributeError, ValueError, TypeError):
                out_stream.disposition = in_stream.disposition
            self.side_map[in_stream.index] = out_stream
        if self.side_map:
            self.side_input = av.open(str(reader.path), metadata_errors="ignore")
            wanted = [self.side_input.streams[index] for index in self.side_map]
            self.side_packets = iter(self.side_input.demux(wanted))
            self._advance_side()

    # --- frames ----------------------------------------------------------------------------------------------
    def write(self, frame: Frame, cartoon: np.ndarray) -> None:
        height, width = cartoon.shape[0] // 2 * 2, cartoon.shape[1] // 2 * 2   # yuv420p needs even sides
        if self.stream is None:
            self._start(frame, height, width)
        elif (height, width) != self.size:
            raise VideoReadError(f"frame {frame.name or frame.pts} is {cartoon.shape[1]}×{cartoon.shape[0]}, but "
                                 f"the video is {self.size[1]}×{self.size[0]}: a video needs frames of one size")
        if (height, width) != cartoon.shape[:2] and not self.odd_size_noted:
            self.odd_size_noted = True
            self.notes.append(f"the {cartoon.shape[1]}×{cartoon.shape[0]} frames were stored as {width}×{height}: "
                              "H.264 in yuv420p, the form every player opens, needs even sides (its crop unit is 2 "
                              "pixels), so the last odd column/row was left out; --frames-only keeps the exact size")
        if frame.alpha is not None and not self.alpha_noted:
            self.alpha_noted = True
            self.notes.append("the frames' transparency (alpha) was dropped: an H.264 video cannot hold it")
        pixels = np.ascontiguousarray(cartoon[:height, :width])
        picture = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        picture = picture.reformat(format=_OUTPUT_PIX_FMT, dst_colorspace=self.matrix, dst_color_range="MPEG")
        picture.pts = frame.pts
        picture.time_base = frame.time_base
        if frame.duration:
            picture.duration = frame.duration
        if self.first_pts is None:
            self.first_pts = frame.pts
        self.end_pts = frame.pts + (frame.duration or 1)
        self._mux_side_until(float(frame.pts * frame.time_base))
        self._mux_video(self.stream.encode(picture))

    def finish(self) -> None:
        if self.stream is not None:
            self._mux_video(self.stream.encode())   # flush the encoder's delayed frames
            if self.held is not None:
                self._mux_last_video_packet(self.held)
        self._mux_side_until(math.inf)

    def _mux_video(self, packets: list) -> None:
        """Mux encoded packets one behind, so that the last one can be given its true duration."""
        for packet in packets:
            if self.first_dts is None:
                self.first_dts = packet.dts
            if self.held is not None:
                self.container.mux(self.held)
            self.held = packet

    def _mux_last_video_packet(self, packet: Any) -> None:
        """The last packet (in decode order) sets where the stream ends (mp4: last dts + duration): make that the
        last frame's end, or encoders fill in one nominal frame and a variable-rate video would change length."""
        if None not in (packet.dts, self.first_dts, self.first_pts):
            ending = (self.end_pts - self.first_pts) - (packet.dts - self.first_dts)
            if ending > 0:
                packet.duration = ending
        self.container.mux(packet)

    # --- other streams ---------------------------------------------------------------------------------------
    def _advance_side(self) -> None:
        """The next copyable packet of the other streams, or None at the end."""
        self.pending = None
        for packet in self.side_packets or ():
            if packet.dts is None and (packet.pts is None or packet.size == 0):
                continue  # the demuxer's empty flush packets
            if packet.dts is None:
                packet.dts = packet.pts  # audio and subtitles are not reordered: decode time is presentation time
            self.pending = packet
            return

    def _mux_side_until(self, time_s: float) -> None:
        while self.pending is not None and float(self.pending.dts * self.pending.time_base) <= time_s:
            packet = self.pending
            packet.stream = self.side_map[packet.stream_index]
            self.container.mux(packet)
            self._advance_side()
