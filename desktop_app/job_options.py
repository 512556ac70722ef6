"""What the user chose for a job (model, device, output and video settings), as plain data the GUI edits, the
queue stores with each job and the settings file persists. Qt-free; it maps onto the engine's own options
(`BatchOptions`, with the video settings as its `core.video.VideoOptions`, and `EngineSettings`)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fractions import Fraction

from core.batch import BatchOptions
from core.batch_setup import EngineSettings
from core.devices import AUTO
from core.output_names import DEFAULT_NAME_PATTERN, NamePatternError, check_name_pattern, keeps_names_apart
from core.region_strength import RegionStrength
from core.video import DEFAULT_FRAME_FOLDER_FPS, VIDEO_CODECS, VideoError, VideoOptions, check_video_encoder

OUTPUT_FORMATS = ("same", "png", "jpeg", "webp")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


@dataclass(frozen=True)
class JobOptions:
    """Everything the GUI lets a user set for one job.

    `model` None means the default model; `output_folder` None means a `<name>_cartoon` folder beside the input,
    and `beside_inputs` the input's own folder (see `job_inputs.output_dir_for`; it needs a `name_pattern` that
    keeps the inputs' names apart); `tile_size_px` None lets the engine pick tiles from the device's memory.
    `foreground_strength` and `background_strength` (in [0, 1]) scale `strength` on people and subjects and on
    the background (the engine's region strength, with the bundled segmenter)."""

    model: str | None = None
    device: str = AUTO
    precision: str = "auto"
    output_folder: str | None = None
    output_format: str = "same"
    quality: int = 95
    max_side_px: int | None = None
    tile_size_px: int | None = None
    skip_existing: bool = True
    strength: float = 1.0
    foreground_strength: float = 1.0
    background_strength: float = 1.0
    name_pattern: str = DEFAULT_NAME_PATTERN
    beside_inputs: bool = False
    video_codec: str = VideoOptions.codec                 # the engine's video defaults
    video_crf: int = VideoOptions.crf
    temporal_smoothing: bool = VideoOptions.temporal_smoothing
    frames_as_video: bool = VideoOptions.frames_as_video
    frames_fps: float = float(DEFAULT_FRAME_FOLDER_FPS)

    def batch_options(self, output_dir: Path) -> BatchOptions:
        """The engine's options for this job, writing into `output_dir`."""
        return BatchOptions(output_dir=Path(output_dir), output_format=self.output_format, quality=self.quality,
                            existing="skip" if self.skip_existing else "overwrite", max_side=self.max_side_px,
                            video=self.video_options(), name_pattern=self.name_pattern)

    def video_options(self) -> "VideoOptions":
        """The engine's video options (audio is always kept: the engine copies it untouched)."""
        return VideoOptions(codec=self.video_codec, crf=self.video_crf, temporal_smoothing=self.temporal_smoothing,
                            frames_as_video=self.frames_as_video,
                            fps=Fraction(self.frames_fps).limit_denominator(1001) if self.frames_as_video else None)

    def region_strength(self) -> RegionStrength:
        return RegionStrength(self.foreground_strength, self.background_strength)

    def engine_settings(self) -> EngineSettings:
        """How the engine is set up for this job (model, device, precision, tiles, strengths)."""
        return EngineSettings(self.model, self.device, self.precision, self.tile_size_px, self.strength,
                              self.region_strength())

    def replaced(self, **changes: Any) -> "JobOptions":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobOptions":
        """Tolerant of files written by other versions: unknown keys are dropped, values of the wrong type or out
        of range fall back to the default, so a hand-edited settings file never stops the app from starting."""
        defaults = cls()
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if field.name not in data:
                continue
            value = data[field.name]
            default = getattr(defaults, field.name)
            if _same_kind(value, default, field.type):
                values[field.name] = value
        options = cls(**values)
        return options if options.is_valid() else _repair(options, defaults)

    def is_valid(self) -> bool:
        return (self.output_format in OUTPUT_FORMATS and 1 <= self.quality <= 100 and 0.0 <= self.strength <= 1.0
                and 0.0 <= self.foreground_strength <= 1.0 and 0.0 <= self.background_strength <= 1.0
                and name_pattern_problem(self.name_pattern) is None
                and (not self.beside_inputs or keeps_names_apart(self.name_pattern))
                and self.precision in PRECISIONS and self.video_codec in VIDEO_CODECS
                and 0 <= self.video_crf <= 51 and 1.0 <= self.frames_fps <= 240.0
                and (self.max_side_px is None or self.max_side_px > 0)
                and (self.tile_size_px is None or self.tile_size_px > 0))


def name_pattern_problem(pattern: str) -> str | None:
    """Why the engine refuses `pattern` (e.g. no {stem}), or None."""
    try:
        check_name_pattern(pattern)
    except NamePatternError as exc:
        return str(exc)
    return None


def _same_kind(value: Any, default: Any, annotation: str) -> bool:
    if value is None:
        return "None" in str(annotation)
    if isinstance(default, bool) or "bool" in str(annotation):
        return isinstance(value, bool)
    if "float" in str(annotation):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if "int" in str(annotation):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def _repair(options: JobOptions, defaults: JobOptions) -> JobOptions:
    """Reset each field whose value alone makes the options invalid."""
    for field in dataclasses.fields(JobOptions):
        candidate = dataclasses.replace(defaults, **{field.name: getattr(options, field.name)})
        if not candidate.is_valid():
            options = dataclasses.replace(options, **{field.name: getattr(defaults, field.name)})
    return options


def usable_video_codecs() -> set[str]:
    """The video encoders that open on this machine, by the engine's own check (NVENC needs an NVIDIA GPU, its
    driver and an FFmpeg built with it). Opens each once: call it on a worker."""
    usable = set()
    for codec in VIDEO_CODECS:
        try:
            check_video_encoder(codec)
        except VideoError:
            continue
        usable.add(codec)
    return usable
