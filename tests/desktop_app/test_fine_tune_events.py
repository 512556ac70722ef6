"""The trainer's stdout split into events: chunks that cut lines (and characters) anywhere, and lines that are
not events."""
from __future__ import annotations

import json
from pathlib import Path

from trainer.events import SampleWritten, TrainingProgress, UnknownEvent

from desktop_app.fine_tune.events import MAX_LINE_BYTES, JsonLineReader, LineBuffer

LOG = TrainingProgress(step=3, phase="train", losses={"g_total": 0.75}, images_per_s=5.2, eta_s=10.0)
SAMPLE = SampleWritten(step=3, path=Path("/runs/été/samples/step_00000003.png"))


def test_events_cut_into_arbitrary_chunks_come_out_whole():
    stream = (LOG.to_line() + "\n" + json.dumps(SAMPLE.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
    for size in (1, 2, 7, len(stream)):  # 1 and 2 split the two-byte "é" too
        reader = JsonLineReader()
        events = []
        for start in range(0, len(stream), size):
            events += reader.feed(stream[start:start + size])
        assert events == [LOG, SAMPLE], size
        assert reader.flush() == [] and reader.garbage == []


def test_lines_that_are_not_events_are_kept_aside():
    reader = JsonLineReader()
    chunk = (b"Warning: something printed on stdout\n[1, 2]\n{\"step\": 3}\n{\"event\": 5}\n{not json\n\n"
             b"{\"event\": \"sample\", \"step\": 3}\n" + LOG.to_line().encode() + b"\r\n")
    assert reader.feed(chunk) == [LOG]  # a CRLF line ending is fine too
    assert reader.garbage == ["Warning: something printed on stdout", "[1, 2]", '{"step": 3}', '{"event": 5}',
                              "{not json", '{"event": "sample", "step": 3}']  # the last: a sample without a path


def test_a_last_line_without_newline_is_read_at_the_end():
    reader = JsonLineReader()
    assert reader.feed(LOG.to_line().encode()) == []
    assert reader.flush() == [LOG]
    assert reader.flush() == []


def test_an_endless_line_is_dropped_not_hoarded():
    buffer = LineBuffer()
    assert buffer.feed(b"x" * (MAX_LINE_BYTES + 1)) == []
    assert buffer.overlong == 1
    assert buffer.feed(b"ok\n") == ["ok"]


def test_a_kind_this_build_does_not_know_is_passed_on_not_dropped():
    reader = JsonLineReader()
    assert reader.feed(b'{"event": "heartbeat", "step": 3}\n') == [UnknownEvent("heartbeat", {"step": 3})]
    assert reader.garbage == []
