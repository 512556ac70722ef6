"""Numbered-frame folders (image sequences such as `frame_0001.png`, `frame_0002.png`, …): telling them apart from
ordinary photo folders, listing their frames in order, and writing one atomically.

The rule (`find_frame_sequence`) is deliberately strict, because a camera card dump (`IMG_0001.JPG` …) is named just
like a frame sequence and must stay a folder of photos. A folder is a frame sequence when, counting only the image
files directly inside it (hidden files and our partial files ignored):

1. there are at least `MIN_SEQUENCE_FRAMES` of them;
2. every stem is one shared prefix followed by a number (`frame_0007`, `0007`, `shot.0007`), all with the same
   suffix and the same digit count (zero-padded; unpadded `1.png … 10.png` does not sort as a sequence);
3. the numbers form one unbroken run (`first, first + 1, …`): deleting photos leaves gaps, renders and exports do not;
4. the first frame carries no camera EXIF (`Make`, `Model` or `DateTimeOriginal`): cameras and phones write it,
   video exporters and renderers do not.

Anything else is a folder of photos and keeps the photo behaviour (one cartoon per file, layout mirrored). The
batch applies the rule only when asked (`VideoOptions.frames_as_video`): by default a frame sequence is
cartoonized like a folder of photos too, so that nothing becomes a video by surprise.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from PIL import Image, UnidentifiedImageError

from core.atomic_files import PARTIAL_PREFIX, is_partial_file
from core.image_io import is_image_path

MIN_SEQUENCE_FRAMES = 8
VIDEO_FRAME_PREFIX = "frame_"       # frames cut from a video are named frame_000001.png, frame_000002.png, …
VIDEO_FRAME_DIGITS = 6
_NUMBERED_STEM = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)$")
_CAMERA_EXIF_TAGS = (0x010F, 0x0110)  # Make, Model
_EXIF_IFD, _DATE_TIME_ORIGINAL = 0x8769, 0x9003


@dataclass(frozen=True)
class FrameSequence:
    """The frames of a numbered-frame folder, in playback order."""

    folder: Path
    frames: tuple[Path, ...]
    prefix: str
    digits: int
    first_number: int


def find_frame_sequence(folder: str | Path) -> FrameSequence | None:
    """The folder's frames when it is a numbered-frame folder by the module's rule, otherwise None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    images = [path for path in folder.iterdir()
              if path.is_file() and is_image_path(path) and not path.name.startswith(".") and not is_partial_file(path)]
    if len(images) < MIN_SEQUENCE_FRAMES:
        return None
    numbered: dict[int, Path] = {}
    shapes = set()
    for path in images:
        match = _NUMBERED_STEM.match(path.stem)
        if match is None:
            return None
        shapes.add((match["prefix"], len(match["number"]), path.suffix.lower()))
        numbered[int(match["number"])] = path
    if len(shapes) != 1 or len(numbered) != len(images):
        return None
    first = min(numbered)
    if max(numbered) - first + 1 != len(numbered):
        return None
    frames = tuple(numbered[number] for number in sorted(numbered))
    if _has_camera_exif(frames[0]):
        return None
    prefix, digits, _suffix = shapes.pop()
    return FrameSequence(folder, frames, prefix, digits, first)


def _has_camera_exif(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            return any(tag in exif for tag in _CAMERA_EXIF_TAGS) or _DATE_TIME_ORIGINAL in exif.get_ifd(_EXIF_IFD)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return False  # an unreadable frame is reported when the sequence is read, not here


def video_frame_name(number: int, digits: int = VIDEO_FRAME_DIGITS) -> str:
    """Name of frame `number` (1-based) cut from a video: `frame_000001.png`, which reads back as a sequence."""
    return f"{VIDEO_FRAME_PREFIX}{number:0{digits}d}.png"


@contextlib.contextmanager
def atomic_output_folder(destination: str | Path, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside `destination`; it becomes `destination` only if the block succeeds.

    Like `core.atomic_files.atomic_output`, for outputs that are folders (frame sequences): on any exception,
    cancel included, the temporary folder is deleted and `destination` is left as it was. `replace=True` swaps out
    an existing `destination` (the old one is deleted after the new one is in place).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = destination.with_name(f"{PARTIAL_PREFIX}{secrets.token_hex(4)}-{destination.name}")
    temp.mkdir()
    try:
        yield temp
        if destination.exists() and replace:
            old = destination.with_name(f"{PARTIAL_PREFIX}{secrets.token_hex(4)}-old-{destination.name}")
            os.replace(destination, old)
            os.replace(temp, destination)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, destination)  # fails (and cleans up below) if a non-empty destination appeared meanwhile
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)


def remove_stale_partial_folders(folder: str | Path) -> int:
    """Delete partial frame folders a killed run left under `folder` (`remove_stale_partials` handles files)."""
    removed = 0
    folder = Path(folder)
    if folder.is_dir():
        for path in sorted(folder.rglob(f"{PARTIAL_PREFIX}*"), reverse=True):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed
