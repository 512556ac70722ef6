"""Small generated videos for the video tests (PyAV writes them: moving pictures, a sine-wave track, subtitles) and
a reader that returns what a test compares: frames, exact timestamps, streams and the raw bytes of copied packets."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np
from PIL import Image


def moving_picture(index: int, width: int, height: int, noise: float = 0.0, seed: int = 0,
                   still: bool = False) -> np.ndarray:
    """(H, W, 3) uint8: a colour gradient with a bright square that moves one step per frame (unless `still`),
    plus optional Gaussian noise of `noise` (in [0, 1] units) that differs per frame."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    picture = np.stack([x / width, y / height, 0.5 + 0.3 * np.sin(x / 7.0)], axis=2) * 200.0 + 20.0
    step = 0 if still else index
    side = max(4, min(width, height) // 4)
    left, top = (3 * step) % (width - side), (2 * step) % (height - side)
    picture[top:top + side, left:left + side] = (250.0, 240.0, 60.0)
    if noise:
        picture += np.random.default_rng(seed * 100_003 + index).normal(0.0, noise * 255.0, picture.shape)
    return np.clip(picture + 0.5, 0, 255).astype(np.uint8)


def write_clip(path: str | Path, *, frames: int = 12, size: tuple[int, int] = (64, 48), rate: Fraction = Fraction(25),
               pts: Sequence[int] | None = None, time_base: Fraction | None = None, audio: str | None = "aac",
               audio_rate: int = 48000, subtitles: str | None = None, rotation_deg: float | None = None,
               noise: float = 0.0, still: bool = False, pictures: Sequence[np.ndarray] | None = None,
               codec: str = "libx264", crf: int | None = None, container_options: dict | None = None) -> Path:
    """Write a clip: `frames` pictures of `size` (width, height) at `rate`, or at explicit `pts` in `time_base`
    (variable frame rate); a mono sine track of the clip's length in `audio` codec; an optional subtitle cue (codec
    `subtitles`, e.g. "subrip" in mkv or "mov_text" in mp4); an optional display rotation. `crf` (libx264) low keeps
    the noise that the default quality would smooth away."""
    path = Path(path)
    width, height = size
    time_base = time_base or (1 / Fraction(rate))
    pts = list(pts) if pts is not None else [round(i / (rate * time_base)) for i in range(frames)]
    end_s = float((pts[-1] + (pts[-1] - pts[-2] if len(pts) > 1 else 1)) * time_base)
    with av.open(str(path), "w", options=container_options or {}) as out:
        video = out.add_stream(codec, rate=rate, options={"crf": str(crf)} if crf is not None else None)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = time_base
        if rotation_deg is not None:
            video.set_display_rotation(rotation_deg)
        sound = out.add_stream(audio, rate=audio_rate) if audio else None
        if sound is not None:
            sound.layout = "mono"
        text = out.add_mux_stream(subtitles) if subtitles else None
        for i, stamp in enumerate(pts):
            picture = pictures[i] if pictures is not None else moving_picture(i, width, height, noise, still=still)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = stamp, time_base
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None:
            _write_sine(out, sound, audio_rate, end_s)
        if text is not None:
            cue = b"Hello from the test"
            payload = len(cue).to_bytes(2, "big") + cue if subtitles == "mov_text" else cue
            packet = av.Packet(payload)
            packet.stream, packet.time_base = text, Fraction(1, 1000)
            packet.pts = packet.dts = 100
            packet.duration = 300
            out.mux(packet)
    return path


def _write_sine(out: av.container.OutputContainer, stream: av.AudioStream, sample_rate: int, seconds: float) -> None:
    total = int(seconds * sample_rate)
    block = 1024
    for start in range(0, total, block):
        n = min(block, total - start)
        t = np.arange(start, start + n) / sample_rate
        samples = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None]   # (1, n) planar mono
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = sample_rate, start, Fraction(1, sample_rate)
        out.mux(stream.encode(frame))
    out.mux(stream.encode())


def write_frame_folder(folder: str | Path, count: int = 10, size: tuple[int, int] = (64, 48), prefix: str = "frame_",
                       digits: int = 4, first: int = 1, suffix: str = ".png") -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{prefix}{first + i:0{digits}d}{suffix}"
        Image.fromarray(moving_picture(i, *size)).save(path)
        paths.append(path)
    return paths


@dataclass
class StreamPackets:
    codec: str
    type: str
    times: list[Fraction] = field(default_factory=list)      # pts in seconds
    payloads: list[bytes] = field(default_factory=list)


@dataclass
class ClipInfo:
    """What a test compares between an input and an output video."""

    width: int                    # as displayed (rotation applied)
    height: int
    coded_size: tuple[int, int]   # (width, height) as stored
    rotation: int                 # the first frame's display rotation, degrees counter-clockwise
    average_rate: Fraction | None
    frame_times: list[Fraction]   # pts of every decoded frame, in seconds
    frames: list[np.ndarray]      # (H, W, 3) uint8 as stored (not rotated)
    duration_s: float | None      # container duration
    video_codec: str
    pix_fmt: str
    other: dict[int, StreamPackets]


def read_clip(path: str | Path) -> ClipInfo:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frame_times, frames, rotation = [], [], 0
        for index, frame in enumerate(container.decode(stream)):
            if index == 0:
                rotation = frame.rotation
            frame_times.append(frame.pts * stream.time_base)
            frames.append(frame.to_ndarray(format="rgb24"))
        coded = (stream.codec_context.width, stream.codec_context.height)
        info = ClipInfo(
            width=coded[1] if rotation % 180 else coded[0], height=coded[0] if rotation % 180 else coded[1],
            coded_size=coded, rotation=rotation, average_rate=stream.average_rate, frame_times=frame_times,
            frames=frames, duration_s=container.duration / av.time_base if container.duration else None,
            video_codec=stream.codec_context.name, pix_fmt=stream.codec_context.pix_fmt, other={},
        )
    with av.open(str(path)) as container:
        others = [s for s in container.streams if s.type in ("audio", "subtitle")]
        for s in others:
            info.other[s.index] = StreamPackets(s.codec.name, s.type)
        if others:
            for packet in container.demux(others):
                if packet.size == 0:
                    continue
                record = info.other[packet.stream_index]
                record.times.append(packet.pts * packet.time_base)
                record.payloads.append(bytes(packet))
    return info
