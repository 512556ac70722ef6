from __future__ import annotations

from core.steps import drain, relay


def _counting(n: int):
    for i in range(n):
        yield i
    return f"counted {n}"


def test_drain_runs_to_the_end_and_returns_the_result():
    seen: list[int] = []
    assert drain(_counting(3), seen.append) == "counted 3"
    assert seen == [0, 1, 2]
    assert drain(_counting(0)) == "counted 0"


def test_relay_converts_each_event_and_passes_the_result_on():
    def outer():
        result = yield from relay(_counting(3), lambda i: i * 10)
        yield result

    assert list(outer()) == [0, 10, 20, "counted 3"]
