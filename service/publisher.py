"""Scoring messages published from a thread of the web process, many per Redis round trip.

A request commits its comment and hands the id to this process's publisher, which answers at once. The
publisher's thread sends at most one round trip per `linger`: an id that arrives after a quiet spell goes
at once, and ids that arrive within `linger` of the last send wait for the rest of it and then go together.
Publishing a Celery message costs more CPU than the rest of a request's enqueueing; under load a round
trip carries many ids, and a comment waits at most `linger` longer for its worker (a lone one, not at all).

Nothing is lost if a message is: the comment is already committed as `pending`, and the sweeper queues
pending comments again (as it does when Redis loses its queue in a restart).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from typing import Callable

log = logging.getLogger(__name__)

_publishers: "list[BatchPublisher]" = []


class BatchPublisher:
    """Hands ids to `send(ids)` from one daemon thread; `send` publishes them all or raises."""

    def __init__(self, send: Callable[[list[str]], None], *, name: str = "publisher", linger: float = 0.01,
                 max_pending: int = 20_000, max_batch: int = 500, attempts: int = 3, retry_delay: float = 0.2,
                 counter=None):
        self._send = send
        self.name = name
        #: A Prometheus counter with an `outcome` label: ids "sent", or "left_for_sweeper".
        self.counter = counter
        self.linger = linger
        self.max_pending = max_pending
        self.max_batch = max_batch
        self.attempts = attempts
        self.retry_delay = retry_delay
        self._reset()
        _publishers.append(self)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._pending: deque[str] = deque()
        self._in_flight = 0
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._hurry = threading.Event()  # set while someone waits in flush(): no lingering then
        self._last_taken = float("-inf")  # when the last round trip's ids were taken (monotonic)

    def submit(self, item: str) -> bool:
        """Queue an id for publishing; False when the buffer is full (the sweeper will queue it)."""
        if self._pid != os.getpid():  # forked: the parent's thread and buffer are not ours
            self._reset()
        with self._wake:
            if len(self._pending) >= self.max_pending:
                log.warning("%s buffer full; %s left for the sweeper", self.name, item, extra={"comment_id": item})
                self._count("left_for_sweeper", 1)
                return False
            self._pending.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._wake.notify()
        return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far was published (or given up); True if it was in time."""
        deadline = time.monotonic() + timeout
        self._hurry.set()
        try:
            with self._wake:
                while self._pending or self._in_flight:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._thread is None or not self._thread.is_alive():
                        return not (self._pending or self._in_flight)
                    self._wake.wait(min(left, 0.05))
            return True
        finally:
            self._hurry.clear()

    def _take(self) -> list[str]:
        with self._wake:
            while not self._pending:
                self._wake.wait()
        # At most one round trip per linger: ids that come soon after the last one wait for the rest of
        # its linger, and the ids of requests arriving meanwhile join them.
        if (wait := self._last_taken + self.linger - time.monotonic()) > 0:
            self._hurry.wait(wait)
        self._last_taken = time.monotonic()
        with self._wake:
            batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
            self._in_flight = len(batch)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            try:
                self._publish(batch)
            finally:
                with self._wake:
                    self._in_flight = 0
                    self._wake.notify_all()

    def _publish(self, batch: list[str]) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                self._send(batch)
            except Exception as exc:  # the broker is down or restarting
                if attempt == self.attempts:
                    log.warning("queue unavailable (%s); %d comments left for the sweeper", exc, len(batch),
                                extra={"comment_id": ",".join(batch)})
                    self._count("left_for_sweeper", len(batch))
                    return
                time.sleep(self.retry_delay * attempt)
            else:
                self._count("sent", len(batch))
                return

    def _count(self, outcome: str, n: int) -> None:
        if self.counter is not None:
            self.counter.labels(outcome).inc(n)


def flush_all(timeout: float = 5.0) -> None:
    """Publish what this process still holds; called as a gunicorn worker exits, and at interpreter exit."""
    for publisher in _publishers:
        if publisher._pid == os.getpid() and not publisher.flush(timeout):
            log.warning("%s could not publish everything before exit; the sweeper will queue the rest",
                        publisher.name)


atexit.register(flush_all)
