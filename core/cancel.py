"""Cooperative cancellation shared by the CLI, the GUI worker and the trainer."""
from __future__ import annotations

import threading


class Cancelled(Exception):
    """Raised inside the engine when its CancelToken was cancelled; callers treat it as a clean stop."""


class CancelToken:
    """A thread-safe flag the engine checks between tiles, frames and files."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()
