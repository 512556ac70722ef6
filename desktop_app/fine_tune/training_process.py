"""Runs `cartoonize-train` in its own process (QProcess) and turns what it prints into signals.

A separate process, not a worker thread: a crash, an out-of-memory kill or a CUDA fault ends the trainer, never the
GUI, and Stop can use the trainer's own SIGTERM handling (finish the step, save a checkpoint, exit 130). stdout
carries `trainer.events` as JSON lines (split by `fine_tune.events`); stderr is plain text for the log, of which the
last lines are kept to explain a failure. On Windows `terminate()` cannot signal a console process, so Stop ends it
there without a checkpoint (QProcess.kill) after STOP_GRACE_MS.
"""
from __future__ import annotations

import enum
import logging
import os
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from trainer.events import EXIT_INTERRUPTED, EXIT_OK, ModelExported, TrainerEvent, TrainerFailed, TrainingStopped

from desktop_app.fine_tune.events import JsonLineReader, LineBuffer

log = logging.getLogger("desktop_app.fine_tune")
STDERR_TAIL_LINES = 15
STOP_GRACE_MS = 120_000  # a slow CPU step plus a checkpoint; after that Stop becomes a kill
FINAL_EVENTS = (ModelExported, TrainingStopped, TrainerFailed)  # how a training run ends, kept for `describe_exit`


def trainer_command() -> list[str]:
    """How to start the trainer: this interpreter with `-m trainer`, so a venv or an installed app runs the same
    trainer package the GUI imported (its folder is put on PYTHONPATH by `TrainingProcess`). A frozen app has no
    interpreter to hand `-m`: its own executable runs the trainer (`Cartoonizer cartoonize-train …`, see
    desktop_app.launcher)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "cartoonize-train"]
    return [sys.executable, "-m", "trainer"]


class Outcome(enum.Enum):
    DONE = "done"          # exit 0 with a "done" event
    STOPPED = "stopped"    # Stop, or Ctrl-C: the trainer saved a checkpoint first (exit 130)
    FAILED = "failed"      # the trainer reported an error, or exited non-zero
    CRASHED = "crashed"    # killed by a signal, or never started


@dataclass(frozen=True)
class RunResult:
    outcome: Outcome
    message: str                 # one paragraph for people: what happened and, on failure, why
    exit_code: int | None
    stderr_tail: tuple[str, ...]
    last_event: TrainerEvent | None  # ModelExported, TrainingStopped or TrainerFailed when the trainer said so


class TrainingProcess(QObject):
    """One trainer process at a time. `start()` again after it finished (with --resume, say) reuses the object."""

    started = Signal()
    event = Signal(object)         # every trainer event (a trainer.events class), in order
    stderr_line = Signal(str)
    garbage_line = Signal(str)     # stdout lines that were not events
    finished = Signal(object)      # RunResult; always the last signal of a run

    def __init__(self, command: Sequence[str] | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.command = list(command or trainer_command())
        self._process: QProcess | None = None
        self._events = JsonLineReader()
        self._stderr = LineBuffer()
        self._tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._last_event: TrainerEvent | None = None
        self._stop_requested = False
        self._kill_timer = QTimer(self, singleShot=True, interval=STOP_GRACE_MS)
        self._kill_timer.timeout.connect(self.kill)

    @property
    def running(self) -> bool:
        return self._process is not None

    @property
    def stopping(self) -> bool:
        return self.running and self._stop_requested

    def start(self, arguments: Sequence[str], working_dir: Path | None = None) -> None:
        """Start `command + arguments`; `finished` follows exactly once, whatever happens."""
        if self._process is not None:
            raise RuntimeError("the trainer is already running")
        self._events, self._stderr = JsonLineReader(), LineBuffer()
        self._tail.clear()
        self._last_event, self._stop_requested = None, False
        process = QProcess(self)
        process.setProgram(self.command[0])
        process.setArguments([*self.command[1:], *arguments])
        process.setProcessEnvironment(_environment())
        if working_dir is not None:
            process.setWorkingDirectory(str(working_dir))
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        process.started.connect(self.started)
        self._process = process
        log.info("starting the trainer: %s", " ".join([self.command[0], *process.arguments()]))
        process.start()

    def stop(self) -> None:
        """Ask the trainer to stop after its current step and save a checkpoint (SIGTERM on Unix)."""
        if self._process is None or self._stop_requested:
            return
        self._stop_requested = True
        log.info("asking the trainer to stop (it saves a checkpoint first)")
        self._process.terminate()
        self._kill_timer.start()

    def kill(self) -> None:
        """End the trainer at once: no checkpoint of the current step (the last periodic one stays)."""
        if self._process is not None:
            log.warning("killing the trainer")
            self._process.kill()

    def wait(self, timeout_ms: int) -> bool:
        """Block until the process has finished (shutdown only; the GUI otherwise never waits)."""
        if self._process is None:
            return True
        return self._process.waitForFinished(timeout_ms)

    # --- reading -------------------------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        if self._process is not None:
            self._deliver(self._events.feed(self._process.readAllStandardOutput().data()))

    def _read_stderr(self) -> None:
        if self._process is not None:
            self._deliver_stderr(self._stderr.feed(self._process.readAllStandardError().data()))

    def _deliver(self, events: list[TrainerEvent]) -> None:
        for event in events:
            if isinstance(event, FINAL_EVENTS):
                self._last_event = event
            self.event.emit(event)
        for line in self._events.garbage:
            self.garbage_line.emit(line)
        self._events.garbage.clear()

    def _deliver_stderr(self, lines: list[str]) -> None:
        for line in lines:
            if line.strip():
                self._tail.append(line)
                self.stderr_line.emit(line)

    # --- ending --------------------------------------------------------------------------------------------------
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            message = f"Could not start the trainer ({self.command[0]}): {self._process.errorString()}"
            self._finish(RunResult(Outcome.CRASHED, message, None, (), None))

    def _on_finished(self, exit_code: int, status: QProcess.ExitStatus) -> None:
        if self._process is None:
            return
        self._read_stdout()
        self._read_stderr()
        self._deliver(self._events.flush())
        self._deliver_stderr(self._stderr.flush())
        crashed = status == QProcess.ExitStatus.CrashExit
        self._finish(describe_exit(None if crashed else exit_code, self._last_event, tuple(self._tail),
                                   self._stop_requested))

    def _finish(self, result: RunResult) -> None:
        process, self._process = self._process, None
        self._kill_timer.stop()
        if process is not None:
            process.deleteLater()
        (log.info if result.outcome in (Outcome.DONE, Outcome.STOPPED) else log.error)(
            "trainer %s: %s", result.outcome.value, result.message)
        self.finished.emit(result)


def describe_exit(exit_code: int | None, last_event: TrainerEvent | None, stderr_tail: tuple[str, ...],
                  stop_requested: bool = False) -> RunResult:
    """What a finished trainer run means for people. `exit_code` None: the process died of a signal."""
    tail = "\n".join(stderr_tail)
    if exit_code is None:
        if stop_requested:
            message = "The trainer was ended before it could save a checkpoint; Resume continues from the last one."
            return RunResult(Outcome.STOPPED, message, None, stderr_tail, last_event)
        message = ("The trainer crashed (it was killed or ran out of memory); the app is fine. "
                   "Resume continues from the last checkpoint."
                   + (f"\nLast messages:\n{tail}" if tail else ""))
        return RunResult(Outcome.CRASHED, message, None, stderr_tail, last_event)
    if exit_code == EXIT_OK and isinstance(last_event, ModelExported):
        return RunResult(Outcome.DONE, "Training finished.", exit_code, stderr_tail, last_event)
    if exit_code == EXIT_INTERRUPTED:
        if isinstance(last_event, TrainingStopped):
            message = f"Stopped at step {last_event.step}; the checkpoint is saved and Resume continues."
        else:
            message = "Stopped; Resume continues from the last checkpoint."
        return RunResult(Outcome.STOPPED, message, exit_code, stderr_tail, last_event)
    if isinstance(last_event, TrainerFailed):
        reason = last_event.message.strip()
    elif exit_code == EXIT_OK:
        reason = "the trainer ended without exporting a model"
    else:
        reason = f"the trainer exited with code {exit_code}"
    message = f"Training failed: {reason}" + (f"\nLast messages:\n{tail}" if tail and not isinstance(
        last_event, TrainerFailed) else "")
    return RunResult(Outcome.FAILED, message, exit_code, stderr_tail, last_event)


def _environment() -> QProcessEnvironment:
    """The app's environment, unbuffered, with the folder holding the `trainer` package first on PYTHONPATH (not
    when frozen: the bundle carries its own packages)."""
    import trainer

    environment = QProcessEnvironment.systemEnvironment()
    environment.insert("PYTHONUNBUFFERED", "1")
    if getattr(sys, "frozen", False):
        return environment
    package_root = str(Path(trainer.__file__).resolve().parents[1])
    existing = environment.value("PYTHONPATH", "")
    environment.insert("PYTHONPATH", package_root + (os.pathsep + existing if existing else ""))
    return environment
