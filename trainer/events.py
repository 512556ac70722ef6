"""What `cartoonize-train` tells its caller: typed progress events, one JSON object per line on stdout, and its exit
codes. The training loop, the segmenter training and the CLI's commands emit these events; the desktop wizard reads
them back from the trainer process with `parse_event`.

The lines are a file format too (a run's `train.log`), so they keep their shape: a flat object whose "event" key
names the kind. Some kinds are shared (a training run, `make-targets` and `evaluate` each end with "done"):
`event_from_json` tells them apart by their keys. Keys a newer trainer adds are ignored; a kind this build does not
know becomes an `UnknownEvent`, so a reader can log it and go on; a known kind with missing or mistyped keys raises
`EventFormatError`. Stdlib only: the GUI imports this without torch.
"""
from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

# The CLI's exit codes; the wizard reads a finished trainer's outcome from them.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2          # a bad command line or config
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C / SIGTERM (after saving a checkpoint: `--resume` continues)


class EventFormatError(ValueError):
    """A line names a known kind of event, but its keys or values do not fit that kind."""


class TrainerEvent:
    """Base of the events. A subclass is a frozen dataclass whose fields are the line's keys, in the line's order."""

    KIND: ClassVar[str]
    CONSTANT_KEYS: ClassVar[Mapping[str, Any]] = {}    # written on every line of the class, not stored
    LEGACY_DEFAULTS: ClassVar[Mapping[str, Any]] = {}  # keys older trainers did not write, and what they meant
    SPREAD_FIELD: ClassVar[str | None] = None          # a dict field whose items are the line's other keys

    def to_json(self) -> dict[str, Any]:
        """The line's object (JSON-able: paths become text)."""
        data: dict[str, Any] = {"event": self.KIND, **self.CONSTANT_KEYS}
        for item in fields(self):  # type: ignore[arg-type]  (every subclass is a dataclass)
            value = getattr(self, item.name)
            if item.name == self.SPREAD_FIELD:
                data.update(value)
            else:
                data[item.name] = str(value) if isinstance(value, Path) else value
        return data

    def to_line(self) -> str:
        return json.dumps(self.to_json())

    @classmethod
    def fits(cls, data: Mapping[str, Any]) -> bool:
        """Whether `data` has this class's keys (how classes that share a kind are told apart)."""
        return (all(name in data for name in _required_keys(cls))
                and all(data.get(key) == value for key, value in cls.CONSTANT_KEYS.items()))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainerEvent:
        """The event `data` (a parsed line) describes; raises `EventFormatError` when it does not fit."""
        values: dict[str, Any] = {}
        for name, hint in _field_types(cls).items():
            if name == cls.SPREAD_FIELD:
                named = {"event", *cls.CONSTANT_KEYS, *_field_types(cls)}
                value = {key: item for key, item in data.items() if key not in named}
            elif name in data:
                value = data[name]
            elif name in cls.LEGACY_DEFAULTS:
                value = cls.LEGACY_DEFAULTS[name]
            else:
                raise EventFormatError(f'a "{cls.KIND}" event without "{name}": {dict(data)}')
            values[name] = _checked(value, hint, f'"{cls.KIND}" event\'s "{name}"')
        return cls(**values)


EventSink = Callable[[TrainerEvent], None]


# --- training (trainer.loop) ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingStarted(TrainerEvent):
    """The run is set up: from `step` (0, or where a resumed checkpoint stopped) to `total_steps`."""

    KIND = "start"
    LEGACY_DEFAULTS = {"warm_start_steps": 0}  # runs before the warm start existed

    run_dir: Path
    step: int
    total_steps: int
    pretrain_steps: int
    warm_start_steps: int
    device: str
    world_size: int
    precision: str                 # fp32 | float16 | bfloat16
    photos: int
    cartoons: int
    resumed_from: Path | None


@dataclass(frozen=True)
class TrainingProgress(TrainerEvent):
    """Every `log_every` steps: each loss term averaged over the steps since the last line (which terms depends on
    the phase; the segmenter's training also logs its learning rate, "lr", here), and the speed."""

    KIND = "log"
    SPREAD_FIELD = "losses"

    step: int
    phase: str                     # pretrain | warmstart | train | segmenter
    losses: dict[str, float]
    images_per_s: float
    eta_s: float

    def record(self) -> dict[str, Any]:
        """The line without its kind: one entry of a checkpoint's metrics history."""
        data = self.to_json()
        del data["event"]
        return data


@dataclass(frozen=True)
class TargetsProgress(TrainerEvent):
    """Cartoon targets made so far (`trainer.cartoon_target`), before a warm start or by `make-targets`."""

    KIND = "targets"

    done: int
    total: int
    made: int
    reused: int
    failed: int
    folder: Path


@dataclass(frozen=True)
class SampleWritten(TrainerEvent):
    """A sample grid (photo | cartoon rows) of the generator at `step`."""

    KIND = "sample"

    step: int
    path: Path


@dataclass(frozen=True)
class CheckpointSaved(TrainerEvent):
    KIND = "checkpoint"

    step: int
    path: Path


@dataclass(frozen=True)
class TrainingStopped(TrainerEvent):
    """Stopped by a signal or a cancel after `step` (a training run saved a checkpoint first); exit code 130."""

    KIND = "stopped"

    step: int
    reason: str                    # SIGINT | SIGTERM | cancelled


@dataclass(frozen=True)
class ModelExported(TrainerEvent):
    """The end of a training run, or of `export`: the engine model file of the generator at `step`."""

    KIND = "done"

    step: int
    model: Path


# --- the semantic module (trainer.segmenter_training) -------------------------------------------------------------
@dataclass(frozen=True)
class SegmenterTrainingStarted(TrainerEvent):
    """`domains`: per domain, its training and held-out image counts ({"train": n, "heldout": m})."""

    KIND = "start"
    CONSTANT_KEYS = {"task": "segmenter"}

    device: str
    steps: int
    domains: dict[str, dict[str, int]]


@dataclass(frozen=True)
class SegmenterEvaluated(TrainerEvent):
    """Held-out foreground IoU per domain at `step`."""

    KIND = "eval"

    step: int
    iou: dict[str, float]
    mean_iou: float


@dataclass(frozen=True)
class SegmenterSaved(TrainerEvent):
    KIND = "done"

    segmenter: Path
    iou: dict[str, float]


# --- the other commands (trainer.cli) ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TargetsDone(TrainerEvent):
    """The end of `make-targets`."""

    KIND = "done"

    output: Path
    made: int
    reused: int
    failed: int


@dataclass(frozen=True)
class KeyframesExtracted(TrainerEvent):
    """One video of `extract-keyframes`: frames kept, and why the others were not (`error`: it could not be read)."""

    KIND = "keyframes"

    video: Path
    kept: int
    analysed_frames: int
    scenes: int
    near_duplicates: int
    blank: int
    too_short: int
    error: str | None


@dataclass(frozen=True)
class KeyframesDone(TrainerEvent):
    """The end of `extract-keyframes`: key-frames written, videos that failed."""

    KIND = "done"

    output: Path
    kept: int
    failed: int


@dataclass(frozen=True)
class SheetWritten(TrainerEvent):
    """`evaluate`'s side-by-side sheet."""

    KIND = "sheet"

    path: Path


@dataclass(frozen=True)
class ModelEvaluated(TrainerEvent):
    """One row of `evaluate`: the record `trainer.evaluate.evaluate_contenders` made (model, FID/KID scores, …)."""

    KIND = "evaluation"
    SPREAD_FIELD = "result"

    result: dict[str, Any]


@dataclass(frozen=True)
class EvaluationDone(TrainerEvent):
    KIND = "done"

    models: int


@dataclass(frozen=True)
class TrainerFailed(TrainerEvent):
    """Why the command failed (also on stderr); the exit code follows."""

    KIND = "error"

    message: str


@dataclass(frozen=True)
class UnknownEvent(TrainerEvent):
    """A kind this build does not know (a newer trainer's): kept whole, for a reader to log or ignore."""

    KIND = ""

    kind: str
    data: dict[str, Any]           # the line's other keys

    def to_json(self) -> dict[str, Any]:
        return {"event": self.kind, **self.data}


# Where one kind has several classes, the first that fits wins.
EVENT_CLASSES: tuple[type[TrainerEvent], ...] = (
    TrainingStarted, SegmenterTrainingStarted, TrainingProgress, TargetsProgress, SampleWritten, CheckpointSaved,
    TrainingStopped, SegmenterEvaluated, ModelExported, SegmenterSaved, TargetsDone, KeyframesDone, EvaluationDone,
    KeyframesExtracted, SheetWritten, ModelEvaluated, TrainerFailed,
)


def event_from_json(data: Mapping[str, Any]) -> TrainerEvent:
    """The event a line's object describes: its class by "event" (and, for a shared kind, by its keys), or an
    `UnknownEvent` for an unknown kind. Raises `EventFormatError` when it is no event or does not fit its kind."""
    kind = data.get("event")
    if not isinstance(kind, str) or not kind:
        raise EventFormatError(f'not an event (no text "event" key): {dict(data)}')
    candidates = [cls for cls in EVENT_CLASSES if cls.KIND == kind]
    if not candidates:
        return UnknownEvent(kind, {key: value for key, value in data.items() if key != "event"})
    for cls in candidates:
        if cls.fits(data):
            return cls.from_json(data)
    if len(candidates) == 1:
        return candidates[0].from_json(data)  # raises, naming the missing key
    names = ", ".join(cls.__name__ for cls in candidates)
    raise EventFormatError(f'a "{kind}" event that fits none of {names}: {dict(data)}')


def parse_event(line: str) -> TrainerEvent | None:
    """The event on one line; None when the line is not a JSON object with a text "event" key (a stray print).
    Raises `EventFormatError` for a known kind whose keys do not fit it."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("event"), str) or not value["event"]:
        return None
    return event_from_json(value)


def print_json_event(event: TrainerEvent) -> None:
    """One JSON object per line on stdout, flushed: what the desktop app reads from a QProcess."""
    print(event.to_line(), flush=True)


def ignore_event(_event: TrainerEvent) -> None:
    """A sink for those who report nothing (ranks other than 0)."""


# --- checking values against the fields' types ---------------------------------------------------------------------
@cache
def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {item.name: hints[item.name] for item in fields(cls)}


def _required_keys(cls: type[TrainerEvent]) -> list[str]:
    return [name for name in _field_types(cls) if name not in cls.LEGACY_DEFAULTS and name != cls.SPREAD_FIELD]


def _checked(value: Any, hint: Any, what: str) -> Any:
    """`value` as the type `hint` names (int, float, str, Path, dicts of them, `X | None`, Any), else
    `EventFormatError`. An int is a float too (JSON writes 2.0 as 2 in some producers); a bool is neither."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        for option in (arg for arg in args if arg is not type(None)):
            try:
                return _checked(value, option, what)
            except EventFormatError:
                pass
    elif origin is dict:
        if isinstance(value, dict) and all(isinstance(key, str) for key in value):
            return {key: _checked(item, args[1], f"{what}[{key!r}]") for key, item in value.items()}
    elif isinstance(value, bool):
        pass
    elif hint is int and isinstance(value, int):
        return value
    elif hint is float and isinstance(value, (int, float)):
        return float(value)
    elif hint is str and isinstance(value, str):
        return value
    elif hint is Path and isinstance(value, str):
        return Path(value)
    raise EventFormatError(f"{what} is {value!r}, not {getattr(hint, '__name__', hint)}")
