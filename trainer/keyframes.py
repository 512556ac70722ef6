"""Key-frames from a user's cartoon videos, for the cartoon side of a training set: one sharp frame per scene,
near-duplicates dropped.

Per video: frames are decoded with PyAV and analysed every `sample_every_s`. A colour-histogram distance between
consecutive analysed frames above `scene_threshold` starts a new scene. Each scene of at least `min_scene_s` offers
one frame: its first analysed frame, or a later one at least `SHARPER_BY` times sharper (variance of the
Laplacian), which skips motion blur and cross-fades while holding only one full-size frame. An offered frame is
dropped when it is nearly blank, within `min_spacing_s` of the video's previous key-frame, or a near-duplicate of a
frame already kept in this call, from any video (dHash Hamming distance ≤ `hash_distance` *and* similar colours, so
the same layout in another palette is kept). Kept frames are written atomically (`core.image_io.write_image`) as
`<video stem>_<milliseconds from the start, 8 digits>.png` (or .jpg).

Frames come from the engine's own reader (`core.video.VideoFileReader.decoded_frames`), converted to pixels
only for the analysed ones.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generator, Iterable

import cv2
import numpy as np

from core.cancel import CancelToken
from core.image_io import write_image
from core.steps import drain
from core.video import DecodedFrame, VideoFileReader, VideoReadError

log = logging.getLogger(__name__)

ANALYSIS_WIDTH_PX = 320        # sharpness is measured at this width; histograms and hashes on smaller copies
HISTOGRAM_WIDTH_PX = 64
HISTOGRAM_BINS = 8             # per channel: 8³ joint RGB bins, soft-assigned so noise moves mass gradually
BLANK_STD = 4.0 / 255.0        # grey standard deviation below which a frame is blank (fades, black frames)
SHARPER_BY = 1.25              # a later frame of a scene replaces the candidate only if this much sharper
TIME_TOLERANCE_S = 1e-3        # timestamps this close count as equal (float rounding of pts × time_base)
_FORMAT_SUFFIX = {"png": ".png", "jpeg": ".jpg"}


@dataclass(frozen=True)
class KeyframeOptions:
    """How key-frames are found; the defaults suit 24–30 fps animation."""

    sample_every_s: float = 0.2        # analyse at most 5 frames per second (0: every frame)
    scene_threshold: float = 0.35      # histogram distance in [0, 1] between analysed frames that starts a scene
    min_scene_s: float = 0.5           # shorter scenes (flashes, transitions) offer no key-frame
    hash_distance: int = 10            # of 64 dHash bits; at or below it (with similar colours) = near-duplicate
    min_spacing_s: float = 0.0         # between key-frames of one video (0: no minimum)
    max_per_video: int | None = None   # stop a video after this many key-frames
    image_format: str = "png"          # "png" or "jpeg"
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if self.image_format not in _FORMAT_SUFFIX:
            raise ValueError(f"image_format must be png or jpeg, got {self.image_format!r}")
        if self.sample_every_s < 0 or self.min_scene_s < 0 or self.min_spacing_s < 0:
            raise ValueError("sample_every_s, min_scene_s and min_spacing_s must not be negative")
        if self.max_per_video is not None and self.max_per_video < 1:
            raise ValueError(f"max_per_video must be at least 1 (or None), got {self.max_per_video}")
        if not 0.0 < self.scene_threshold <= 1.0:
            raise ValueError(f"scene_threshold must be in (0, 1], got {self.scene_threshold}")


@dataclass
class VideoKeyframes:
    """What happened to one video: how many frames were analysed and why offered frames were dropped."""

    video: Path
    kept: list[Path] = field(default_factory=list)
    analysed_frames: int = 0
    scenes: int = 0
    too_short: int = 0
    blank: int = 0
    too_close: int = 0
    near_duplicates: int = 0
    error: str | None = None           # why the video could not be read (to the end)


@dataclass
class KeyframeSummary:
    videos: list[VideoKeyframes] = field(default_factory=list)

    @property
    def kept(self) -> list[Path]:
        return [path for video in self.videos for path in video.kept]

    @property
    def failed(self) -> dict[Path, str]:
        return {video.video: video.error for video in self.videos if video.error}


@dataclass(frozen=True)
class KeyframeProgress:
    """Yielded after each analysed frame."""

    video: Path
    video_index: int                   # 0-based
    videos_total: int
    position_s: float
    duration_s: float | None
    kept_total: int


# --- frame signatures -----------------------------------------------------------------------------------------------
def colour_histogram(rgb: np.ndarray, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """(H, W, 3) uint8 → joint RGB histogram of `bins`³ cells summing to 1, each value spread linearly over its two
    nearest bin centres (so a small change of colour moves a small amount of mass)."""
    position = rgb.reshape(-1, 3).astype(np.float32) * ((bins - 1) / 255.0)     # (P, 3) in [0, bins-1]
    lower = np.minimum(np.floor(position).astype(np.int64), bins - 2)
    upper_share = position - lower                                               # (P, 3) in [0, 1]
    histogram = np.zeros(bins ** 3, dtype=np.float64)
    for corner in range(8):
        offsets = np.array([(corner >> axis) & 1 for axis in range(3)])
        share = np.prod(np.where(offsets, upper_share, 1.0 - upper_share), axis=1)
        cells = lower + offsets
        np.add.at(histogram, (cells[:, 0] * bins + cells[:, 1]) * bins + cells[:, 2], share)
    return histogram / histogram.sum()


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance in [0, 1]: the share of colour mass that must move to turn one into the other."""
    return float(0.5 * np.abs(a - b).sum())


def difference_hash(rgb: np.ndarray) -> int:
    """64-bit dHash: the grey picture shrunk to 9×8, one bit per horizontal neighbour pair (left brighter)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, :-1] > small[:, 1:]).ravel()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def hamming_distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian of a uint8 grey picture: higher for crisp lines, lower for blur and fades."""
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


@dataclass
class _Candidate:
    """The best analysed frame of the current scene so far."""

    time_s: float
    sharpness: float
    rgb: np.ndarray                    # (H, W, 3) uint8, full resolution, upright
    small: np.ndarray                  # (h, HISTOGRAM_WIDTH_PX, 3) uint8
    histogram: np.ndarray
    blank: bool


@dataclass
class _Kept:
    hash: int
    histogram: np.ndarray


# --- extraction -----------------------------------------------------------------------------------------------------
def extract_keyframes(videos: Iterable[str | Path], output_dir: str | Path,
                      options: KeyframeOptions = KeyframeOptions(),
                      cancel: CancelToken | None = None) -> KeyframeSummary:
    """Write the key-frames of `videos` into `output_dir` and say what was kept and dropped. A video that cannot
    be read is reported in the summary (and logged), not raised; `Cancelled` is raised between frames."""
    return drain(extract_keyframes_steps(videos, output_dir, options, cancel))


def extract_keyframes_steps(videos: Iterable[str | Path], output_dir: str | Path,
                            options: KeyframeOptions = KeyframeOptions(), cancel: CancelToken | None = None,
                            ) -> Generator[KeyframeProgress, None, KeyframeSummary]:
    """Like `extract_keyframes`, as a generator of progress (for the GUI worker and the CLI's progress bar)."""
    videos = [Path(video) for video in videos]
    output_dir = Path(output_dir)
    summary = KeyframeSummary()
    kept: list[_Kept] = []
    used_stems: dict[str, int] = {}
    for video_index, video in enumerate(videos):
        count = used_stems.get(video.stem, 0) + 1
        used_stems[video.stem] = count
        stem = video.stem if count == 1 else f"{video.stem}-{count}"
        record = VideoKeyframes(video)
        summary.videos.append(record)
        try:
            yield from _video_keyframes(video, stem, output_dir, options, record, kept, video_index, len(videos),
                                        summary, cancel)
        except VideoReadError as exc:  # not a video, missing, damaged: the other videos still count
            record.error = str(exc)
        if record.error:
            log.warning("key-frames of %s: %s", video, record.error)
    return summary


def _video_keyframes(video: Path, stem: str, output_dir: Path, options: KeyframeOptions, record: VideoKeyframes,
                     kept: list[_Kept], video_index: int, videos_total: int, summary: KeyframeSummary,
                     cancel: CancelToken | None) -> Generator[KeyframeProgress, None, None]:
    # an analysis uses what a damaged file holds: no refusal of a file whose index points past its end
    with VideoFileReader(video, threads=0, require_complete=False) as reader:
        duration_s = reader.duration_s
        rate = reader.rate
        scan = _SceneScan(stem, output_dir, options, record, kept)
        next_sample_s = -math.inf
        frames = reader.decoded_frames()
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except VideoReadError as exc:  # keep what the readable part gave
                record.error = str(exc)
                break
            time_s = frame.time_s
            scan.last_time_s = max(scan.last_time_s, time_s)
            if time_s < next_sample_s:
                continue
            next_sample_s = time_s + options.sample_every_s - TIME_TOLERANCE_S
            if cancel:
                cancel.raise_if_cancelled()
            if not scan.analyse(frame):
                return
            yield KeyframeProgress(video, video_index, videos_total, time_s, duration_s,
                                   sum(len(v.kept) for v in summary.videos))
        scan.finish(scan.last_time_s + (1.0 / float(rate) if rate else 0.04))


class _SceneScan:
    """One video's analysed frames → scenes → the key-frames kept from them."""

    def __init__(self, stem: str, output_dir: Path, options: KeyframeOptions, record: VideoKeyframes,
                 kept: list[_Kept]):
        self.stem = stem
        self.output_dir = output_dir
        self.options = options
        self.record = record
        self.kept = kept                           # across all videos of the call
        self.scene: _Candidate | None = None       # the current scene's best frame so far
        self.scene_start_s = 0.0
        self.previous_histogram: np.ndarray | None = None
        self.last_kept_s = -math.inf
        self.last_time_s = 0.0

    def analyse(self, frame: DecodedFrame) -> bool:
        """Take one sampled frame; False once the video has its `max_per_video` key-frames."""
        self.record.analysed_frames += 1
        time_s = frame.time_s
        analysis = frame.rgb(ANALYSIS_WIDTH_PX)
        small_height = max(1, round(analysis.shape[0] * HISTOGRAM_WIDTH_PX / analysis.shape[1]))
        small = cv2.resize(analysis, (HISTOGRAM_WIDTH_PX, small_height), interpolation=cv2.INTER_AREA)
        histogram = colour_histogram(small)
        cut = (self.previous_histogram is None
               or histogram_distance(self.previous_histogram, histogram) > self.options.scene_threshold)
        self.previous_histogram = histogram
        if cut:
            if not self.finish(time_s):
                return False
            self.scene, self.scene_start_s = None, time_s
            self.record.scenes += 1
        grey = cv2.cvtColor(analysis, cv2.COLOR_RGB2GRAY)
        frame_sharpness = sharpness(grey)
        if self.scene is None or frame_sharpness > self.scene.sharpness * SHARPER_BY:
            full = frame.rgb()
            self.scene = _Candidate(time_s, frame_sharpness, full, small, histogram,
                                    float(grey.std()) / 255.0 < BLANK_STD)
        return True

    def finish(self, scene_end_s: float) -> bool:
        """Keep or drop the current scene's best frame; False once the video has enough key-frames."""
        candidate, options, record = self.scene, self.options, self.record
        self.scene = None
        if candidate is None:
            pass
        elif scene_end_s - self.scene_start_s < options.min_scene_s:
            record.too_short += 1
        elif candidate.blank:
            record.blank += 1
        elif candidate.time_s - self.last_kept_s < options.min_spacing_s - TIME_TOLERANCE_S:
            record.too_close += 1
        else:
            frame_hash = difference_hash(candidate.small)
            if any(hamming_distance(frame_hash, other.hash) <= options.hash_distance
                   and histogram_distance(candidate.histogram, other.histogram) <= options.scene_threshold
                   for other in self.kept):
                record.near_duplicates += 1
            else:
                name = f"{self.stem}_{round(candidate.time_s * 1000):08d}{_FORMAT_SUFFIX[options.image_format]}"
                path = write_image(self.output_dir / name, candidate.rgb.astype(np.float32) / 255.0,
                                   fmt=options.image_format, quality=options.jpeg_quality)
                self.kept.append(_Kept(frame_hash, candidate.histogram))
                record.kept.append(path)
                self.last_kept_s = candidate.time_s
        return options.max_per_video is None or len(record.kept) < options.max_per_video
