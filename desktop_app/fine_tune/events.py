"""Splits the trainer's stdout into its events: `cartoonize-train` prints one JSON object per line, and a pipe hands
them over in arbitrary chunks (half a line, several lines, a UTF-8 character cut in two).

Qt-free. `JsonLineReader.feed(chunk)` returns the complete events so far (`trainer.events`, parsed by
`trainer.events.parse_event`) and keeps the unfinished tail for the next chunk; a line that is no event (a stray
print, a library's warning on stdout) or an event that does not fit its kind is kept in `garbage` and never raises.
`LineBuffer` does the same for plain text lines (the trainer's stderr).
"""
from __future__ import annotations

from trainer.events import EventFormatError, TrainerEvent, parse_event

MAX_LINE_BYTES = 1 << 20  # a "line" longer than this without a newline is not ours: it is dropped as garbage


class LineBuffer:
    """Bytes in, complete text lines out (without their line ending); the unfinished tail waits for more."""

    def __init__(self) -> None:
        self._tail = b""
        self.overlong = 0  # lines dropped for being longer than MAX_LINE_BYTES

    def feed(self, chunk: bytes) -> list[str]:
        *lines, self._tail = (self._tail + bytes(chunk)).split(b"\n")
        if len(self._tail) > MAX_LINE_BYTES:
            self._tail = b""
            self.overlong += 1
        return [_text(line) for line in lines]

    def flush(self) -> list[str]:
        """The last line when the stream ended without a newline (a crashed process)."""
        tail, self._tail = self._tail, b""
        return [_text(tail)] if tail.strip() else []


class JsonLineReader:
    """The trainer's stdout as a stream of typed events."""

    def __init__(self) -> None:
        self._lines = LineBuffer()
        self.garbage: list[str] = []  # lines that were not events, for the log

    def feed(self, chunk: bytes) -> list[TrainerEvent]:
        return self._events(self._lines.feed(chunk))

    def flush(self) -> list[TrainerEvent]:
        return self._events(self._lines.flush())

    def _events(self, lines: list[str]) -> list[TrainerEvent]:
        events = []
        for line in lines:
            try:
                event = parse_event(line)
            except EventFormatError:
                event = None
            if event is not None:
                events.append(event)
            elif line.strip():
                self.garbage.append(line)
        return events


def _text(line: bytes) -> str:
    return line.rstrip(b"\r").decode("utf-8", errors="replace")
