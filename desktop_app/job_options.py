"""What the user chose for a job (model, device, output and video settings), as plain data the GUI edits, the
queue stores with each job and the settings file persists. Qt-free; it maps onto the engine's own options.

The video settings reach the engine where it takes them (`BatchOptions.video`, from `core.video_io`); on a build
without them they are kept and saved, and the options panel shows them disabled."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.batch import BatchOptions

from core.video_io import VideoOptions

OUTPUT_FORMATS = ("same", "png", "jpeg", "webp")
VIDEO_CODECS = ("libx264", "h264_nvenc")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


@dataclass(frozen=True)
class JobOptions:
    """Everything the GUI lets a user set for one job.

    `model` None means the default model; `output_folder` None means "next to the input" (see
    `job_inputs.output_dir_for`); `tile_size_px` None lets the engine pick tiles from the device's memory.
    The video fields are kept (and persisted) now and handed to the engine once it takes them."""

    model: str | None = None
    device: str = "auto"
    precision: str = "auto"
    output_folder: str | None = None
    output_format: str = "same"
    quality: int = 95
    max_side_px: int | None = None
    tile_size_px: int | None = None
    skip_existing: bool = True
    strength: float = 1.0
    video_codec: str = "libx264"
    video_crf: int = 18
    keep_audio: bool = True
    temporal_smoothing: bool = False

    def batch_options(self, output_dir: Path) -> BatchOptions:
        """The engine's options for this job, writing into `output_dir`."""
        return BatchOptions(output_dir=Path(output_dir), output_format=self.output_format, quality=self.quality,
                            existing="skip" if self.skip_existing else "overwrite", max_side=self.max_side_px,
                            video=self.video_options())

    def video_options(self) -> "VideoOptions":
        """The engine's video options (audio is always kept: the engine copies it untouched)."""
        return VideoOptions(codec=self.video_codec, crf=self.video_crf, temporal_smoothing=self.temporal_smoothing)

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
                and self.precision in PRECISIONS and self.video_codec in VIDEO_CODECS
                and 0 <= self.video_crf <= 51
                and (self.max_side_px is None or self.max_side_px > 0)
                and (self.tile_size_px is None or self.tile_size_px > 0))


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
