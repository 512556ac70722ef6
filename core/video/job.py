"""The video job: a video file or a numbered-frame folder in; its cartoon out as a video file (H.264 with the
input's audio and subtitles remuxed untouched) or as a folder of PNG frames. Picks the reader and the writer, runs
the frame pipeline between them, and says where a job's output goes.

Output is written to a temporary file or folder and renamed on success: a cancelled or failed job leaves nothing.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Generator

from core.atomic_files import atomic_output
from core.cancel import CancelToken
from core.cartoonizer import Cartoonizer
from core.frame_sequence import VIDEO_FRAME_DIGITS, atomic_output_folder, find_frame_sequence
from core.image_io import DEFAULT_MAX_PIXELS
from core.video.frames import FrameSink, FrameSource
from core.video.options import (
    DEFAULT_FRAME_FOLDER_FPS, FrameCount, VideoOptions, VideoOutcome, VideoReadError, VideoWriteError,
)
from core.video.pipeline import run_frame_pipeline
from core.video.reader import FrameFolderReader, VideoFileReader
from core.video.writer import FrameFolderWriter, VideoFileWriter

# The same container kind; Matroska for WebM (which may not hold H.264) and for WMV/Ogg (whose audio codecs mp4
# cannot hold); mp4 for the rest.
_OUTPUT_SUFFIX = {".mp4": ".mp4", ".m4v": ".mp4", ".mov": ".mov", ".mkv": ".mkv", ".avi": ".avi",
                  ".webm": ".mkv", ".wmv": ".mkv", ".ogv": ".mkv"}


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
            reader: FrameSource = FrameFolderReader(sequence, options.fps or DEFAULT_FRAME_FOLDER_FPS,
                                                     max_side, max_pixels)
        else:
            reader = stack.enter_context(VideoFileReader(source, max_side, codec_threads))
        if to_frames:
            digits = max(VIDEO_FRAME_DIGITS, len(str(reader.frames_total or 0)))
            sink: FrameSink = FrameFolderWriter(temp, digits)
        else:
            sink = stack.enter_context(VideoFileWriter(temp, options, notes, codec_threads))
        frames = yield from run_frame_pipeline(reader, sink, cartoonizer, options, cancel)
    return VideoOutcome(frames, tuple(notes))
