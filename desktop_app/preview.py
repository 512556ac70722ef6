"""The preview: the selected job's first photo (or frame) and its cartoon, rendered on a worker with the current
model and options, downscaled so that it answers in a moment even for big photos.

Requests are coalesced: a newer request cancels the render in progress (the engine stops at its next tile) and
results of stale requests are dropped. The worker keeps the decoded photo and the loaded model between renders, so
moving the strength slider does not reload either.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal
from PySide6.QtGui import QImage

from core.batch import BatchOptions, plan_batch
from core.cancel import CancelToken, Cancelled
from core.cartoonizer import Cartoonizer
from core.image_io import LoadedImage, downscale_to_max_side, is_image_path, read_image
from core.model_file import CartoonModel
from core.model_registry import default_model_name, load_model, resolve_model_path

from desktop_app.job import Job
from desktop_app.job_inputs import VIDEO, find_frame_sequence
from desktop_app.job_options import JobOptions

PREVIEW_MAX_SIDE_PX = 720
DEBOUNCE_MS = 250
log = logging.getLogger("desktop_app.preview")


class PreviewUnavailable(Exception):
    """This job has nothing to preview yet (e.g. a video before the engine can read single frames)."""


@dataclass(frozen=True)
class PreviewRequest:
    generation: int
    inputs: tuple[Path, ...]
    kind: str
    output_dir: Path
    options: JobOptions
    picture_index: int = 0          # which of the job's pictures; wraps around


@dataclass(frozen=True)
class PreviewResult:
    generation: int
    before: QImage
    after: QImage
    source: Path
    picture_index: int              # in [0, picture_count)
    picture_count: int
    seconds: float


def preview_pictures(inputs: tuple[Path, ...], kind: str, output_dir: Path) -> list[Path]:
    """The pictures a job's preview can show, in the engine's order: its photos as the batch would plan them, or
    the frames of a frame folder."""
    if kind == VIDEO:
        raise PreviewUnavailable("Video preview arrives with the video engine")
    pictures: list[Path] = []
    for item in plan_batch(list(inputs), BatchOptions(output_dir)).runnable:
        source = Path(item.source)
        if source.is_file() and is_image_path(source):
            pictures.append(source)
        elif source.is_dir():
            sequence = find_frame_sequence(source)
            pictures.extend(sequence.frames if sequence is not None else ())
    if not pictures:
        raise PreviewUnavailable("Nothing to preview: no photo found in this job")
    return pictures


class _RenderCache:
    """What the preview worker keeps between renders; used from the preview pool's single thread only."""

    def __init__(self) -> None:
        self.source: tuple[Path, float] | None = None
        self.image: LoadedImage | None = None
        self.model_key: tuple[Path, float] | None = None
        self.model: CartoonModel | None = None

    def photo(self, path: Path) -> LoadedImage:
        key = (path, path.stat().st_mtime)
        if key != self.source:
            self.image, self.source = read_image(path), key
        return self.image

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
    pictures = preview_pictures(request.inputs, request.kind, request.output_dir)
    index = request.picture_index % len(pictures)
    source = pictures[index]
    image = downscale_to_max_side(cache.photo(source), options.max_side_px)
    image = downscale_to_max_side(image, PREVIEW_MAX_SIDE_PX)
    cancel.raise_if_cancelled()
    model_name = options.model or default_model_name()
    if model_name is None:
        raise PreviewUnavailable("No model installed: import one to see a preview")
    cartoonizer = Cartoonizer(cache.cartoon_model(model_name), options.device, options.precision,
                              tile_size=options.tile_size_px, strength=options.strength)
    cartoon = cartoonizer.cartoonize(image.rgb, cancel)
    return PreviewResult(request.generation, _to_qimage(image.rgb), _to_qimage(cartoon), source, index,
                         len(pictures), time.perf_counter() - started)


def _to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) float RGB in [0, 1] → an independent QImage (safe to hand to the GUI thread)."""
    pixels = np.ascontiguousarray((np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    height, width = pixels.shape[:2]
    return QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class _PreviewSignals(QObject):
    rendered = Signal(object)          # PreviewResult
    unavailable = Signal(int, str)     # generation, message
    failed = Signal(int, str, str)     # generation, message, traceback


class _PreviewRun(QRunnable):
    def __init__(self, request: PreviewRequest, cache: _RenderCache, cancel: CancelToken,
                 latest: Callable[[], int], signals: _PreviewSignals):
        super().__init__()
        self.request, self.cache, self.cancel, self.latest, self.signals = request, cache, cancel, latest, signals

    def run(self) -> None:
        if self.request.generation != self.latest():
            return  # superseded while it waited
        try:
            result = render_preview(self.request, self.cache, self.cancel)
        except Cancelled:
            return
        except PreviewUnavailable as exc:
            self.signals.unavailable.emit(self.request.generation, str(exc))
        except Exception as exc:  # shown in the preview; the traceback goes to the log
            self.signals.failed.emit(self.request.generation, f"{exc.__class__.__name__}: {exc}",
                                     traceback.format_exc())
        else:
            self.signals.rendered.emit(result)


class PreviewController(QObject):
    """Turns "show this job with these options" into renders on a one-thread pool, newest request first."""

    rendered = Signal(QImage, QImage, str)     # before, after, caption
    message = Signal(str, bool)                # text, whether the last pictures stay visible under it

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._cache = _RenderCache()
        self._signals = _PreviewSignals(self)
        self._signals.rendered.connect(self._on_rendered)
        self._signals.unavailable.connect(self._on_unavailable)
        self._signals.failed.connect(self._on_failed)
        self._generation = 0
        self._lock = threading.Lock()
        self._cancel = CancelToken()
        self._pending: tuple[Job | None, JobOptions] | None = None
        self._shown: tuple[Job | None, JobOptions] = (None, JobOptions())
        self._picture_index = 0
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._submit)
        self.last_result: PreviewResult | None = None

    def show_job(self, job: Job | None, options: JobOptions, immediately: bool = False) -> None:
        """Preview `job` (None clears) with `options`; quick successive calls render once. Another job starts
        at its first picture; the same job keeps the picture being shown."""
        if job is not self._shown[0]:
            self._picture_index = 0
            self.last_result = None
        self._pending = self._shown = (job, options)
        if immediately:
            self._debounce.stop()
            self._submit()
        else:
            self._debounce.start()

    def step_picture(self, offset: int) -> None:
        """Show the next (+1) or previous (−1) picture of the job being previewed."""
        if self._shown[0] is None:
            return
        self._picture_index += offset
        self._pending = self._shown
        self._debounce.stop()
        self._submit()

    def wait_for_done(self, timeout_ms: int = 10_000) -> bool:
        self._cancel.cancel()
        return self._pool.waitForDone(timeout_ms)

    def _latest(self) -> int:
        with self._lock:
            return self._generation

    def _submit(self) -> None:
        if self._pending is None:
            return
        job, options = self._pending
        self._pending = None
        self._cancel.cancel()  # the render in progress (if any) stops at its next tile
        with self._lock:
            self._generation += 1
            generation = self._generation
        if job is None:
            self.last_result = None
            self.message.emit("Select a job to preview it", False)
            return
        self._cancel = CancelToken()
        request = PreviewRequest(generation, tuple(job.inputs), job.kind, job.output_dir, options,
                                 self._picture_index)
        self.message.emit("Rendering preview…", True)
        self._pool.start(_PreviewRun(request, self._cache, self._cancel, self._latest, self._signals))

    def _on_rendered(self, result: PreviewResult) -> None:
        if result.generation != self._latest():
            return
        self.last_result = result
        self._picture_index = result.picture_index
        caption = f"{result.source.name} ({result.picture_index + 1} of {result.picture_count}) · " \
                  f"{result.after.width()}×{result.after.height()} preview · {result.seconds:.1f} s"
        self.rendered.emit(result.before, result.after, caption)

    def _on_unavailable(self, generation: int, text: str) -> None:
        if generation == self._latest():
            self.message.emit(text, False)

    def _on_failed(self, generation: int, text: str, trace: str) -> None:
        log.error("preview failed: %s\n%s", text, trace.rstrip())
        if generation == self._latest():
            self.message.emit(f"Preview failed: {text}", False)
