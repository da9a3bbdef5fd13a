"""Grouped round trips (service.grouping): each caller gets its own result, the items of callers that
arrive during a call go together in the next one, and a failure reaches exactly the callers it concerns."""

from __future__ import annotations

import threading
import time

import pytest

from service.grouping import Grouped


class Gate:
    """A `run` that records its calls and, while closed, blocks in them: callers arriving meanwhile queue."""

    def __init__(self, fail_on: str | None = None, error: type[Exception] = ValueError):
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
    deadline = time.monotonic() + 5
    while len(grouped._queue) < len(items) - 1 and time.monotonic() < deadline:
        time.sleep(0.005)
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
    assert gate.calls == [["item-0"], items[1:]]
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


def test_an_items_own_error_fails_only_its_caller():
    gate = Gate(fail_on="item-3")
    grouped = Grouped(gate, item_errors=(ValueError,))
    items = [f"item-{n}" for n in range(6)]

    results, errors = queue_behind_a_blocked_call(gate, grouped, items)

    assert set(errors) == {"item-3"} and isinstance(errors["item-3"], ValueError)
    assert results == {item: item.upper() for item in items if item != "item-3"}
    # The group failed, then each of its items was tried alone.
    assert gate.calls[1] == items[1:]
    assert gate.calls[2:] == [[item] for item in items[1:]]


def test_an_item_stored_before_its_group_failed_is_not_tried_again():
    gate = Gate(fail_on="item-3")
    already_stored = {"item-2"}
    grouped = Grouped(gate, item_errors=(ValueError,), retry_alone=lambda item: item not in already_stored)
    items = [f"item-{n}" for n in range(5)]

    results, errors = queue_behind_a_blocked_call(gate, grouped, items)

    assert set(errors) == {"item-3"}
    assert ["item-2"] not in gate.calls[2:]
    assert results["item-2"] is None and results["item-4"] == "ITEM-4"


def test_a_failure_of_the_whole_call_reaches_every_caller_of_the_group_each_with_its_own_exception():
    gate = Gate(fail_on="item-2", error=ConnectionError)
    grouped = Grouped(gate, item_errors=(ValueError,))
    items = [f"item-{n}" for n in range(5)]

    results, errors = queue_behind_a_blocked_call(gate, grouped, items)

    assert results == {"item-0": "ITEM-0"}  # its call came first, alone
    assert set(errors) == set(items[1:])
    assert all(isinstance(error, ConnectionError) for error in errors.values())
    assert len({id(error) for error in errors.values()}) == 4
    assert len(gate.calls) == 2  # no item was tried alone: the failure was not one item's
    assert grouped.call("later") == "LATER"


def test_a_run_returning_the_wrong_number_of_results_fails_its_callers():
    grouped = Grouped(lambda items: ["only one"] * (len(items) + 1))
    with pytest.raises(ValueError):
        grouped.call("a")
