"""What flows through the video pipeline: decoded frames, the description of the stream they come from, and the
two interfaces a reader (`FrameSource`) and a writer (`FrameSink`) implement."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

BT709 = 1           # AVColorSpace / primaries / transfer value of BT.709
UNSPECIFIED = 2     # the same, for "not stated"


@dataclass(frozen=True)
class StreamDescription:
    """What a writer needs to know about the input stream, handed over by the reader with every frame (it is
    complete once the first frame is decoded): the nominal frame rate, the colour tags (AVColorSpace values), the
    pixel aspect, the container's tags, and which other streams of `source` (audio, subtitles) may be copied."""

    rate: Fraction | None
    colorspace: int = UNSPECIFIED
    color_primaries: int = UNSPECIFIED
    color_trc: int = UNSPECIFIED
    sample_aspect_ratio: Fraction | None = None
    tags: tuple[tuple[str, str], ...] = ()
    source: Path | None = None
    side_streams: tuple[int, ...] = ()      # stream indices in `source`

    @classmethod
    def fixed_rate(cls, fps: Fraction) -> "StreamDescription":
        """Frames without a container (a frame folder): `fps`, BT.709 colour, nothing else to copy."""
        return cls(Fraction(fps), BT709, BT709, BT709)

    def colour_tags(self) -> dict[str, int]:
        return {"colorspace": self.colorspace, "color_primaries": self.color_primaries, "color_trc": self.color_trc}


@dataclass
class Frame:
    """One decoded frame: `rgb` (H, W, 3) uint8, upright; `pts`/`duration` in `time_base` units."""

    rgb: np.ndarray
    pts: int
    time_base: Fraction
    duration: int = 0
    alpha: np.ndarray | None = None     # (H, W) float32 [0, 1], frame folders only
    name: str | None = None             # output file name, frame folders only
    stream: StreamDescription | None = None   # None: frames a video writer never sees (animated pictures)


class FrameSource:
    frames_total: int | None

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError


class FrameSink:
    def write(self, frame: Frame, cartoon: np.ndarray) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Called once after the last frame (flush encoders, copy what is left of other streams)."""
