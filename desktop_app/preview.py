"""The preview: a picture of the selected job and its cartoon, rendered on a worker with the current model and
options, downscaled so that it answers in a moment even for big photos. A photo job shows its photos one at a time
(previous/next); a video or frame-folder job shows the frame at a position of its timeline (the time slider).

Requests are coalesced: a newer request cancels the render in progress (the engine stops at its next tile) and
results of stale requests are dropped. The worker keeps the decoded picture and the loaded model between renders, so
moving the strength slider does not reload either. An unreadable photo is passed over (one line in the log) and the
next readable one is shown.
"""
from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal
from PySide6.QtGui import QImage

from core.batch import BatchOptions, BatchRequestError, ItemKind, plan_batch
from core.batch_setup import BatchSetupError, NoModelError, build_cartoonizer
from core.cancel import CancelToken
from core.cartoonizer import Cartoonizer
from core.frame_sequence import find_frame_sequence
from core.image_io import ImageReadError, LoadedImage, downscale_to_max_side, read_image
from core.model_file import CartoonModel
from core.model_registry import load_model, resolve_model_path
from core.region_strength import ForegroundMasks, load_foreground_masks
from core.video_frame import read_video_frame
from core.video import DEFAULT_FRAME_FOLDER_FPS, VideoReadError

from desktop_app.generator_worker import GeneratorWorker
from desktop_app.job import Job, JobKind
from desktop_app.job_options import JobOptions
from desktop_app.log_panel import details

PREVIEW_MAX_SIDE_PX = 720
DEBOUNCE_MS = 250
log = logging.getLogger("desktop_app.preview")


class PreviewUnavailable(Exception):
    """This job has nothing to preview (no readable picture, no model)."""


@dataclass(frozen=True)
class PreviewRequest:
    generation: int
    inputs: tuple[Path, ...]
    kind: JobKind
    output_dir: Path
    options: JobOptions
    picture_index: int = 0          # which of a photo job's pictures; wraps around
    direction: int = 1              # where to look for a readable picture when this one is not (+1 or −1)
    position: float = 0.0           # where on a video's or frame folder's timeline, in [0, 1]


@dataclass(frozen=True)
class PreviewResult:
    generation: int
    before: QImage
    after: QImage
    source: Path
    picture_index: int              # in [0, picture_count); a video's frames are not counted (0 of 1)
    picture_count: int
    seconds: float
    time_s: float | None = None     # a video frame's time, or a frame's time at the frame folder's rate
    duration_s: float | None = None

    def caption(self) -> str:
        size = f"{self.after.width()}×{self.after.height()} preview · {self.seconds:.1f} s"
        if self.time_s is not None and self.picture_count <= 1:
            length = f" of {format_clock(self.duration_s)}" if self.duration_s else ""
            return f"{self.source.name} at {format_clock(self.time_s)}{length} · {size}"
        return f"{self.source.name} ({self.picture_index + 1} of {self.picture_count}) · {size}"


def format_clock(seconds: float | None) -> str:
    """0:03.2, 1:02:03.0: a video position as players show it, to a tenth of a second."""
    tenths = round(max(0.0, seconds or 0.0) * 10)
    minutes, tenth_seconds = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    clock = f"{minutes:d}:{tenth_seconds / 10:04.1f}"
    return f"{hours:d}:{minutes:02d}:{tenth_seconds / 10:04.1f}" if hours else clock


def frame_folder_fps(options: JobOptions) -> float:
    """The rate a frame folder's timeline is shown at: the job's own when its frame folders become videos, else the
    engine's default (a notional rate: the frames stay pictures)."""
    return float(options.video_options().fps or DEFAULT_FRAME_FOLDER_FPS)


def preview_pictures(inputs: tuple[Path, ...], options: BatchOptions) -> list[Path]:
    """The pictures a photo or frame-folder job's preview can show, in the engine's order, planned with the job's
    own options: its photos as the batch will plan them, and the frames of each frame folder that becomes a video."""
    pictures: list[Path] = []
    try:
        plan = plan_batch(list(inputs), options)
    except BatchRequestError as exc:
        raise PreviewUnavailable(f"This job cannot run: {exc}") from exc
    for item in plan.runnable:
        if item.kind in (ItemKind.IMAGE, ItemKind.ANIMATION):
            pictures.append(Path(item.source))
        elif item.kind is ItemKind.FRAMES:
            sequence = find_frame_sequence(Path(item.source))
            pictures.extend(sequence.frames if sequence is not None else ())
    if not pictures:
        raise PreviewUnavailable("Nothing to preview: no photo found in this job")
    return pictures


class _RenderCache:
    """What the preview worker keeps between renders; used from the preview pool's single thread only."""

    def __init__(self) -> None:
        self.source: tuple[Path, float, float | None] | None = None
        self.image: LoadedImage | None = None
        self.time_s: float | None = None
        self.duration_s: float | None = None
        self.model_key: tuple[Path, float] | None = None
        self.model: CartoonModel | None = None
        self.masks: ForegroundMasks | None = None
        self.video_lengths: dict[Path, float | None] = {}
        self.unreadable: dict[Path, tuple[float, str]] = {}  # files that failed to load: mtime, reason (logged once)

    def photo(self, path: Path) -> LoadedImage:
        if self._known_unreadable(path):
            raise ImageReadError(self._known_unreadable(path))
        try:
            key = (path, path.stat().st_mtime, None)
            if key != self.source:
                self.image, self.source = read_image(path), key
        except (ImageReadError, OSError) as exc:
            self._remember_unreadable(path, exc)
            log.warning("preview: %s cannot be read (%s); showing the next photo", path.name, exc)
            raise ImageReadError(str(exc)) from exc
        return self.image

    def video_frame(self, path: Path, position: float) -> LoadedImage:
        """The frame at `position` of the video's length (its first frame while the length is not known)."""
        length = self.video_lengths.get(path)
        wanted_s = position * length if length else 0.0
        if self._known_unreadable(path):
            raise VideoReadError(self._known_unreadable(path))
        try:
            key = (path, path.stat().st_mtime, wanted_s)
            if key == self.source:
                return self.image
            frame = read_video_frame(path, wanted_s, max_side=PREVIEW_MAX_SIDE_PX)
            self.video_lengths[path] = frame.duration_s
            if frame.duration_s and position > 0 and not length:  # now that the length is known
                frame = read_video_frame(path, position * frame.duration_s, max_side=PREVIEW_MAX_SIDE_PX)
        except (VideoReadError, OSError) as exc:
            self._remember_unreadable(path, exc)
            log.warning("preview: %s cannot be read: %s", path.name, exc)
            raise VideoReadError(str(exc)) from exc
        self.image = LoadedImage(frame.rgb.astype(np.float32) / 255.0)
        self.time_s, self.duration_s, self.source = frame.time_s, frame.duration_s, key
        return self.image

    def _known_unreadable(self, path: Path) -> str | None:
        """Why `path` failed to load last time, unless it changed since."""
        known = self.unreadable.get(path)
        with contextlib.suppress(OSError):
            if known is not None and known[0] == path.stat().st_mtime:
                return known[1]
        return None

    def _remember_unreadable(self, path: Path, exc: Exception) -> None:
        with contextlib.suppress(OSError):
            self.unreadable[path] = (path.stat().st_mtime, str(exc))

    def foreground_masks(self) -> ForegroundMasks:
        if self.masks is None:
            self.masks = load_foreground_masks()
        return self.masks

    def cartoon_model(self, name: str) -> CartoonModel:
        path = resolve_model_path(name)
        key = (path, path.stat().st_mtime)
        if key != self.model_key:
            self.model, self.model_key = load_model(path), key
        return self.model


def render_preview(request: PreviewRequest, cache: _RenderCache, cancel: CancelToken) -> PreviewResult:
    """Decode, shrink as the batch would (max side) and then to preview size, cartoonize with the request's model,
    device, tiles and strength. Raises Cancelled when a newer request came in."""
    started = time.perf_counter()
    options = request.options
    time_s = duration_s = None
    if request.kind is JobKind.VIDEO:
        source, index, count = request.inputs[0], 0, 1
        try:
            image = cache.video_frame(source, request.position)
        except VideoReadError as exc:
            raise PreviewUnavailable(f"Cannot preview {source.name}: {exc}") from exc
        time_s, duration_s = cache.time_s, cache.duration_s
    else:
        pictures = preview_pictures(request.inputs, options.batch_options(request.output_dir))
        count = len(pictures)
        if request.kind is JobKind.FRAMES:
            index = round(min(1.0, max(0.0, request.position)) * (count - 1))
        else:
            index = request.picture_index % count
        index, image = _first_readable(pictures, index, request.direction, cache, cancel)
        source = pictures[index]
        if request.kind is JobKind.FRAMES:
            fps = frame_folder_fps(options)
            time_s, duration_s = index / fps, count / fps
    image = downscale_to_max_side(image, options.max_side_px)
    image = downscale_to_max_side(image, PREVIEW_MAX_SIDE_PX)
    cancel.raise_if_cancelled()
    cartoon = preview_cartoonizer(options, cache).cartoonize(image.rgb, cancel)
    return PreviewResult(request.generation, _to_qimage(image.rgb), _to_qimage(cartoon), source, index, count,
                         time.perf_counter() - started, time_s, duration_s)


def preview_cartoonizer(options: JobOptions, cache: _RenderCache) -> Cartoonizer:
    """The engine set up as the batch will be for these options (`core.batch_setup.build_cartoonizer`), with the
    model and the segmenter loaded once and kept."""
    engine = options.engine_settings()
    try:
        model = cache.cartoon_model(engine.model_name())
    except NoModelError:
        raise PreviewUnavailable("No model installed: import one to see a preview") from None
    masks = None if engine.region_strength.is_uniform else cache.foreground_masks()
    return build_cartoonizer(engine, model, masks)


def _first_readable(pictures: list[Path], index: int, direction: int, cache: _RenderCache,
                    cancel: CancelToken) -> tuple[int, LoadedImage]:
    """The picture at `index`, or the next readable one in `direction` (the cache logs each unreadable one once)."""
    step = -1 if direction < 0 else 1
    for offset in range(len(pictures)):
        cancel.raise_if_cancelled()
        candidate = (index + step * offset) % len(pictures)
        try:
            return candidate, cache.photo(pictures[candidate])
        except ImageReadError:
            continue
    raise PreviewUnavailable("Nothing to preview: none of this job's pictures can be read (see the log)")


def _to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) float RGB in [0, 1] → an independent QImage (safe to hand to the GUI thread)."""
    pixels = np.ascontiguousarray((np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    height, width = pixels.shape[:2]
    return QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class _PreviewRun(GeneratorWorker):
    """One render on the preview's pool; a newer request cancels its token, before or while it runs."""

    def __init__(self, request: PreviewRequest, cache: _RenderCache, cancel: CancelToken):
        super().__init__(lambda: render_preview(request, cache, cancel), cancel)

    def describe_failure(self, exc: Exception) -> str:
        if isinstance(exc, (PreviewUnavailable, BatchSetupError)):  # BatchSetupError: as the job would say it
            return str(exc)
        return f"{exc.__class__.__name__}: {exc}"


class PreviewController(QObject):
    """Turns "show this job with these options" into renders on a one-thread pool, newest request first."""

    rendered = Signal(QImage, QImage, str)     # before, after, caption
    message = Signal(str, bool)                # text, whether the last pictures stay visible under it
    position_changed = Signal(float)           # where on the timeline the shown frame is, in [0, 1]

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._cache = _RenderCache()
        self._run: _PreviewRun | None = None   # the newest request's render; others' results are dropped
        self._generation = 0
        self._cancel = CancelToken()
        self._pending: tuple[Job | None, JobOptions] | None = None
        self._shown: tuple[Job | None, JobOptions] = (None, JobOptions())
        self._picture_index = 0
        self._direction = 1
        self._position = 0.0
        self._keep_pictures = False  # while re-rendering the same job, its last pictures stay under "Rendering…"
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._submit)
        self.last_result: PreviewResult | None = None

    @property
    def position(self) -> float:
        return self._position

    def show_job(self, job: Job | None, options: JobOptions, immediately: bool = False) -> None:
        """Preview `job` (None clears) with `options`; quick successive calls render once. Another job starts
        at its first picture (or frame); the same job keeps the picture being shown."""
        if job is not self._shown[0]:
            self._picture_index, self._direction, self._position = 0, 1, 0.0
            self._keep_pictures = False
            self.last_result = None
            self.position_changed.emit(0.0)
        self._pending = self._shown = (job, options)
        if immediately:
            self._debounce.stop()
            self._submit()
        else:
            self._debounce.start()

    def set_position(self, fraction: float) -> None:
        """Show the frame at `fraction` of a video's or frame folder's timeline (the time slider)."""
        fraction = min(1.0, max(0.0, fraction))
        if self._shown[0] is None or fraction == self._position:
            return
        self._position = fraction
        self._pending = self._shown
        self._debounce.start()

    def step_picture(self, offset: int) -> None:
        """Show the next (+1) or previous (−1) picture of the job being previewed: a photo, a frame of a frame
        folder, or a video one second on or back."""
        job = self._shown[0]
        if job is None:
            return
        if job.kind.has_timeline:
            result = self.last_result
            if result is not None and job.kind is JobKind.FRAMES and result.picture_count > 1:
                step = 1 / (result.picture_count - 1)
            elif result is not None and result.duration_s:
                step = 1 / result.duration_s
            else:
                step = 0.05
            self._position = min(1.0, max(0.0, self._position + offset * step))
            self.position_changed.emit(self._position)
        else:
            self._picture_index += offset
            self._direction = 1 if offset >= 0 else -1
        self._pending = self._shown
        self._debounce.stop()
        self._submit()

    def wait_for_done(self, timeout_ms: int = 10_000) -> bool:
        self._cancel.cancel()
        return self._pool.waitForDone(timeout_ms)

    def _from_newest_run(self) -> bool:
        """Whether the signal being delivered comes from the newest request's render (not a superseded one)."""
        return self._run is not None and self.sender() is self._run.signals

    def _submit(self) -> None:
        if self._pending is None:
            return
        job, options = self._pending
        self._pending = None
        self._cancel.cancel()  # the render in progress (if any) stops at its next tile; a queued one never starts
        self._generation += 1
        self._run = None
        if job is None:
            self.last_result = None
            self.message.emit("Select a job to preview it", False)
            return
        self._cancel = CancelToken()
        request = PreviewRequest(self._generation, tuple(job.inputs), job.kind, job.output_dir, options,
                                 self._picture_index, self._direction, self._position)
        self.message.emit("Rendering preview…", self._keep_pictures)
        self._run = _PreviewRun(request, self._cache, self._cancel)
        self._run.signals.returned.connect(self._on_rendered)
        self._run.signals.errored.connect(self._on_failed)
        self._run.start(self._pool)

    def _on_rendered(self, result: PreviewResult) -> None:
        if not self._from_newest_run():
            return
        self.last_result = result
        self._picture_index = result.picture_index
        self._keep_pictures = True
        self.rendered.emit(result.before, result.after, result.caption())

    def _on_failed(self, text: str, trace: str, exc: Exception) -> None:
        if isinstance(exc, PreviewUnavailable):
            text_shown = text
        else:
            log.error("preview failed: %s", text, extra=details(trace))
            text_shown = f"Preview failed: {text}"
        if self._from_newest_run():
            self._keep_pictures = False
            self.message.emit(text_shown, False)
