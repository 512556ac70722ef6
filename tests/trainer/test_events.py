"""The trainer's events as JSON lines: every kind round-trips, lines written by earlier trainers still parse, shared
kinds are told apart by their keys, unknown kinds are kept and malformed lines are refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer.events import (
    EVENT_CLASSES, CheckpointSaved, EvaluationDone, EventFormatError, KeyframesDone, KeyframesExtracted,
    ModelEvaluated, ModelExported, SampleWritten, SegmenterEvaluated, SegmenterSaved, SegmenterTrainingStarted,
    SheetWritten, TargetsDone, TargetsProgress, TrainerEvent, TrainerFailed, TrainingProgress, TrainingStarted,
    TrainingStopped, UnknownEvent, event_from_json, parse_event, print_json_event,
)

ONE_OF_EACH: list[TrainerEvent] = [
    TrainingStarted(run_dir=Path("/runs/été"), step=0, total_steps=44000, pretrain_steps=0, warm_start_steps=4000,
                    device="cuda:0", world_size=2, precision="bfloat16", photos=3080, cartoons=2600,
                    resumed_from=None),
    TrainingStarted(run_dir=Path("runs/a"), step=489, total_steps=500, pretrain_steps=10, warm_start_steps=0,
                    device="cpu", world_size=1, precision="fp32", photos=24, cartoons=30,
                    resumed_from=Path("runs/a/checkpoints/step_00000489.pt")),
    SegmenterTrainingStarted(device="cpu", steps=3, domains={"anime": {"train": 4, "heldout": 2}}),
    TrainingProgress(step=25, phase="warmstart", losses={"target_l1": 0.13, "target_features": 2.5},
                     images_per_s=2.102, eta_s=83700.7),
    TrainingProgress(step=1, phase="segmenter", losses={"loss": 0.7, "lr": 1e-3}, images_per_s=3.0, eta_s=0.0),
    TargetsProgress(done=8, total=3080, made=8, reused=0, failed=0, folder=Path("/cache/cartoon-targets/d153")),
    SampleWritten(step=50, path=Path("samples/step_00000050.png")),
    CheckpointSaved(step=100, path=Path("checkpoints/step_00000100.pt")),
    TrainingStopped(step=489, reason="SIGTERM"),
    SegmenterEvaluated(step=3, iou={"anime": 0.5, "selfies": 0.75}, mean_iou=0.625),
    ModelExported(step=200, model=Path("run.safetensors")),
    SegmenterSaved(segmenter=Path("segmenter.safetensors"), iou={"anime": 0.5}),
    TargetsDone(output=Path("/cache/t"), made=3, reused=0, failed=1),
    KeyframesExtracted(video=Path("clip.mp4"), kept=2, analysed_frames=40, scenes=3, near_duplicates=1, blank=0,
                       too_short=0, error=None),
    KeyframesExtracted(video=Path("bad.mp4"), kept=0, analysed_frames=0, scenes=0, near_duplicates=0, blank=0,
                       too_short=0, error="cannot decode"),
    KeyframesDone(output=Path("frames"), kept=2, failed=1),
    SheetWritten(path=Path("eval-sheet.jpg")),
    ModelEvaluated({"model": "cartoon-v1", "to_cartoons": {"fid": 120.5, "kid": 0.1, "kid_std": 0.01},
                    "photos": 100, "seconds": 12.5}),
    EvaluationDone(models=3),
    TrainerFailed(message="resume: runs/a has no checkpoint to continue from"),
    UnknownEvent("heartbeat", {"step": 3, "note": "from a newer trainer"}),
]


def test_every_kind_round_trips_through_its_json_line():
    assert {type(event) for event in ONE_OF_EACH} == {*EVENT_CLASSES, UnknownEvent}  # an example of each class
    for event in ONE_OF_EACH:
        line = event.to_line()
        assert json.loads(line)["event"] == event.to_json()["event"] != ""
        assert parse_event(line) == event, line


def test_a_log_line_keeps_its_flat_shape_and_key_order():
    progress = TrainingProgress(step=5, phase="train", losses={"d_total": 0.9, "g_total": 1.2}, images_per_s=1.6,
                                eta_s=479.9)
    assert list(progress.to_json()) == ["event", "step", "phase", "d_total", "g_total", "images_per_s", "eta_s"]
    assert progress.record() == {"step": 5, "phase": "train", "d_total": 0.9, "g_total": 1.2, "images_per_s": 1.6,
                                 "eta_s": 479.9}


# Lines copied from real logs: a campaign run's train.log, the wizard's recorded run, and (the start line) the
# first trainer's format, before the warm start added "warm_start_steps".
OLD_LINES = {
    '{"event": "targets", "done": 1, "total": 3080, "made": 1, "reused": 0, "failed": 0, "folder": '
    '"/root/.local/share/cartoonizer/cache/cartoon-targets/d153ab0b8a96"}':
        TargetsProgress(done=1, total=3080, made=1, reused=0, failed=0,
                        folder=Path("/root/.local/share/cartoonizer/cache/cartoon-targets/d153ab0b8a96")),
    '{"event": "log", "step": 25, "phase": "warmstart", "target_l1": 0.13247305154800415, "images_per_s": 2.102, '
    '"eta_s": 83700.7}':
        TrainingProgress(step=25, phase="warmstart", losses={"target_l1": 0.13247305154800415}, images_per_s=2.102,
                         eta_s=83700.7),
    '{"event": "stopped", "step": 489, "reason": "SIGTERM"}': TrainingStopped(step=489, reason="SIGTERM"),
    '{"event": "done", "step": 200, "model": "run.safetensors"}':
        ModelExported(step=200, model=Path("run.safetensors")),
    '{"event": "start", "run_dir": "runs/first", "step": 0, "total_steps": 20, "pretrain_steps": 10, "device": '
    '"cpu", "world_size": 1, "precision": "fp32", "photos": 6, "cartoons": 6, "resumed_from": null}':
        TrainingStarted(run_dir=Path("runs/first"), step=0, total_steps=20, pretrain_steps=10, warm_start_steps=0,
                        device="cpu", world_size=1, precision="fp32", photos=6, cartoons=6, resumed_from=None),
}


@pytest.mark.parametrize("line", OLD_LINES)
def test_lines_of_earlier_trainers_parse(line):
    assert parse_event(line) == OLD_LINES[line]


def test_the_recorded_wizard_run_parses_line_for_line():
    lines = (Path(__file__).parents[1] / "desktop_app" / "data" / "fine-tune-run" / "events.jsonl").read_text(
        encoding="utf-8").splitlines()
    events = [parse_event(line) for line in lines]
    assert isinstance(events[0], TrainingStarted) and isinstance(events[-1], ModelExported)
    assert not any(isinstance(event, UnknownEvent) for event in events)
    assert [event.to_json() for event in events] == [json.loads(line) for line in lines]  # nothing lost or added


def test_the_kinds_several_commands_share_are_told_apart_by_their_keys():
    assert type(event_from_json({"event": "done", "output": "t", "made": 1, "reused": 2, "failed": 0})) is TargetsDone
    assert type(event_from_json({"event": "done", "output": "f", "kept": 1, "failed": 0})) is KeyframesDone
    assert type(event_from_json({"event": "done", "models": 2})) is EvaluationDone
    assert type(event_from_json({"event": "done", "segmenter": "s", "iou": {}})) is SegmenterSaved
    assert type(event_from_json({"event": "start", "task": "segmenter", "device": "cpu", "steps": 1,
                                 "domains": {}})) is SegmenterTrainingStarted


def test_an_unknown_kind_is_kept_whole_and_a_newer_key_is_ignored():
    unknown = parse_event('{"event": "heartbeat", "step": 3}')
    assert unknown == UnknownEvent("heartbeat", {"step": 3}) and unknown.to_json() == {"event": "heartbeat", "step": 3}
    assert parse_event('{"event": "sample", "step": 3, "path": "s.png", "seconds": 0.2}') == SampleWritten(
        step=3, path=Path("s.png"))


@pytest.mark.parametrize("line", [
    '{"event": "sample", "step": 3}',                                  # a key missing
    '{"event": "sample", "step": "3", "path": "s.png"}',              # text where a number belongs
    '{"event": "checkpoint", "step": true, "path": "c.pt"}',          # a bool is no step
    '{"event": "log", "step": 1, "phase": "train", "g_total": "x", "images_per_s": 1.0, "eta_s": 1.0}',
    '{"event": "done", "what": "nothing known"}',                      # a shared kind none of whose classes fits
])
def test_a_known_kind_that_does_not_fit_is_refused(line):
    with pytest.raises(EventFormatError):
        parse_event(line)


@pytest.mark.parametrize("line", ["", "warning: printed on stdout", "[1, 2]", '{"step": 3}', '{"event": 5}',
                                  '{"event": ""}', "null"])
def test_lines_that_are_no_events_give_none(line):
    assert parse_event(line) is None


def test_print_json_event_writes_one_line(capsys):
    print_json_event(SampleWritten(step=1, path=Path("s.png")))
    assert capsys.readouterr().out == '{"event": "sample", "step": 1, "path": "s.png"}\n'
