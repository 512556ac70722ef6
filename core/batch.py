"""The batch engine: plans which inputs become which outputs, then cartoonizes them one by one as a generator of
progress events. The CLI turns the events into a progress bar; the desktop app turns them into Qt signals.

Items are photos, animated pictures (GIF, WebP, APNG), videos and, with `VideoOptions.frames_as_video`,
numbered-frame folders (see `core.frame_sequence` for how one is told from a folder of photos); one batch may mix
them. Videos, frame folders and animations run through the video frame pipeline, reporting progress in frames.
Every entry of a walked folder is an item: what cannot be cartoonized is named with the reason.

Guarantees: outputs mirror the inputs' relative layout (named by `name_pattern`), are written atomically, never
over an input and never over a file this tool did not write (`core.output_marker`); a bad file is reported with its
reason and the batch goes on; a cancel leaves no partial file; a re-run with the default
`existing="skip"` resumes where the last one stopped. Decoding the next image overlaps inference of the current one.
"""
from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Callable, Generator, Iterator, Sequence

from core.animated_image import animation_suffix_for, cartoonize_animation, is_animated_picture
from core.atomic_files import atomic_output, is_partial_file, remove_stale_partials
from core.cancel import CancelToken, Cancelled
from core.cartoonizer import Cartoonizer
from core.failures import FailureKind, failure_kind, failure_message
from core.frame_sequence import find_frame_sequence, remove_stale_partial_folders
from core.image_io import (
    DEFAULT_MAX_PIXELS, OUTPUT_FORMATS, LoadedImage, downscale_to_max_side, image_is_ours,
    is_image_path, output_format_for, read_image, write_image,
)
from core.output_names import (
    DEFAULT_NAME_PATTERN, NamePatternError, check_name_pattern, keeps_names_apart, renamed,
)
from core.steps import relay
from core.video import (
    FrameCount, VideoOptions, cartoonize_video, is_video_path, video_destination, video_is_ours,
)


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
    name_pattern: str = DEFAULT_NAME_PATTERN  # output stem from the input's: "{stem}", "{stem}_cartoon", …


class ItemKind(str, Enum):
    """What a batch item is. A `str`, so that reports and saved files hold the plain value ("image", …)."""

    IMAGE = "image"            # a photo
    ANIMATION = "animation"    # an animated GIF, WebP or PNG
    VIDEO = "video"            # a video file
    FRAMES = "frames"          # a numbered-frame folder that becomes a video (`VideoOptions.frames_as_video`)
    OTHER = "other"            # an entry that is only named (its item's `skip_reason` says why)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class BatchItem:
    """One input and where its cartoon goes; `relative` is the path shown to people; `kind` says what it is (see
    `ItemKind`); a video's destination is a video file or a folder of PNG frames."""

    source: Path
    destination: Path
    relative: Path
    refusal: str | None = None       # why planning already refused it (reported as a failure when run)
    kind: ItemKind = ItemKind.IMAGE
    skip_reason: str | None = None   # why it is skipped without work (reported as skipped, with this note)
    refusal_kind: FailureKind = FailureKind.INPUT   # an unusable input, or OUTPUT for a clash of outputs

    @property
    def only_named(self) -> bool:
        """An entry the batch only names (a README beside the photos, a link to a folder, an earlier output): it is
        reported as skipped with its reason, but it is not one of the batch's files and no count includes it."""
        return self.skip_reason is not None


@dataclass
class BatchPlan:
    items: list[BatchItem]

    @property
    def counted(self) -> list[BatchItem]:
        """The batch's files: what it cartoonizes, finds done already, or fails (all but the entries only named)."""
        return [item for item in self.items if not item.only_named]

    @property
    def runnable(self) -> list[BatchItem]:
        return [item for item in self.items if item.refusal is None and not item.only_named]


@dataclass(frozen=True)
class Progress:
    """Where the batch stands: `fraction` in [0, 1] counts finished files plus the share of tiles (or frames) of
    the current one; `eta_s` is None until there is something to extrapolate from. Files are the plan's `counted`
    items: entries only named are not among them."""

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
    error_kind: FailureKind | None = None   # what kind of failure `error` is (set when status is failed)


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
    """`total`: the batch's files (`BatchPlan.counted`); `named`: the entries it only names besides them (each is
    still reported, as skipped with its reason)."""

    total: int
    progress: Progress
    named: int = 0


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
class BatchRequestError(ValueError):
    """A batch that must not start (a usage error): the output folder is a file, lies under a file, or is an input
    folder while the name pattern keeps the inputs' names; the message says what to change."""


def check_request(inputs: Sequence[str | Path], options: BatchOptions) -> None:
    """Refuse a batch that cannot be right before any work is done: BatchRequestError with the reason."""
    try:
        check_name_pattern(options.name_pattern)
    except NamePatternError as exc:
        raise BatchRequestError(str(exc)) from None
    output_dir = Path(options.output_dir).expanduser().absolute()
    for folder in (output_dir, *output_dir.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                where = "is" if folder == output_dir else f"lies under {folder}, which is"
                raise BatchRequestError(f"the output folder {output_dir} {where} not a folder (a file?)")
            break
    if keeps_names_apart(options.name_pattern):
        return
    resolved_output = output_dir.resolve()
    for raw in inputs:
        path = Path(raw).expanduser().absolute()
        with contextlib.suppress(OSError, RuntimeError):  # broken inputs are reported per item
            folder = path.resolve() if path.is_dir() else path.resolve().parent
            if folder == resolved_output:
                raise BatchRequestError(
                    f"the output folder {output_dir} is also the folder of input {path}: outputs would take the "
                    "inputs' names; choose another output folder, or a name pattern such as {stem}_cartoon "
                    "(--name-pattern) so that they can sit side by side")


def plan_batch(inputs: Sequence[str | Path], options: BatchOptions) -> BatchPlan:
    """Expand files and folders (recursively) into items; a folder's photos and videos keep their path relative to
    it. Every entry of a walked folder becomes an item: media to cartoonize, or a file named with the reason it is
    skipped or cannot be read. Raises BatchRequestError (see `check_request`)."""
    check_request(inputs, options)
    output_dir = Path(options.output_dir).expanduser().resolve()
    plan = BatchPlan(items=[])
    sources: list[tuple[Path, Path, ItemKind]] = []  # (file or frame folder, relative path, kind)
    unusable: list[BatchItem] = []
    for raw in inputs:
        given = Path(raw).expanduser().absolute()
        problem = unusable_path_reason(given)
        if problem is not None:
            unusable.append(BatchItem(given, given, Path(given.name), problem))
            continue
        path = given.resolve()
        if path.is_dir():
            found, named = _media_under(path, output_dir, options)
            sources.extend(found)
            unusable.extend(named)
        elif is_video_path(path):
            sources.append((path, Path(path.name), ItemKind.VIDEO))
        else:  # named directly: read as a picture whatever its suffix (the reader says if it is not one)
            sources.append((path, Path(path.name), _picture_kind(path)))
    sources = _first_of_each(sources, lambda entry: entry[0])  # an input named twice (or also walked) is one item
    unusable = _first_of_each(unusable, lambda item: item.source)
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
        plan.items.append(BatchItem(source, destination, relative, refusal, kind, refusal_kind=FailureKind.OUTPUT))
    plan.items.extend(unusable)
    return plan


def _first_of_each(entries: list, key: Callable) -> list:
    first: dict = {}
    for entry in entries:
        first.setdefault(key(entry), entry)
    return list(first.values())


def unusable_path_reason(path: Path) -> str | None:
    """Why `path` (as given, not resolved) cannot be an input: missing, a symlink loop, a broken symlink, a FIFO or
    other special file; None when it is a regular file or a folder."""
    try:
        path.resolve(strict=False)
    except (RuntimeError, OSError):
        return "symbolic link loop (the link points back at itself)"
    if path.is_symlink() and not path.exists():
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"broken symbolic link: its target {target} does not exist"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file or folder"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
        return None
    kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"not a regular file: {kind}"


def _relative_destination(source: Path, relative: Path, kind: ItemKind, options: BatchOptions) -> Path:
    named = renamed(relative, options.name_pattern, is_folder=kind is ItemKind.FRAMES)
    if kind is ItemKind.IMAGE:
        return named.with_suffix(OUTPUT_FORMATS[output_format_for(source, options.output_format)])
    if kind is ItemKind.ANIMATION:
        return named.with_suffix(animation_suffix_for(source, options.output_format))
    return video_destination(named, kind is ItemKind.FRAMES, options.video)


def _picture_kind(path: Path) -> ItemKind:
    return ItemKind.ANIMATION if is_animated_picture(path) else ItemKind.IMAGE


def _media_under(folder: Path, output_dir: Path,
                 options: BatchOptions) -> tuple[list[tuple[Path, Path, ItemKind]], list[BatchItem]]:
    """The media below `folder` as (path, relative path, kind), in a stable order, and the other entries as items
    that say why they are not cartoonized. Hidden entries, our partial files and the output folder (when inside)
    are left out; numbered-frame folders are one FRAMES item with `frames_as_video`, else photos like any other."""
    found: list[tuple[Path, Path, ItemKind]] = []
    named: list[BatchItem] = []
    as_video = options.video.frames_as_video
    frame_folders: set[Path] = set()
    if as_video and find_frame_sequence(folder) is not None:
        frame_folders.add(folder)
        found.append((folder, Path(folder.name), ItemKind.FRAMES))
    output_inside = folder in output_dir.parents or folder == output_dir
    for path in sorted(_walk(folder)):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or is_partial_file(path):
            continue
        if output_inside and folder != output_dir and (output_dir == path or output_dir in path.parents):
            continue
        problem = unusable_path_reason(path)
        if problem is not None:
            named.append(BatchItem(path, path, relative, problem))
        elif path.is_symlink() and path.is_dir():
            named.append(BatchItem(path, path, relative, kind=ItemKind.OTHER,
                                   skip_reason="a link to a folder, not followed (give it as an input to include it)"))
        elif path.is_dir():
            if as_video and find_frame_sequence(path) is not None:
                frame_folders.add(path)
                found.append((path, relative, ItemKind.FRAMES))
        elif path.parent in frame_folders and is_image_path(path):
            continue  # a frame of a frame folder item
        elif output_inside and is_our_output(path):
            named.append(BatchItem(path, path, relative, kind=ItemKind.OTHER,
                                   skip_reason="an output of an earlier run (this is also the output folder)"))
        elif is_image_path(path):
            found.append((path, relative, _picture_kind(path)))
        elif is_video_path(path):
            found.append((path, relative, ItemKind.VIDEO))
        else:
            named.append(BatchItem(path, path, relative, kind=ItemKind.OTHER,
                                   skip_reason="not a picture or video this tool reads (by its suffix)"))
    return found, named


def _walk(folder: Path) -> Iterator[Path]:
    """Every entry below `folder`, without following links to folders (which could loop)."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in dirs + files:
            yield base / name
        dirs[:] = [name for name in dirs if not name.startswith(".") and not (base / name).is_symlink()]


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


@dataclass(frozen=True)
class _ProgressAt:
    """The batch's progress while one file runs, `files_done` files before it."""

    clock: _Clock
    files_done: int

    def within(self, share: float) -> Progress:
        return self.clock.progress(self.files_done, share)


def run_batch(plan: BatchPlan, cartoonizer: Cartoonizer, options: BatchOptions,
              cancel: CancelToken | None = None) -> Iterator[BatchEvent]:
    """Cartoonize every planned item, yielding events; always ends with BatchFinished (also after a cancel)."""
    cancel = cancel or CancelToken()
    summary = BatchSummary()
    remove_stale_partial_folders(Path(options.output_dir))
    remove_stale_partials(Path(options.output_dir))
    items = plan.items
    clock = _Clock(len(plan.counted))
    yield BatchStarted(clock.total, clock.progress(0), named=len(items) - clock.total)
    files_done = 0

    verdicts = _Verdicts(options)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-reader") as reader:
        upcoming = _prefetch(reader, items, 0, options, verdicts)
        for index, item in enumerate(items):
            if cancel.cancelled:
                summary.cancelled = True
                break
            loading, upcoming = upcoming, _prefetch(reader, items, index + 1, options, verdicts)
            yield ItemStarted(index, item, clock.progress(files_done))
            started = time.perf_counter()
            try:
                verdict = verdicts.of(item)
                if verdict is not None:
                    status, error, note, kind = verdict
                elif item.kind is ItemKind.IMAGE:
                    status, error, note, kind = yield from _process_item(index, item, loading, cartoonizer, options,
                                                                         cancel, _ProgressAt(clock, files_done))
                else:
                    status, error, note, kind = yield from _process_video(index, item, cartoonizer, options, cancel,
                                                                          _ProgressAt(clock, files_done))
            except Cancelled:
                summary.cancelled = True
                break
            result = ItemResult(item, status, error, time.perf_counter() - started, note, kind)
            summary.add(result)
            files_done += not item.only_named
            yield ItemFinished(index, result, clock.progress(files_done))
        if upcoming is not None:
            upcoming.cancel()
    summary.seconds = time.perf_counter() - clock.start
    yield BatchFinished(summary, clock.progress(files_done))


# (status, error, note, error kind) of an item
Verdict = tuple[str, "str | None", "str | None", "FailureKind | None"]


class _Verdicts:
    """What happens to each item before any work: refused, only named, already done (skip), or not ours to replace.
    Decided once per item (looking at an existing output opens it)."""

    def __init__(self, options: BatchOptions):
        self.options = options
        self._known: dict[int, Verdict | None] = {}

    def of(self, item: BatchItem) -> Verdict | None:
        key = id(item)
        if key not in self._known:
            self._known[key] = self._decide(item)
        return self._known[key]

    def _decide(self, item: BatchItem) -> Verdict | None:
        if item.refusal is not None:
            return "failed", item.refusal, None, item.refusal_kind
        if item.skip_reason is not None:
            return "skipped", None, item.skip_reason, None
        destination = item.destination
        if not (destination.exists() or destination.is_symlink()):
            return None
        if not is_our_output(destination):
            return "failed", not_ours_message(destination), None, FailureKind.OUTPUT
        return ("skipped", None, None, None) if self.options.existing == "skip" else None


def not_ours_message(destination: Path) -> str:
    what = "a folder" if destination.is_dir() else "a file"
    return (f"{destination} already exists and is {what} this tool did not write: it is left as it is "
            "(move it away, or choose another output folder or name pattern)")


def is_our_output(path: Path) -> bool:
    """Whether `path` is an output this tool wrote: a non-empty regular file carrying our marker, or a non-empty
    folder (of frames) whose every file does. Symbolic links never are."""
    if path.is_symlink():
        return False
    if path.is_dir():
        files = [entry for entry in path.rglob("*") if not entry.is_dir() or entry.is_symlink()]
        return bool(files) and all(_file_is_ours(entry) for entry in files)
    return _file_is_ours(path)


def _file_is_ours(path: Path) -> bool:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size == 0:
            return False
    except OSError:
        return False
    return video_is_ours(path) if is_video_path(path) else image_is_ours(path)


def _prefetch(reader: ThreadPoolExecutor, items: list[BatchItem], index: int, options: BatchOptions,
              verdicts: _Verdicts) -> Future | None:
    """Start decoding photo `index` in the background, unless it will be skipped or was refused (videos decode in
    their own pipeline)."""
    if index >= len(items) or items[index].kind is not ItemKind.IMAGE or verdicts.of(items[index]) is not None:
        return None
    return reader.submit(read_image, items[index].source, options.max_pixels)


def _process_item(index: int, item: BatchItem, loading: Future | None, cartoonizer: Cartoonizer,
                  options: BatchOptions, cancel: CancelToken,
                  at: _ProgressAt) -> Generator[TileProgress, None, Verdict]:
    """Yields tile progress, returns (status, error, note, error kind); only Cancelled escapes."""
    try:
        image: LoadedImage = downscale_to_max_side(loading.result(), options.max_side)
        cartoon = yield from relay(cartoonizer.cartoonize_steps(image.rgb, cancel),
                                   lambda tiles: _tile_progress(index, tiles, at))
        fmt = output_format_for(item.source, options.output_format, has_alpha=image.alpha is not None)
        destination = item.destination.with_suffix(OUTPUT_FORMATS[fmt])
        if destination != item.destination and destination.exists() and not is_our_output(destination):
            # (a transparent picture becomes PNG, not JPEG)
            return "failed", not_ours_message(destination), None, FailureKind.OUTPUT
        write_image(destination, cartoon, image.alpha, fmt, options.quality, image.icc_profile)
    except Cancelled:
        raise
    except Exception as exc:  # one bad file must not stop the batch; the reason goes to the user
        return "failed", failure_message(exc), None, failure_kind(exc)
    if image.pages > 1:
        return "done", None, (f"only the first of its {image.pages} pages was cartoonized: "
                              f"a {fmt.upper()} file holds one page"), None
    return "done", None, None, None


def _process_video(index: int, item: BatchItem, cartoonizer: Cartoonizer, options: BatchOptions,
                   cancel: CancelToken,
                   at: _ProgressAt) -> Generator[FrameProgress, None, Verdict]:
    """A video, frame folder or animated picture: yields frame progress, returns (status, error, note, error kind);
    only Cancelled escapes."""
    try:
        if item.kind is ItemKind.ANIMATION:
            job = cartoonize_animation(item.source, item.destination, cartoonizer, options.video,
                                       max_side=options.max_side, max_pixels=options.max_pixels,
                                       quality=options.quality,
                                       replace=item.destination.exists(), cancel=cancel)
        else:
            job = cartoonize_video(item.source, item.destination, cartoonizer, options.video,
                                   max_side=options.max_side, max_pixels=options.max_pixels,
                                   replace=item.destination.exists(), cancel=cancel)
        outcome = yield from relay(job, lambda count: _frame_progress(index, count, at))
    except Cancelled:
        raise
    except Exception as exc:  # one bad video must not stop the batch; the reason goes to the user
        return "failed", failure_message(exc), None, failure_kind(exc)
    return "done", None, "; ".join(outcome.notes) or None, None


def _tile_progress(index: int, tiles: tuple[int, int], at: _ProgressAt) -> TileProgress:
    done, total = tiles
    return TileProgress(index, done, total, at.within(done / total))


def _frame_progress(index: int, count: FrameCount, at: _ProgressAt) -> FrameProgress:
    share = min(0.999, count.done / count.total) if count.total else 0.0
    return FrameProgress(index, count.done, count.total, count.fps, count.eta_s, at.within(share))


def write_report(summary: BatchSummary, path: str | Path) -> Path:
    """A JSON record of the batch (counts and one entry per file), written atomically."""
    data = {
        "done": summary.done, "skipped": summary.skipped, "failed": summary.failed,
        "cancelled": summary.cancelled, "seconds": round(summary.seconds, 3),
        "files": [
            {"source": str(r.item.source), "output": str(r.item.destination), "kind": r.item.kind.value,
             "status": r.status, "error": r.error, "error_kind": r.error_kind and r.error_kind.value, "note": r.note,
             "seconds": round(r.seconds, 3)}
            for r in summary.results
        ],
    }
    path = Path(path)
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path
