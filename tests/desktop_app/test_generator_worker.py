"""The GUI's one worker base: yields arrive in order as signals on the GUI thread, the return value follows, pause
holds the generator at a yield, cancel stops it, and an exception becomes `errored` instead of a crash."""
from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt, QThread, QThreadPool

from core.cancel import CancelToken

from desktop_app.function_worker import run_in_background
from desktop_app.generator_worker import GeneratorWorker


@pytest.fixture
def pool():
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    yield pool
    assert pool.waitForDone(10_000)


def _record(worker: GeneratorWorker) -> list[tuple]:
    """Every signal the worker sends, in the order the GUI thread receives them."""
    received: list[tuple] = []
    gui = QThread.currentThread()
    worker.signals.yielded.connect(lambda value: received.append(("yielded", value, QThread.currentThread() is gui)))
    worker.signals.returned.connect(lambda value: received.append(("returned", value)))
    worker.signals.cancelled.connect(lambda: received.append(("cancelled",)))
    worker.signals.errored.connect(lambda message, trace, exc: received.append(("errored", message, trace, exc)))
    worker.signals.finished.connect(lambda: received.append(("finished",)))
    return received


def _run(qtbot, worker: GeneratorWorker, pool: QThreadPool) -> None:
    with qtbot.waitSignal(worker.signals.finished, timeout=10_000):
        worker.start(pool)


def test_yields_arrive_in_order_on_the_gui_thread_then_the_return_value(qtbot, pool):
    def count_to_three():
        for number in range(1, 4):
            yield number
        return "done"

    worker = GeneratorWorker(count_to_three)
    received = _record(worker)
    _run(qtbot, worker, pool)
    assert received == [("yielded", 1, True), ("yielded", 2, True), ("yielded", 3, True), ("returned", "done"),
                        ("finished",)]


def test_a_plain_call_returns_its_result(qtbot, pool):
    results: list[object] = []
    worker = run_in_background(sum, [1, 2, 3], on_returned=results.append, pool=pool)
    qtbot.waitUntil(lambda: results == [6], timeout=10_000)
    assert not worker.cancelled


def test_an_exception_becomes_an_error_signal(qtbot, pool):
    def fails_after_one():
        yield 1
        raise ValueError("the input is broken")

    worker = GeneratorWorker(fails_after_one)
    received = _record(worker)
    _run(qtbot, worker, pool)
    assert [r[0] for r in received] == ["yielded", "errored", "finished"]
    _, message, trace, exc = received[1]
    assert message == "the input is broken" and isinstance(exc, ValueError) and "fails_after_one" in trace


def test_the_error_slot_of_run_in_background_gets_message_and_traceback(qtbot, pool):
    errors: list[tuple[str, str]] = []
    run_in_background(int, "not a number", on_errored=lambda message, trace: errors.append((message, trace)),
                      pool=pool)
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert "invalid literal" in errors[0][0] and "Traceback" in errors[0][1]


def test_cancel_stops_the_generator_between_yields(qtbot, pool):
    token = CancelToken()
    produced: list[int] = []

    def endless():
        number = 0
        while True:
            token.raise_if_cancelled()
            produced.append(number)
            yield number
            number += 1

    worker = GeneratorWorker(endless, token)
    received = _record(worker)
    # direct connection: the cancel lands on the worker thread exactly at the third yield
    worker.signals.yielded.connect(lambda value: value == 2 and worker.cancel(), Qt.ConnectionType.DirectConnection)
    _run(qtbot, worker, pool)
    assert worker.cancelled and produced == [0, 1, 2]
    assert received == [("yielded", 0, True), ("yielded", 1, True), ("yielded", 2, True), ("cancelled",),
                        ("finished",)]


def test_a_worker_cancelled_before_it_starts_does_no_work(qtbot, pool):
    calls: list[int] = []
    worker = GeneratorWorker(lambda: calls.append(1))
    received = _record(worker)
    worker.cancel()
    _run(qtbot, worker, pool)
    assert calls == [] and received == [("cancelled",), ("finished",)]


def test_pause_holds_the_generator_at_a_yield_until_resumed(qtbot, pool):
    produced: list[int] = []
    paused_at_first_yield = threading.Event()

    def three():
        for number in range(3):
            produced.append(number)
            yield number

    worker = GeneratorWorker(three)

    def pause_at_first(value):  # runs on the worker thread: the pause lands exactly at this yield
        if value == 0:
            worker.pause()
            paused_at_first_yield.set()

    worker.signals.yielded.connect(pause_at_first, Qt.ConnectionType.DirectConnection)
    received = _record(worker)
    worker.start(pool)
    assert paused_at_first_yield.wait(10)
    qtbot.wait(200)
    assert worker.paused and produced == [0]
    with qtbot.waitSignal(worker.signals.finished, timeout=10_000):
        worker.resume()
    assert produced == [0, 1, 2] and received[-2:] == [("returned", None), ("finished",)]
