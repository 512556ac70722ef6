"""The trainer process runner: events from stdout however they are cut, stderr for the log, and an outcome with a
reason for every way a run can end (done, stopped, failed, crashed, never started). Played by fake_trainer.py."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trainer.events import (
    EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CheckpointSaved, ModelExported, TrainerFailed,
    TrainingProgress, TrainingStarted, TrainingStopped,
)

from desktop_app.fine_tune.training_process import Outcome, TrainingProcess, describe_exit, trainer_command
from tests.desktop_app.fine_tune_fixtures import fake_trainer_command, recorded_arguments

START = TrainingStarted(run_dir=Path("/runs/x"), step=0, total_steps=2, pretrain_steps=0, warm_start_steps=0,
                        device="cpu", world_size=1, precision="fp32", photos=6, cartoons=6, resumed_from=None)
LOG = TrainingProgress(step=1, phase="train", losses={"g_total": 0.7}, images_per_s=3.0, eta_s=1.0)
DONE = ModelExported(step=2, model=Path("/runs/x/x.safetensors"))


def run(qtbot, process: TrainingProcess, arguments=(), timeout_ms: int = 20_000):
    events, stderr, garbage = [], [], []
    process.event.connect(events.append)
    process.stderr_line.connect(stderr.append)
    process.garbage_line.connect(garbage.append)
    with qtbot.waitSignal(process.finished, timeout=timeout_ms) as finished:
        process.start(list(arguments))
    assert not process.running
    return finished.args[0], events, stderr, garbage


def test_a_run_that_finishes_delivers_every_event_in_order(qtbot, tmp_path):
    log_line = LOG.to_line()
    command, args_file = fake_trainer_command(tmp_path, [
        START.to_json(), {"raw": log_line[:10]}, {"sleep": 0.2},
        {"raw": log_line[10:] + "\nnot json\n"}, {"stderr": "UserWarning: something"}, DONE.to_json()])
    result, events, stderr, garbage = run(qtbot, TrainingProcess(command), ["finetune", "--config", "a b.toml"])
    assert events == [START, LOG, DONE]
    assert (stderr, garbage) == (["UserWarning: something"], ["not json"])
    assert result.outcome == Outcome.DONE and result.exit_code == EXIT_OK and result.last_event == DONE
    assert recorded_arguments(args_file) == [["finetune", "--config", "a b.toml"]]


def test_a_crash_is_reported_with_the_last_messages(qtbot, tmp_path):
    command, _ = fake_trainer_command(tmp_path, [
        START.to_json(), {"stderr": "loading the models"}, {"stderr": "CUDA error: an illegal memory access"},
        {"raw": '{"event": "log", "step": 1'}, {"crash": True}])
    result, events, _, garbage = run(qtbot, TrainingProcess(command))
    assert result.outcome == Outcome.CRASHED and result.exit_code is None
    assert "crashed" in result.message and "CUDA error: an illegal memory access" in result.message
    assert events == [START] and garbage == ['{"event": "log", "step": 1']


def test_an_error_event_gives_the_trainers_reason(qtbot, tmp_path):
    message = "finetune needs base_model=NAME|FILE (an engine model name or .safetensors file)"
    command, _ = fake_trainer_command(tmp_path, [
        {"stderr": f"cartoonize-train: error: {message}"}, TrainerFailed(message).to_json(), {"exit": EXIT_USAGE}])
    result, *_ = run(qtbot, TrainingProcess(command))
    assert result.outcome == Outcome.FAILED and result.exit_code == EXIT_USAGE
    assert result.message == f"Training failed: {message}"


def test_stop_lets_the_trainer_save_a_checkpoint(qtbot, tmp_path):
    command, _ = fake_trainer_command(tmp_path, [START.to_json(), LOG.to_json(), {"wait_for_stop": [
        CheckpointSaved(step=1, path=Path("/runs/x/checkpoints/step_00000001.pt")).to_json(),
        TrainingStopped(step=1, reason="SIGTERM").to_json()]}])
    process = TrainingProcess(command)
    events = []
    process.event.connect(events.append)
    process.start([])
    qtbot.waitUntil(lambda: LOG in events, timeout=20_000)
    with qtbot.waitSignal(process.finished, timeout=20_000) as finished:
        process.stop()
        assert process.stopping
    result = finished.args[0]
    assert result.outcome == Outcome.STOPPED and result.exit_code == EXIT_INTERRUPTED
    assert result.message.startswith("Stopped at step 1; the checkpoint is saved")
    assert [type(e) for e in events][-2:] == [CheckpointSaved, TrainingStopped]


def test_a_trainer_that_cannot_start_is_reported(qtbot, tmp_path):
    result, *_ = run(qtbot, TrainingProcess([str(tmp_path / "no-such-python")]))
    assert result.outcome == Outcome.CRASHED and "Could not start the trainer" in result.message


@pytest.mark.parametrize("exit_code, last_event, stop_requested, outcome, words", [
    (EXIT_OK, DONE, False, Outcome.DONE, "finished"),
    (EXIT_OK, None, False, Outcome.FAILED, "without exporting a model"),
    (EXIT_FAILED, None, False, Outcome.FAILED, "exited with code 1"),
    (EXIT_FAILED, TrainerFailed("out of memory"), False, Outcome.FAILED, "Training failed: out of memory"),
    (EXIT_INTERRUPTED, None, True, Outcome.STOPPED, "Stopped"),
    (EXIT_INTERRUPTED, TrainingStopped(step=7, reason="SIGTERM"), True, Outcome.STOPPED, "Stopped at step 7"),
    (None, None, True, Outcome.STOPPED, "before it could save"),
    (None, None, False, Outcome.CRASHED, "crashed"),
])
def test_every_exit_has_a_reason(exit_code, last_event, stop_requested, outcome, words):
    result = describe_exit(exit_code, last_event, ("last line",), stop_requested)
    assert result.outcome == outcome and words in result.message


def test_the_trainer_runs_in_this_interpreter():
    assert trainer_command() == [sys.executable, "-m", "trainer"]
