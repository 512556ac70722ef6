"""The training pictures the wizard's first page collects: which folders hold how many images and videos, whether
that is enough, and the cartoon folder built from key-frames of the user's videos. Qt-free.

Images are found exactly as the trainer finds them (`trainer.data.find_images`: JPEG, PNG and WebP, recursive,
hidden and half-written files skipped), so the counts shown are the counts trained on.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generator

from core.cancel import CancelToken
from core.video import VIDEO_SUFFIXES
from trainer.data import find_images
from trainer.keyframes import KeyframeOptions, KeyframeProgress, extract_keyframes_steps

log = logging.getLogger("desktop_app.fine_tune")

MIN_CARTOONS = 20
MIN_PHOTOS = 20
"""At least this many cartoons and photos. The discriminators learn what "a cartoon" is from the cartoon pictures
alone: with only a handful they memorise them, and the generator then copies those pictures' colours and shapes
instead of a style. The photos must vary as well, or the model learns to cartoonize those few scenes. Twenty is well
short of a good data set (the paper used thousands) but is where a fine-tune from a trained model starts to learn
a style rather than pictures; it is also more than two batches of the preset's eight, so steps see new mixes."""

KEYFRAMES_FOLDER = "key-frames"
PICTURES_FOLDER = "pictures"


@dataclass(frozen=True)
class FolderScan:
    """What one chosen folder holds (recursively); `error` says why it could not be read."""

    folder: Path
    images: tuple[Path, ...] = ()
    videos: tuple[Path, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class PreparedCartoons:
    """The cartoon folder built from videos: its key-frames plus the pictures that lay beside the videos."""

    folder: Path
    images: tuple[Path, ...]
    failed_videos: dict[Path, str] = field(default_factory=dict)


def scan_folder(folder: Path) -> FolderScan:
    """Images (as the trainer counts them) and videos under `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        return FolderScan(folder, error=f"{folder} is not a folder")
    try:
        images = find_images(folder)
        videos = sorted(path for path in folder.rglob("*") if path.suffix.lower() in VIDEO_SUFFIXES
                        and path.is_file() and not any(p.startswith(".") for p in path.relative_to(folder).parts))
    except OSError as exc:
        return FolderScan(folder, error=f"{folder} could not be read: {exc.strerror or exc}")
    return FolderScan(folder, tuple(images), tuple(videos))


def cartoons_problem(scan: FolderScan | None, prepared: PreparedCartoons | None) -> str | None:
    """Why the cartoon side is not ready yet, in a sentence; None when it is."""
    if scan is None:
        return "Choose the folder with your cartoon pictures or videos."
    if scan.error:
        return scan.error
    if scan.videos and prepared is None:
        return (f"{_count(len(scan.videos), 'video')} found: extract their key-frames first "
                "(one picture per scene).")
    count = len(prepared.images) if prepared is not None else len(scan.images)
    if count < MIN_CARTOONS:
        found = "key-frames and pictures" if prepared is not None else "cartoon pictures (JPEG, PNG or WebP)"
        return (f"Only {count} {found}: at least {MIN_CARTOONS} are needed, or the model copies those few "
                "pictures instead of learning their style. Add more, or cartoon videos to take key-frames from.")
    return None


def photos_problem(scan: FolderScan | None, cartoon_folder: Path | None) -> str | None:
    """Why the photo side is not ready yet; None when it is."""
    if scan is None:
        return "Choose a folder of photos like the ones you will cartoonize."
    if scan.error:
        return scan.error
    if cartoon_folder is not None and _overlapping(scan.folder, cartoon_folder):
        return "The photos and the cartoons must be separate folders, neither inside the other."
    if len(scan.images) < MIN_PHOTOS:
        return (f"Only {len(scan.images)} photos (JPEG, PNG or WebP): at least {MIN_PHOTOS} are needed, or the model "
                "only learns to cartoonize those few scenes.")
    return None


def prepare_cartoon_folder(scan: FolderScan, output_dir: Path, options: KeyframeOptions = KeyframeOptions(),
                           cancel: CancelToken | None = None,
                           ) -> Generator[KeyframeProgress, None, PreparedCartoons]:
    """Extract the key-frames of `scan.videos` into output_dir/key-frames and link (or copy) `scan.images` into
    output_dir/pictures, so that one folder holds every cartoon. `output_dir` is the wizard's own and is emptied
    first. Yields the extractor's progress; `Cancelled` is raised between frames."""
    output_dir = Path(output_dir)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    summary = yield from extract_keyframes_steps(scan.videos, output_dir / KEYFRAMES_FOLDER, options, cancel)
    for image in scan.images:
        if cancel is not None:
            cancel.raise_if_cancelled()
        target = output_dir / PICTURES_FOLDER / image.relative_to(scan.folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(image, target)  # no copy where the file system allows it
        except OSError:
            shutil.copy2(image, target)
    images = tuple(find_images(output_dir)) if output_dir.is_dir() else ()
    return PreparedCartoons(output_dir, images, dict(summary.failed))


def _overlapping(a: Path, b: Path) -> bool:
    try:
        a, b = a.resolve(), b.resolve()
    except OSError:
        pass
    return a == b or a in b.parents or b in a.parents


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
