"""The batch engine: plans which inputs become which outputs, then cartoonizes them one by one as a generator of
progress events. The CLI turns the events into a progress bar; the desktop app turns them into Qt signals.

Items are photos, videos and numbered-frame folders (see `core.frame_sequence` for how one is told from a folder of
photos); one batch may mix them. Videos and frame folders run through `core.video_io`, reporting progress in frames.

Guarantees: outputs mirror the inputs' relative layout, are written atomically and never over an input; a bad file
is reported with its reason and the batch goes on; a cancel leaves no partial file; a re-run with the default
`existing="skip"` resumes where the last one stopped. Decoding the next image overlaps inference of the current one.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generator, Iterator, Sequence

from core.atomic_files import atomic_output, is_partial_file, remove_stale_partials
from core.cancel import CancelToken, Cancelled
from core.cartoonizer import Cartoonizer
from core.frame_sequence import find_frame_sequence, remove_stale_partial_folders
from core.image_io import (
    DEFAULT_MAX_PIXELS, OUTPUT_FORMATS, ImageReadError, LoadedImage, downscale_to_max_side, is_image_path,
    output_format_for, read_image, write_image,
)
from core.video_io import VideoError, VideoOptions, cartoonize_video, is_video_path, video_destination


@dataclass(frozen=True)
class BatchOptions:
    """What the user chose for a batch; shared by CLI and GUI."""

    output_dir: Path
    output_format: str = "same"      # same | png | jpeg | webp
    quality: int = 95
    existing: str = "skip"           # skip (resume) | overwrite
    max_side: int | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    video: VideoOptions = VideoOptions()


@dataclass(frozen=True)
class BatchItem:
    """One input and where its cartoon goes; `relative` is the path shown to people. `kind` is "image" (a photo),
    "video" (a video file) or "frames" (a numbered-frame folder); a video's or frame folder's destination is a
    video file or a folder of PNG frames."""

    source: Path
    destination: Path
    relative: Path
    refusal: str | None = None       # why planning already refused it (reported as a failure when run)
    kind: str = "image"


@dataclass
class BatchPlan:
    items: list[BatchItem]

    @property
    def runnable(self) -> list[BatchItem]:
        return [item for item in self.items if item.refusal is None]


@dataclass(frozen=True)
class Progress:
    """Where the batch stands: `fraction` in [0, 1] counts finished files plus the share of tiles (or frames) of
    the current one; `eta_s` is None until there is something to extrapolate from."""

    files_done: int
    files_total: int
    fraction: float
    elapsed_s: float
    eta_s: float | None


@dataclass(frozen=True)
class ItemResult:
    item: BatchItem
    status: str                      # done | skipped | failed
    error: str | None = None
    seconds: float = 0.0
    note: str | None = None          # worth telling even on success, e.g. a stream the output could not hold


@dataclass
class BatchSummary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    results: list[ItemResult] = field(default_factory=list)

    def add(self, result: ItemResult) -> None:
        self.results.append(result)
        setattr(self, result.status, getattr(self, result.status) + 1)


@dataclass(frozen=True)
class BatchStarted:
    total: int
    progress: Progress


@dataclass(frozen=True)
class ItemStarted:
    index: int
    item: BatchItem
    progress: Progress


@dataclass(frozen=True)
class TileProgress:
    index: int
    tiles_done: int
    tiles_total: int
    progress: Progress


@dataclass(frozen=True)
class FrameProgress:
    """Within a video or frame folder: frames cartoonized so far of `frames_total` (for videos an estimate from the
    container, None when it states nothing), with this item's speed and remaining time."""

    index: int
    frames_done: int
    frames_total: int | None
    fps: float
    eta_s: float | None
    progress: Progress


@dataclass(frozen=True)
class ItemFinished:
    index: int
    result: ItemResult
    progress: Progress


@dataclass(frozen=True)
class BatchFinished:
    summary: BatchSummary
    progress: Progress


BatchEvent = BatchStarted | ItemStarted | TileProgress | FrameProgress | ItemFinished | BatchFinished


# --- planning ----------------------------------------------------------------------------------------------------
def plan_batch(inputs: Sequence[str | Path], options: BatchOptions) -> BatchPlan:
    """Expand files and folders (recursively) into items; a folder's photos and videos keep their path relative to
    it, and a numbered-frame folder (the input itself or one below it) becomes one item."""
    output_dir = Path(options.output_dir).resolve()
    plan = BatchPlan(items=[])
    sources: list[tuple[Path, Path, str]] = []  # (file or frame folder, relative path, kind)
    for raw in inputs:
        path = Path(raw).expanduser().resolve()
        if path.is_dir():
            sources.extend(_media_under(path, skip=output_dir))
        elif path.is_file():
            sources.append((path, Path(path.name), "video" if is_video_path(path) else "image"))
        else:
            plan.items.append(BatchItem(path, path, Path(path.name), "no such file or folder"))
    input_paths = {source for source, _, _ in sources}
    claimed: dict[Path, Path] = {}
    for source, relative, kind in sources:
        destination = output_dir / _relative_destination(source, relative, kind, options)
        refusal = None
        if destination in input_paths:
            refusal = f"its output {destination} would overwrite an input; choose another output folder"
        elif destination in claimed:
            refusal = f"its output {destination} is already the output of {claimed[destination]}"
        claimed.setdefault(destination, source)
        plan.items.append(BatchItem(source, destination, relative, refusal, kind))
    return plan


def _relative_destination(source: Path, relative: Path, kind: str, options: BatchOptions) -> Path:
    if kind == "image":
        return relative.with_suffix(OUTPUT_FORMATS[output_format_for(source, options.output_format)])
    return video_destination(relative, kind == "frames", options.video)


def _media_under(folder: Path, skip: Path) -> list[tuple[Path, Path, str]]:
    """(path, relative path, kind) for the photos, videos and numbered-frame folders below `folder`, in a stable
    order, ignoring hidden files, our partial files and the output; a frame folder's own images are its frames."""
    found: list[tuple[Path, Path, str]] = []
    frame_folders: set[Path] = set()
    if find_frame_sequence(folder) is not None:
        frame_folders.add(folder)
        found.append((folder, Path(folder.name), "frames"))
    for path in sorted(folder.rglob("*")):
        relative_parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in relative_parts) or is_partial_file(path):
            continue
        if folder in skip.parents and (skip == path or skip in path.parents):  # an output folder inside the input
            continue
        if path.is_dir():
            if find_frame_sequence(path) is not None:
                frame_folders.add(path)
                found.append((path, path.relative_to(folder), "frames"))
        elif path.is_file() and is_image_path(path):
            if path.parent not in frame_folders:
                found.append((path, path.relative_to(folder), "image"))
        elif path.is_file() and is_video_path(path):
            found.append((path, path.relative_to(folder), "video"))
    return found


# --- running -----------------------------------------------------------------------------------------------------
class _Clock:
    """Elapsed time and an ETA extrapolated from the fraction of work done."""

    def __init__(self, total: int):
        self.start = time.perf_counter()
        self.total = total

    def progress(self, files_done: int, partial: float = 0.0) -> Progress:
        elapsed = time.perf_counter() - self.start
        fraction = min(1.0, (files_done + partial) / self.total) if self.total else 1.0
        eta = elapsed * (1.0 - fraction) / fraction if fraction > 0.0 else None
        return Progress(files_done, self.total, fraction, elapsed, eta)


def run_batch(plan: BatchPlan, cartoonizer: Cartoonizer, options: BatchOptions,
              cancel: CancelToken | None = None) -> Iterator[BatchEvent]:
    """Cartoonize every planned item, yielding events; always ends with BatchFinished (also after a cancel)."""
    cancel = cancel or CancelToken()
    summary = BatchSummary()
    remove_stale_partial_folders(Path(options.output_dir))
    remove_stale_partials(Path(options.output_dir))
    items = plan.items
    clock = _Clock(len(items))
    yield BatchStarted(len(items), clock.progress(0))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-reader") as reader:
        upcoming = _prefetch(reader, items, 0, options)
        for index, item in enumerate(items):
            if cancel.cancelled:
                summary.cancelled = True
                break
            loading, upcoming = upcoming, _prefetch(reader, items, index + 1, options)
            yield ItemStarted(index, item, clock.progress(index))
            started = time.perf_counter()
            try:
                if item.kind == "image":
                    status, error = yield from _process_item(index, item, loading, cartoonizer, options, cancel,
                                                             clock)
                    note = None
                else:
                    status, error, note = yield from _process_video(index, item, cartoonizer, options, cancel, clock)
            except Cancelled:
                summary.cancelled = True
                break
            result = ItemResult(item, status, error, time.perf_counter() - started, note)
            summary.add(result)
            yield ItemFinished(index, result, clock.progress(index + 1))
        if upcoming is not None:
            upcoming.cancel()
    summary.seconds = time.perf_counter() - clock.start
    yield BatchFinished(summary, clock.progress(len(summary.results)))


def _needs_work(item: BatchItem, options: BatchOptions) -> bool:
    if item.refusal is not None:
        return False
    return options.existing == "overwrite" or not item.destination.exists()


def _prefetch(reader: ThreadPoolExecutor, items: list[BatchItem], index: int,
              options: BatchOptions) -> Future | None:
    """Start decoding photo `index` in the background, unless it will be skipped or was refused (videos decode in
    their own pipeline)."""
    if index >= len(items) or items[index].kind != "image" or not _needs_work(items[index], options):
        return None
    return reader.submit(read_image, items[index].source, options.max_pixels)


def _process_item(index: int, item: BatchItem, loading: Future | None, cartoonizer: Cartoonizer,
                  options: BatchOptions, cancel: CancelToken,
                  clock: _Clock) -> Generator[TileProgress, None, tuple[str, str | None]]:
    """Yields tile progress, returns (status, error); only Cancelled escapes."""
    if item.refusal is not None:
        return "failed", item.refusal
    if loading is None:
        return "skipped", None
    try:
        image: LoadedImage = downscale_to_max_side(loading.result(), options.max_side)
        steps = cartoonizer.cartoonize_steps(image.rgb, cancel)
        while True:
            try:
                done, total = next(steps)
            except StopIteration as finished:
                cartoon = finished.value
                break
            yield TileProgress(index, done, total, clock.progress(index, done / total))
        fmt = output_format_for(item.source, options.output_format, has_alpha=image.alpha is not None)
        destination = item.destination.with_suffix(OUTPUT_FORMATS[fmt])
        write_image(destination, cartoon, image.alpha, fmt, options.quality, image.icc_profile)
    except Cancelled:
        raise
    except ImageReadError as exc:
        return "failed", str(exc)
    except Exception as exc:  # one bad file must not stop the batch; the reason goes to the user
        return "failed", f"{exc.__class__.__name__}: {exc}"
    return "done", None


def _process_video(index: int, item: BatchItem, cartoonizer: Cartoonizer, options: BatchOptions,
                   cancel: CancelToken,
                   clock: _Clock) -> Generator[FrameProgress, None, tuple[str, str | None, str | None]]:
    """A video or frame folder: yields frame progress, returns (status, error, note); only Cancelled escapes."""
    if item.refusal is not None:
        return "failed", item.refusal, None
    if not _needs_work(item, options):
        return "skipped", None, None
    try:
        job = cartoonize_video(item.source, item.destination, cartoonizer, options.video, max_side=options.max_side,
                               max_pixels=options.max_pixels, replace=options.existing == "overwrite", cancel=cancel)
        while True:
            try:
                count = next(job)
            except StopIteration as finished:
                outcome = finished.value
                break
            share = min(0.999, count.done / count.total) if count.total else 0.0
            yield FrameProgress(index, count.done, count.total, count.fps, count.eta_s, clock.progress(index, share))
    except Cancelled:
        raise
    except VideoError as exc:
        return "failed", str(exc), None
    except Exception as exc:  # one bad video must not stop the batch; the reason goes to the user
        return "failed", f"{exc.__class__.__name__}: {exc}", None
    return "done", None, "; ".join(outcome.notes) or None


def write_report(summary: BatchSummary, path: str | Path) -> Path:
    """A JSON record of the batch (counts and one entry per file), written atomically."""
    data = {
        "done": summary.done, "skipped": summary.skipped, "failed": summary.failed,
        "cancelled": summary.cancelled, "seconds": round(summary.seconds, 3),
        "files": [
            {"source": str(r.item.source), "output": str(r.item.destination), "kind": r.item.kind,
             "status": r.status, "error": r.error, "note": r.note, "seconds": round(r.seconds, 3)}
            for r in summary.results
        ],
    }
    path = Path(path)
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path
