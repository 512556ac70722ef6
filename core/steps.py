"""Running the engine's step generators: entry points such as `Cartoonizer.cartoonize_steps`, `cartoonize_video` and
`run_frame_pipeline` yield progress events and return their result, so that a caller can report while they run
(the GUI turns the events into signals). These are the two ways to consume one without a hand-written loop."""
from __future__ import annotations

from typing import Any, Callable, Generator, TypeVar

Event = TypeVar("Event")
Converted = TypeVar("Converted")
Result = TypeVar("Result")


def drain(steps: Generator[Event, Any, Result], on_step: Callable[[Event], None] | None = None) -> Result:
    """Run `steps` to the end and return its result, handing each event to `on_step` if given."""
    while True:
        try:
            event = next(steps)
        except StopIteration as finished:
            return finished.value
        if on_step is not None:
            on_step(event)


def relay(steps: Generator[Event, Any, Result],
          convert: Callable[[Event], Converted]) -> Generator[Converted, None, Result]:
    """Yield each event of `steps` as `convert` makes it and return its result: `yield from` with a translation
    (e.g. a job's frame counts into the batch's progress events)."""
    while True:
        try:
            event = next(steps)
        except StopIteration as finished:
            return finished.value
        yield convert(event)
