"""Animated pictures (GIF, animated WebP, APNG): every frame cartoonized, written back as an animation of the same
format with the same frame count, per-frame durations and loop count.

Frames go through the video frame pipeline (`core.video.run_frame_pipeline`): batched inference, the temporal
smoothing option and the region mask smoothed over time, exactly as for video. Pillow decodes each frame composited
onto the canvas (disposal and blending applied), so every output frame is a full picture; transparency is kept.
An animation is held in memory while it is written (animated pictures are small next to videos).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Generator, Iterator

import cv2
import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from core.atomic_files import atomic_output
from core.cancel import CancelToken
from core.cartoonizer import Cartoonizer
from core.image_io import DEFAULT_MAX_PIXELS, is_rgb_profile, marker_exif
from core.output_marker import OUTPUT_MARKER
from core.video import (
    Frame, FrameCount, FrameSink, FrameSource, VideoOptions, VideoOutcome, VideoReadError, VideoWriteError,
    run_frame_pipeline,
)

ANIMATED_SUFFIXES = frozenset({".gif", ".png", ".apng", ".webp"})
_PILLOW_FORMAT = {".gif": "GIF", ".png": "PNG", ".apng": "PNG", ".webp": "WEBP"}
_MS = Fraction(1, 1000)


@dataclass(frozen=True)
class Animation:
    """What an animated picture holds: its Pillow format, size (width, height), frame count, per-frame durations (ms)
    and loop count (None when the file states none, which GIF players read as "play once")."""

    format: str
    size: tuple[int, int]
    frames: int
    durations_ms: tuple[int, ...]
    loop: int | None


def is_animated_picture(path: str | Path) -> bool:
    """Whether `path` is a GIF, WebP or PNG with more than one frame (cheap: headers and frame boundaries only)."""
    path = Path(path)
    if path.suffix.lower() not in ANIMATED_SUFFIXES:
        return False
    try:
        with Image.open(path) as image:
            return image.format in ("GIF", "PNG", "WEBP") and bool(getattr(image, "is_animated", False))
    except Exception:  # a probe only: whatever is wrong with the file is reported when it is read as a picture
        return False


def read_animation(path: str | Path) -> Animation:
    """The animation's format, frame count, durations and loop count; VideoReadError if it cannot be read."""
    try:
        with Image.open(path) as image:
            durations = []
            for frame in ImageSequence.Iterator(image):
                frame.load()  # WebP states a frame's duration only once the frame is decoded
                durations.append(int(round(frame.info.get("duration", 0) or 0)))
            loop = image.info.get("loop")
            return Animation(image.format, image.size, len(durations), tuple(durations),
                             None if loop is None else int(loop))
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, EOFError) as exc:
        raise VideoReadError(f"corrupt or truncated animation ({exc})") from exc


def animation_suffix_for(source: Path, requested: str) -> str:
    """The output suffix of an animation: its own format unless PNG or WebP (which animate) was asked for."""
    if requested in ("png", "webp"):
        return f".{requested}"
    return ".gif" if _PILLOW_FORMAT.get(source.suffix.lower()) == "GIF" else source.suffix.lower()


def cartoonize_animation(source: str | Path, destination: str | Path, cartoonizer: Cartoonizer,
                         options: VideoOptions = VideoOptions(), *, max_side: int | None = None,
                         max_pixels: int = DEFAULT_MAX_PIXELS, quality: int = 95, replace: bool = False,
                         cancel: CancelToken | None = None) -> Generator[FrameCount, None, VideoOutcome]:
    """Cartoonize an animated picture into `destination` (its suffix picks GIF, PNG (APNG) or WebP), frame by frame
    through the video pipeline. Yields a FrameCount after each batch; the file appears only on success."""
    source, destination = Path(source), Path(destination)
    if destination.exists() and not replace:
        raise VideoWriteError(f"{destination} already exists")
    animation = read_animation(source)
    width, height = animation.size
    if width * height > max_pixels:
        raise VideoReadError(f"the animation is {width}×{height} ({width * height / 1e6:.0f} MP), above the "
                             f"{max_pixels / 1e6:.0f} MP safety limit (raise it with --max-pixels if you trust it)")
    notes: list[str] = []
    reader = _AnimationReader(source, animation, max_side)
    with atomic_output(destination) as temp:
        sink = _AnimationWriter(temp, _PILLOW_FORMAT.get(destination.suffix.lower(), "PNG"), animation, quality,
                                reader, notes)
        frames = yield from run_frame_pipeline(reader, sink, cartoonizer, options, cancel or CancelToken())
    return VideoOutcome(frames, tuple(notes))


class _AnimationReader(FrameSource):
    """Every frame, composited, as RGB uint8 (plus alpha when the picture has transparency); `pts` in ms."""

    def __init__(self, path: Path, animation: Animation, max_side: int | None):
        self.path = path
        self.animation = animation
        self.max_side = max_side
        self.frames_total = animation.frames
        self.icc_profile: bytes | None = None

    def frames(self) -> Iterator[Frame]:
        pts = 0
        try:
            with Image.open(self.path) as image:
                icc = image.info.get("icc_profile")
                self.icc_profile = icc if is_rgb_profile(icc) else None
                for index, frame in enumerate(ImageSequence.Iterator(image)):
                    rgba = np.asarray(frame.convert("RGBA"))
                    rgba = self._shrink(rgba)
                    alpha = rgba[:, :, 3].astype(np.float32) / 255.0 if (rgba[:, :, 3] < 255).any() else None
                    duration = self.animation.durations_ms[index] if index < self.animation.frames else 0
                    yield Frame(np.ascontiguousarray(rgba[:, :, :3]), pts, _MS, duration, alpha)
                    pts += max(duration, 1)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise VideoReadError(f"corrupt or truncated animation after {pts} ms ({exc})") from exc

    def _shrink(self, rgba: np.ndarray) -> np.ndarray:
        height, width = rgba.shape[:2]
        if not self.max_side or max(height, width) <= self.max_side:
            return rgba
        scale = self.max_side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return cv2.resize(rgba, size, interpolation=cv2.INTER_AREA)


class _AnimationWriter(FrameSink):
    """Collects the cartoon frames and saves them as one animation at the end, with the input's durations, loop
    count, ICC profile, and our marker."""

    def __init__(self, path: Path, pillow_format: str, animation: Animation, quality: int, reader: _AnimationReader,
                 notes: list[str]):
        self.path = path
        self.format = pillow_format
        self.animation = animation
        self.quality = quality
        self.reader = reader
        self.notes = notes
        self.frames: list[Image.Image] = []
        self.durations: list[int] = []
        self.has_alpha = False

    def write(self, frame: Frame, cartoon: np.ndarray) -> None:
        if frame.alpha is not None:
            self.has_alpha = True
            alpha = (np.clip(frame.alpha, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
            picture = Image.fromarray(np.dstack([cartoon, alpha]), "RGBA")
        else:
            picture = Image.fromarray(np.ascontiguousarray(cartoon), "RGB")
        self.frames.append(picture)
        self.durations.append(frame.duration)

    def finish(self) -> None:
        if not self.frames:
            return
        frames = [f if f.mode == "RGBA" or not self.has_alpha else f.convert("RGBA") for f in self.frames]
        options: dict = {"save_all": True, "append_images": frames[1:], "duration": self.durations}
        if self.animation.loop is not None:
            options["loop"] = self.animation.loop
        if self.reader.icc_profile and self.format != "GIF":
            options["icc_profile"] = self.reader.icc_profile
        if self.format == "GIF":
            options.update(comment=OUTPUT_MARKER.encode("utf-8"), disposal=2 if self.has_alpha else 1,
                           optimize=False)
        elif self.format == "WEBP":
            options.update(exif=marker_exif(), quality=int(self.quality), method=4, minimize_size=False,
                           allow_mixed=False)
        else:
            options.update(exif=marker_exif(), compress_level=6, disposal=0, blend=0, default_image=False)
        try:
            frames[0].save(self.path, format=self.format, **options)
        except (OSError, ValueError) as exc:
            raise VideoWriteError(f"cannot write the {self.format} animation ({exc})") from exc
        merged = _merged_frames(self.path, len(frames))
        if merged:
            self.notes.append(f"{merged} frame(s) identical to the one before were merged into it by the {self.format} "
                              "writer (the timing is kept)")


def _merged_frames(path: Path, written: int) -> int:
    try:
        with Image.open(path) as image:
            return written - getattr(image, "n_frames", 1)
    except (OSError, UnidentifiedImageError):
        return 0
