"""Writing cartoon frames: an H.264 video file at the input's timestamps with the input's audio and subtitles
remuxed untouched (`VideoFileWriter`), or a folder of PNG frames (`FrameFolderWriter`).

Timing: every output frame keeps its input frame's `pts` in the input stream's `time_base` (encoder and stream use
that time base), so the exact frame rate, variable frame rates included, and the sync with the copied audio survive.
Colour: the output is limited-range yuv420p encoded with the input's matrix and tagged with its matrix, primaries
and transfer (BT.709 for frame folders; untagged input stays untagged and uses swscale's default both ways), so
players show the input's colours. What the writer knows of the input comes from each frame's `StreamDescription`.
"""
from __future__ import annotations

import contextlib
import math
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av
import numpy as np

from core.frame_sequence import video_frame_name
from core.image_io import write_image
from core.output_marker import OUTPUT_MARKER, carries_marker
from core.video.frames import Frame, FrameSink, StreamDescription
from core.video.options import (
    VIDEO_CODECS, EncoderUnavailable, VideoOptions, VideoReadError, VideoWriteError, ffmpeg_reason,
)

OUTPUT_PIX_FMT = "yuv420p"            # what every player opens
_MUXER_OWNED_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder", "duration"}
_STREAM_TAGS_KEPT = ("language", "title", "handler_name")
# AVColorSpace values → swscale's names for the matrices it converts with
_SWS_MATRIX = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "SMPTE170M", 7: "SMPTE240M"}


def check_video_encoder(codec: str) -> None:
    """Open the encoder once on a tiny frame, so that a missing GPU encoder is reported before a batch starts."""
    if codec not in VIDEO_CODECS:
        raise EncoderUnavailable(f"unknown video codec {codec!r}: use one of {', '.join(VIDEO_CODECS)}")
    try:
        context = av.CodecContext.create(codec, "w")
        context.width, context.height, context.pix_fmt = 256, 256, OUTPUT_PIX_FMT
        context.time_base = Fraction(1, 25)
        context.open()
    except (av.FFmpegError, ValueError) as exc:
        hint = " (it needs an NVIDIA GPU, its driver and NVENC)" if codec == "h264_nvenc" else ""
        raise EncoderUnavailable(f"the {codec} encoder cannot be opened on this machine{hint}: {exc}") from exc


class FrameFolderWriter(FrameSink):
    """PNG frames (alpha kept for frame folders that have it), named after the input frames or frame_000001.png…"""

    def __init__(self, folder: Path, digits: int):
        self.folder = folder
        self.digits = digits
        self.count = 0

    def write(self, frame: Frame, cartoon: np.ndarray) -> None:
        self.count += 1
        name = frame.name or video_frame_name(self.count, self.digits)
        write_image(self.folder / name, cartoon.astype(np.float32) / 255.0, frame.alpha, "png")


class VideoFileWriter(FrameSink):
    """H.264 video at the input's timestamps, plus the input's audio and subtitle packets copied untouched.

    The container is opened at once, the streams on the first frame (when the output size and the input's stream
    description are known). Audio and subtitle packets come from a second demuxer over the input and are muxed up
    to each video frame's time, so the file is interleaved as it is written."""

    def __init__(self, path: Path, options: VideoOptions, notes: list[str], threads: int = 0):
        self.path = path
        self.options = options
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
            raise VideoWriteError(f"cannot create the output file ({ffmpeg_reason(exc)})") from exc

    def __enter__(self) -> "VideoFileWriter":
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
        described = frame.stream or StreamDescription.fixed_rate(1 / frame.time_base)
        rate = described.rate or Fraction(25)
        codec_options = {"crf": str(options.crf), "preset": options.preset}
        if options.codec == "h264_nvenc":
            codec_options = {"rc": "vbr", "cq": str(options.crf), "b": "0", "preset": "p5"}
        if self.path.suffix.lower() == ".avi":
            codec_options["bf"] = "0"  # AVI stores one frame per tick in decode order: no reordered (B) frames
        try:
            stream = self.container.add_stream(options.codec, rate=rate, options=codec_options)
        except (av.FFmpegError, ValueError) as exc:
            raise VideoWriteError(f"cannot add a {options.codec} stream to {self.path.suffix} ({exc})") from exc
        stream.width, stream.height, stream.pix_fmt = width, height, OUTPUT_PIX_FMT
        stream.codec_context.thread_count = self.threads
        stream.time_base = frame.time_base
        stream.codec_context.time_base = frame.time_base
        colour = described.colour_tags()
        self.matrix = _SWS_MATRIX.get(described.colorspace)
        if self.matrix is None:
            colour = {}  # untagged input, decoded with swscale's default matrix: encode with it, leave untagged
        for name, value in colour.items():
            setattr(stream.codec_context, name, value)
        stream.codec_context.color_range = 1  # limited ("MPEG") range, what yuv420p players expect
        if described.sample_aspect_ratio:
            stream.codec_context.sample_aspect_ratio = described.sample_aspect_ratio
        self.stream, self.size = stream, (height, width)
        self._add_side_streams(described)
        self.container.metadata.update({key: value for key, value in described.tags
                                        if key.lower() not in _MUXER_OWNED_TAGS})
        self._mark_as_ours()

    def _mark_as_ours(self) -> None:
        """Our marker in the container's comment (after the input's own comment, if any)."""
        metadata = self.container.metadata
        key = next((k for k in metadata if k.lower() == "comment"), "comment")
        earlier = metadata.get(key, "")
        metadata[key] = f"{earlier}\n{OUTPUT_MARKER}" if earlier and not carries_marker(earlier) else OUTPUT_MARKER

    def _add_side_streams(self, described: StreamDescription) -> None:
        """Audio and subtitle streams copied as they are; one the container cannot hold is left out, with a note.
        A second demuxer over the input supplies both the stream templates and the packets."""
        if described.source is None or not described.side_streams:
            return
        self.side_input = av.open(str(described.source), metadata_errors="ignore")
        for index in described.side_streams:
            in_stream = self.side_input.streams[index]
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
        if not self.side_map:
            self.side_input.close()
            self.side_input = None
            return
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
        picture = picture.reformat(format=OUTPUT_PIX_FMT, dst_colorspace=self.matrix, dst_color_range="MPEG")
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
