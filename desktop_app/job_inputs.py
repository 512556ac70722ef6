"""Turning what a user dropped or picked into jobs: one per folder, per video and per folder's loose photos, each
with its kind and a default output folder beside the input (never over it). Qt-free."""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from core.frame_sequence import find_frame_sequence
from core.image_io import is_image_path
from core.video import is_video_path

from desktop_app.job import JobKind

OUTPUT_SUFFIX = "_cartoon"


@dataclass(frozen=True)
class JobInput:
    """The inputs of one future job and their kind."""

    inputs: tuple[Path, ...]
    kind: JobKind


def input_kind(path: Path) -> JobKind | None:
    """PHOTOS (a folder or an image), FRAMES (a numbered-frame folder), VIDEO (a video file), None (unusable)."""
    if path.is_dir():
        return JobKind.FRAMES if find_frame_sequence(path) is not None else JobKind.PHOTOS
    if path.is_file():
        if is_video_path(path):
            return JobKind.VIDEO
        if is_image_path(path):
            return JobKind.PHOTOS
    return None


def group_into_jobs(paths: Iterable[str | Path]) -> tuple[list[JobInput], list[Path]]:
    """(jobs, ignored paths). Each folder and each video is its own job; loose photos become one job per folder
    they sit in, in the order they were given."""
    entries: list[JobInput | Path] = []  # a job, or the folder whose loose photos become one job there
    ignored: list[Path] = []
    loose_photos: dict[Path, list[Path]] = defaultdict(list)
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser().absolute()
        if path in seen:
            continue
        seen.add(path)
        kind = input_kind(path)
        if kind is None:
            ignored.append(path)
        elif kind is JobKind.PHOTOS and path.is_file():
            if path.parent not in loose_photos:
                entries.append(path.parent)
            loose_photos[path.parent].append(path)
        else:
            entries.append(JobInput((path,), kind))
    jobs = [e if isinstance(e, JobInput) else JobInput(tuple(loose_photos[e]), JobKind.PHOTOS) for e in entries]
    return jobs, ignored


def output_dir_for(inputs: Iterable[Path], output_folder: str | Path | None, beside_inputs: bool = False) -> Path:
    """Where a job's outputs go.

    `beside_inputs`: the input folder itself (the folder of input files), so that each output sits next to its
    input (the name pattern keeps them apart; the engine refuses a pattern that does not).

    Default (`output_folder` None): `<folder>_cartoon` beside an input folder, `<parent>_cartoon` beside the folder
    of input files; inside the input as `cartoon/` only where its parent is not writable (e.g. the home folder's
    parent). The engine skips an output folder inside an input folder. A chosen `output_folder` gets a subfolder
    named after an input folder, so that jobs never share (and silently skip) each other's outputs."""
    inputs = [Path(p) for p in inputs]
    first = inputs[0]
    source_folder = first if first.is_dir() else first.parent
    if beside_inputs:
        return source_folder
    if output_folder:
        chosen = Path(output_folder).expanduser()
        candidate = chosen / first.name if first.is_dir() else chosen
    else:
        parent = source_folder.parent
        if parent == source_folder or not os.access(parent, os.W_OK):
            return source_folder / OUTPUT_SUFFIX.lstrip("_")
        candidate = parent / f"{source_folder.name}{OUTPUT_SUFFIX}"
    input_folders = {p.resolve() for p in inputs if p.is_dir()} | {source_folder.resolve()}
    if candidate.resolve() in input_folders:  # never write over an input folder
        candidate = candidate.with_name(candidate.name + OUTPUT_SUFFIX)
    return candidate
