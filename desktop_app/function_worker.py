"""Run one blocking call (import a model, list devices, count a folder) off the GUI thread and hear back by signals,
in the manner of superqt's `thread_worker`: a `GeneratorWorker` whose work is a plain call, so that the result and
any exception arrive as signals on the GUI thread."""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QThreadPool

from desktop_app.generator_worker import GeneratorWorker


def run_in_background(function: Callable[..., Any], *args: Any,
                      on_returned: Callable[[Any], None] | None = None,
                      on_errored: Callable[[str, str], None] | None = None,
                      pool: QThreadPool | None = None, **kwargs: Any) -> GeneratorWorker:
    """Start `function(*args, **kwargs)` on `pool` (the global pool by default) with the given result slot and
    error slot (message for people, traceback for the log)."""
    worker = GeneratorWorker(lambda: function(*args, **kwargs))
    if on_returned:
        worker.signals.returned.connect(on_returned)
    if on_errored:
        worker.signals.errored.connect(on_errored)
    return worker.start(pool)
