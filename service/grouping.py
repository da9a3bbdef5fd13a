"""Round trips that a process's concurrent requests make at the same moment, made together as one.

Posting a comment takes two round trips, one to Redis (the posting limits) and one to the database (the
INSERT, and its commit: a WAL flush). Under load a web process has several requests at that point at once;
`Grouped` lets them share one: one Redis pipeline for all their limits, one INSERT statement and one commit
for all their comments (group commit).

A request hands its item to `Grouped.call` and gets its own result back. The first request to arrive while
no call is in flight makes the call at once, for its item alone: a lone request waits for no one. Items that
arrive while a call is in flight queue up; when it returns, the first of them makes the next call, for all
of them. So under load a call carries every item that came in during the previous one, and a request waits
for at most two calls.

The call runs in the thread of one of the requests in its group, inside that request's context. If it
fails for a reason of one item's own (`item_errors`: a constraint, bad data), each item is tried alone,
so that only its own request fails; any other failure (the database unreachable) is every item's, and each
request raises it.
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
    __slots__ = ("item", "result", "error", "leads", "_ready")

    def __init__(self, item: Item):
        self.item = item
        self.result: Result | object = _UNSET
        self.error: BaseException | None = None
        self.leads = False
        # Held until the item's call returns or this request is to make the next call: a bare lock is the
        # cheapest way for a thread to wait.
        self._ready = threading.Lock()
        self._ready.acquire()

    def wait(self) -> None:
        self._ready.acquire()

    def wake(self) -> None:
        self._ready.release()


class Grouped(Generic[Item, Result]):
    """`run(items)` returns one result per item, in order, or raises; it runs in one caller's thread.

    `retry_alone(item)`, when given, is asked before an item is tried alone after its group failed for an
    item's reason: False skips the retry and the item's result is None (it was stored before the failure,
    where a many-row write is not one transaction)."""

    def __init__(self, run: Callable[[list[Item]], Sequence[Result]], *, max_items: int = 64,
                 item_errors: tuple[type[Exception], ...] = (),
                 retry_alone: Callable[[Item], bool] | None = None):
        self._run = run
        self.max_items = max_items
        self.item_errors = item_errors
        self._retry_alone = retry_alone
        self._lock = threading.Lock()
        self._queue: list[_Entry[Item, Result]] = []
        self._busy = False
        #: How many calls carried 1, 2, ... items, since start.
        self.group_sizes: dict[int, int] = {}

    def call(self, item: Item) -> Result:
        """`item`'s result, from a call made with whatever else is waiting; or what that call raised."""
        entry: _Entry[Item, Result] = _Entry(item)
        with self._lock:
            self._queue.append(entry)
            entry.leads = not self._busy
            self._busy = True
        if not entry.leads:
            entry.wait()  # until the call with this item returns, or this request is to make the next one
        if entry.leads:
            self._call_group()
            error = entry.error
        else:
            # The group's exception object is the same for each of its requests: each raises its own copy.
            error = entry.error and _copied(entry.error)
        if error is not None:
            raise error
        return entry.result  # type: ignore[return-value]

    def _call_group(self) -> None:
        with self._lock:
            group, self._queue = self._queue[:self.max_items], self._queue[self.max_items:]
            self.group_sizes[len(group)] = self.group_sizes.get(len(group), 0) + 1
        try:
            self._run_group(group)
        finally:
            for entry in group:
                if entry.result is _UNSET and entry.error is None:  # interrupted (a BaseException)
                    entry.error = RuntimeError("the grouped call was interrupted")
            with self._lock:
                following = self._queue[0] if self._queue else None
                if following is not None:
                    following.leads = True
                else:
                    self._busy = False
            for entry in group:
                if not entry.leads:
                    entry.wake()
            if following is not None:
                following.wake()

    def _run_group(self, group: list[_Entry[Item, Result]]) -> None:
        try:
            results = self._run([entry.item for entry in group])
        except self.item_errors as exc:
            if len(group) == 1:
                group[0].error = exc
                return
        except BaseException as exc:
            for entry in group:
                entry.error = exc
            if not isinstance(exc, Exception):
                raise
            return
        else:
            for entry, result in zip(group, results, strict=True):
                entry.result = result
            return
        for entry in group:  # one item's fault: each alone, so that only its own request fails
            try:
                if self._retry_alone is None or self._retry_alone(entry.item):
                    entry.result = self._run([entry.item])[0]
                else:
                    entry.result = None
            except Exception as exc:
                entry.error = exc


def _copied(error: BaseException) -> BaseException:
    try:
        return copy.copy(error)
    except Exception:
        return error
