"""Round trips that a process's concurrent requests make at the same moment, made together as one.

Under load a web process has several requests waiting on the same kind of round trip at once (posting a
comment: a Redis pipeline for the posting limits, then an INSERT and its commit, a WAL flush). `Grouped`
lets them share it.

A request hands its item to `Grouped.call` and gets its own result back. A request that arrives while no
call is in flight makes one at once, for its item alone: a lone request waits for no one. Items that
arrive while a call is in flight queue up; when it returns, the first of them makes the next call, for all
of them. So under load a call carries every item that came in meanwhile, and the fewer calls, the less
each item pays for the fixed cost of one (the statement's execution, the pool, the commit).

One call at a time: a second call during the first would carry fewer items, each paying more of a call's
fixed cost. Measured with bench/ingest_ab.py against starting a second call once four items wait: on
machine I 3-5% more posts per second, on J 2-4% more, and level (0.99-1.01x) with every commit held back
by 1 ms (`commit_delay`, a slow disk's WAL flush); against a second call for any item that arrived during
the first, 11% more on I (on H, an earlier version of the request path had measured 8% less).

The call runs in the thread of one of the requests in its group, inside that request's context. If it
raises, every request of the group raises it (each its own copy): a failure of one item's own is for
`run` to catch and return as that item's result.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
_UNSET = object()


class _Entry(Generic[Item, Result]):
    __slots__ = ("_ready", "error", "group", "item", "result")

    def __init__(self, item: Item):
        self.item = item
        self.result: Result | object = _UNSET
        self.error: BaseException | None = None
        #: Set (to the entries of the call it is to make, its own first) when this request is to make a call.
        self.group: list[_Entry[Item, Result]] | None = None
        # Held until the item's call returns or this request is to make a call: a bare lock is the cheapest
        # way for a thread to wait.
        self._ready = threading.Lock()
        self._ready.acquire()

    def wait(self) -> None:
        self._ready.acquire()

    def wake(self) -> None:
        self._ready.release()


class Grouped(Generic[Item, Result]):
    """`run(items)` returns one result per item, in order, or raises; it runs in one caller's thread."""

    def __init__(self, run: Callable[[list[Item]], Sequence[Result]], *, max_items: int = 64):
        self._run = run
        self.max_items = max_items
        self._lock = threading.Lock()
        # Only requests waiting for a call to take them; there are some only while a call is in flight.
        self._queue: list[_Entry[Item, Result]] = []
        self._in_flight = False
        #: How many calls carried 1, 2, ... items, since start.
        self.group_sizes: dict[int, int] = {}

    def call(self, item: Item) -> Result:
        """`item`'s result, from a call made with whatever else is waiting; or what that call raised."""
        entry: _Entry[Item, Result] = _Entry(item)
        with self._lock:
            if not self._in_flight:  # this request makes the call, for its item alone
                self._in_flight = True
                entry.group = [entry]
            else:
                self._queue.append(entry)
        if entry.group is None:
            entry.wait()  # until the call with this item returns, or this request is to make a call
        if entry.group is not None:
            self._call(entry.group)
            error = entry.error
        else:
            # The group's exception object is the same for each of its requests: each raises its own copy.
            error = entry.error and _copied(entry.error)
        if error is not None:
            raise error
        return entry.result  # type: ignore[return-value]

    def _call(self, group: list[_Entry[Item, Result]]) -> None:
        try:
            self._run_group(group)
        finally:
            for entry in group:
                if entry.result is _UNSET and entry.error is None:  # interrupted (a BaseException)
                    entry.error = RuntimeError("the grouped call was interrupted")
            with self._lock:  # the next call, if requests wait: theirs, made by the first of them
                self.group_sizes[len(group)] = self.group_sizes.get(len(group), 0) + 1
                following, self._queue = self._queue[:self.max_items], self._queue[self.max_items:]
                if following:
                    following[0].group = following
                else:
                    self._in_flight = False
            for entry in group[1:]:
                entry.wake()
            if following:
                following[0].wake()

    def _run_group(self, group: list[_Entry[Item, Result]]) -> None:
        try:
            results = self._run([entry.item for entry in group])
            for entry, result in zip(group, results, strict=True):
                entry.result = result
        except BaseException as exc:
            for entry in group:
                entry.error = exc
            if not isinstance(exc, Exception):
                raise


def _copied(error: BaseException) -> BaseException:
    try:
        return copy.copy(error)
    except Exception:
        return error
