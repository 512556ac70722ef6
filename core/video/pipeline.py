"""The threaded frame pipeline every video-like job runs (videos, frame folders, animated pictures): one thread
decodes frames into a bounded queue; the caller's thread cartoonizes them in batches on the model's device; another
thread (temporally smooths and) writes them from a second bounded queue, so memory stays flat however long the video
is, and decoding and encoding overlap inference.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Generator

import numpy as np

from core.cancel import CancelToken
from core.cartoonizer import Cartoonizer
from core.region_strength import MaskHistory
from core.temporal_smoothing import TemporalSmoother
from core.video.frames import Frame, FrameSink, FrameSource
from core.video.options import FrameCount, VideoOptions, VideoReadError

_POLL_S = 0.05                         # how often blocked threads look at cancel and failure flags
_END = object()


@dataclass
class _Failure:
    error: BaseException


def run_frame_pipeline(reader: FrameSource, sink: FrameSink, cartoonizer: Cartoonizer, options: VideoOptions,
                       cancel: CancelToken) -> Generator[FrameCount, None, int]:
    """Decode thread → bounded queue → batched inference here → bounded queue → encode thread (videos, frame folders
    and animated pictures alike). Returns the number of frames written. Both threads are stopped and joined before
    this returns or raises, so the caller may close the containers they used."""
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=max(1, options.queue_frames))
    to_encode: queue.Queue = queue.Queue(maxsize=max(1, options.queue_frames))
    encoder_failed: list[BaseException] = []
    encoder_finished = threading.Event()
    smoother = TemporalSmoother(options.smoothing) if options.temporal_smoothing else None
    history = MaskHistory()   # the region-strength mask, smoothed over this video's frames

    def decode() -> None:
        frames = reader.frames()
        try:
            for frame in frames:
                if not _put(decoded, frame, stop):
                    return
            _put(decoded, _END, stop)
        except BaseException as exc:  # handed to the inference loop, which raises it in the caller's thread
            _put(decoded, _Failure(exc), stop)
        finally:
            frames.close()  # here, while the container is still open, not later by the garbage collector

    def encode() -> None:
        try:
            while not stop.is_set():
                try:
                    item = to_encode.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                if item is _END:
                    sink.finish()
                    encoder_finished.set()
                    return
                frame, cartoon = item
                if smoother is not None:
                    cartoon = smoother.smooth(frame.rgb, cartoon)
                sink.write(frame, cartoon)
        except BaseException as exc:
            encoder_failed.append(exc)
            stop.set()

    def check() -> None:
        cancel.raise_if_cancelled()
        if encoder_failed:
            raise encoder_failed[0]

    def hand_over(item: object) -> None:
        while not _put(to_encode, item, stop, timeout_s=_POLL_S):
            check()
            if stop.is_set():
                raise RuntimeError("the video encoder stopped")

    def next_decoded() -> Any:
        while True:
            try:
                item = decoded.get(timeout=_POLL_S)
            except queue.Empty:
                check()
                continue
            if isinstance(item, _Failure):
                raise item.error
            return item

    threads = [threading.Thread(target=decode, name="video-decoder", daemon=True),
               threading.Thread(target=encode, name="video-encoder", daemon=True)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    done, total = 0, reader.frames_total
    try:
        carried: Frame | None = None
        ended = False
        while not ended:
            batch = [carried] if carried is not None else []
            carried = None
            while len(batch) < max(1, options.batch_frames):
                item = next_decoded()
                if item is _END:
                    ended = True
                    break
                if batch and item.rgb.shape != batch[0].rgb.shape:
                    carried = item  # a batch holds frames of one size; this one starts the next
                    break
                batch.append(item)
            if not batch:
                continue
            check()
            cartoons = cartoonizer.cartoonize_batch(np.stack([frame.rgb for frame in batch]), cancel, history)
            for frame, cartoon in zip(batch, cartoons):
                hand_over((frame, cartoon))
            done += len(batch)
            elapsed = time.perf_counter() - started
            fps = done / elapsed if elapsed > 0 else 0.0
            if total is not None and done > total:
                total = done
            eta = (total - done) / fps if total is not None and fps > 0 else None
            yield FrameCount(done, total, fps, eta)
        if done == 0:
            raise VideoReadError("the video stream holds no decodable frames")
        hand_over(_END)
        while not encoder_finished.wait(_POLL_S):
            check()
            if stop.is_set():
                raise RuntimeError("the video encoder stopped")
        return done
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _put(target: queue.Queue, item: object, stop: threading.Event, timeout_s: float | None = None) -> bool:
    """Put `item`, waiting while the queue is full; False if `stop` was set (or `timeout_s` passed) first."""
    deadline = None if timeout_s is None else time.perf_counter() + timeout_s
    while not stop.is_set():
        try:
            target.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            if deadline is not None and time.perf_counter() >= deadline:
                return False
    return False
