"""Runs one job through the batch engine on a `GeneratorWorker`: each engine event becomes a `yielded` signal.

The same entry point as the CLI (`core.batch_setup.prepare_batch`, then the ready batch's events), called on the
worker thread, so model loading never blocks the GUI. A job that cannot start is reported with the kind of failure
(`core.failures.FailureKind`: model, device, encoder …, see `batch_failure_kind`), so that the queue can offer a
retry on the CPU.

Pause stops pulling events from the engine's generator (it then waits at its next yield: between tiles, frames or
files); cancel sets the engine's CancelToken, which stops it between tiles and frames and leaves no partial file.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core import batch_setup
from core.failures import FailureKind, failure_kind, failure_message

from desktop_app.generator_worker import GeneratorWorker
from desktop_app.job_options import JobOptions

NO_MODEL_MESSAGE = "no model is installed: import one with Models → Import model…"


@dataclass(frozen=True)
class BatchRequest:
    """Everything the worker needs, copied from the job so the GUI may edit the job while it runs."""

    job_id: int
    inputs: tuple[Path, ...]
    output_dir: Path
    options: JobOptions


class BatchWorker(GeneratorWorker):
    """One job, one run: `yielded` carries core.batch events (BatchStarted, ItemStarted, TileProgress, …);
    `errored` means the job could not run at all."""

    def __init__(self, request: BatchRequest):
        super().__init__(self._events)
        self.request = request

    def _events(self) -> Iterator[object]:
        options = self.request.options
        request = batch_setup.BatchRequest(self.request.inputs, options.batch_options(self.request.output_dir),
                                           options.engine_settings())
        yield from batch_setup.prepare_batch(request).run(self.cancel_token)

    def describe_failure(self, exc: Exception) -> str:
        if isinstance(exc, batch_setup.NoModelError):
            return NO_MODEL_MESSAGE
        if isinstance(exc, batch_setup.BatchSetupError):
            return str(exc)
        return failure_message(exc)


def batch_failure_kind(exc: Exception) -> FailureKind:
    """Why a job could not run, as the engine classifies it (its setup errors carry their kind)."""
    if isinstance(exc, batch_setup.BatchSetupError):
        return exc.kind
    return failure_kind(exc)
