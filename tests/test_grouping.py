"""Grouped round trips (service.grouping): each caller gets its own result, the items of callers that
arrive during a call go together in the next one, and a failed call reaches each caller of its group."""

from __future__ import annotations

import threading
import time

import pytest

from service.grouping import Grouped
from tests.support.waiting import wait_until


class Gate:
    """A `run` that records its calls and, while closed, blocks in them: callers arriving meanwhile queue."""

    def __init__(self, fail_on: str | None = None, error: type[Exception] = ConnectionError):
        self.calls: list[list[str]] = []
        self.open = threading.Event()
        self.open.set()
        self.entered = threading.Event()
        self.fail_on, self.error = fail_on, error

    def __call__(self, items: list[str]) -> list[str]:
        self.calls.append(list(items))
        self.entered.set()
        assert self.open.wait(5)
        if self.fail_on in items:
            raise self.error(f"{self.fail_on} refused")
        return [item.upper() for item in items]


def call_all(grouped: Grouped, items: list[str]) -> tuple[dict, dict, list[threading.Thread]]:
    results: dict[str, str] = {}
    errors: dict[str, BaseException] = {}

    def one(item: str) -> None:
        try:
            results[item] = grouped.call(item)
        except Exception as exc:
            errors[item] = exc

    threads = [threading.Thread(target=one, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return results, errors, threads


def queue_behind_a_blocked_call(gate: Gate, grouped: Grouped, items: list[str]):
    """The first item's call blocks in `run`; the others arrive meanwhile, then the gate opens."""
    gate.open.clear()
    first = call_all(grouped, items[:1])
    assert gate.entered.wait(5)
    rest = call_all(grouped, items[1:])
    wait_until(lambda: len(grouped._queue) == len(items) - 1, timeout=5, interval=0.005)
    gate.open.set()
    for thread in first[2] + rest[2]:
        thread.join(5)
    return {**first[0], **rest[0]}, {**first[1], **rest[1]}


def test_a_lone_caller_is_called_at_once_and_alone():
    gate = Gate()
    grouped = Grouped(gate)

    assert grouped.call("a") == "A"
    assert grouped.call("b") == "B"
    assert gate.calls == [["a"], ["b"]]


def test_callers_arriving_during_a_call_share_the_next_one_and_each_gets_its_own_result():
    gate = Gate()
    grouped = Grouped(gate)
    items = [f"item-{n}" for n in range(8)]

    results, errors = queue_behind_a_blocked_call(gate, grouped, items)

    assert errors == {}
    assert results == {item: item.upper() for item in items}
    assert len(gate.calls) == 2 and gate.calls[0] == ["item-0"] and sorted(gate.calls[1]) == items[1:]
    assert grouped.group_sizes == {1: 1, 7: 1}
    assert grouped.call("after") == "AFTER"  # nothing left busy


def test_a_group_is_never_larger_than_max_items():
    gate = Gate()
    grouped = Grouped(gate, max_items=3)
    items = [f"item-{n}" for n in range(8)]

    results, errors = queue_behind_a_blocked_call(gate, grouped, items)

    assert errors == {} and len(results) == 8
    assert sorted(item for call in gate.calls for item in call) == sorted(items)
    assert max(len(call) for call in gate.calls) == 3


def test_a_failure_of_the_whole_call_reaches_every_caller_of_the_group_each_with_its_own_exception():
    gate = Gate(fail_on="item-2", error=ConnectionError)
    grouped = Grouped(gate)
    items = [f"item-{n}" for n in range(5)]

    results, errors = queue_behind_a_blocked_call(gate, grouped, items)

    assert results == {"item-0": "ITEM-0"}  # its call came first, alone
    assert set(errors) == set(items[1:])
    assert all(isinstance(error, ConnectionError) for error in errors.values())
    assert len({id(error) for error in errors.values()}) == 4
    assert len(gate.calls) == 2
    assert grouped.call("later") == "LATER"


def test_under_many_concurrent_callers_every_item_is_called_once_and_no_call_is_left_in_flight():
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        calls.append(list(items))
        time.sleep(0.001 * (items[0] % 3))
        if items[0] % 17 == 0:
            raise ConnectionError("down for a moment")
        return [n * 2 for n in items]

    grouped = Grouped(run)
    outcomes: dict[int, object] = {}

    def caller(start: int) -> None:
        for n in range(start, start + 50):
            try:
                outcomes[n] = grouped.call(n)
            except ConnectionError as exc:
                outcomes[n] = exc

    threads = [threading.Thread(target=caller, args=(k * 1000,)) for k in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    items = sorted(n for call in calls for n in call)
    assert items == sorted(k * 1000 + n for k in range(12) for n in range(50))  # each once
    failed = {n for call in calls if call[0] % 17 == 0 for n in call}
    assert all(isinstance(outcomes[n], ConnectionError) for n in failed)
    assert all(outcomes[n] == n * 2 for n in outcomes if n not in failed)
    assert max(len(call) for call in calls) > 1
    assert not grouped._in_flight and grouped._queue == []
    assert sum(size * count for size, count in grouped.group_sizes.items()) == 600


def test_a_run_returning_the_wrong_number_of_results_fails_its_callers():
    grouped = Grouped(lambda items: ["only one"] * (len(items) + 1))
    with pytest.raises(ValueError):
        grouped.call("a")
