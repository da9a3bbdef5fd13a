"""Admitting posted comments: counting each post against the posting limits and storing the comments they
let through, for the concurrent posts of one web process together.

Every post hands `Admission.admit` its client's keys and, on the common path (a comment on a known article,
without an Idempotency-Key), its comment's row. The posts that arrive at once then share two round trips
(`service.grouping`): one Redis pipeline that counts them all against the limits, then one INSERT (one
transaction, one commit, one WAL flush) of the rows of those the limits let through. A lone post waits for
no one. A refused post stores nothing.

A row that fails on its own (a reply whose parent was deleted since it was checked: its foreign key) fails
its group's statement; the group's rows are then written one at a time, so that only that post fails.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import DataError, IntegrityError

from service.grouping import Grouped
from service.ratelimit import PostingLimits, refuse

#: Failures of one row's own making, not of the database's.
ROW_ERRORS = (IntegrityError, DataError)

_Post = tuple[str, str, dict | None]


class Admission:
    """`write(rows)` inserts rows in one transaction; `stored(row)` tells whether a row is in the database."""

    def __init__(self, limits: PostingLimits, write: Callable[[list[dict]], object],
                 stored: Callable[[dict], bool]):
        self.limits = limits
        self._write, self._stored = write, stored
        self.grouped: Grouped[_Post, int | Exception | None] = Grouped(self._admit_all)

    def admit(self, address: str, author: str, row: dict | None = None) -> None:
        """Count a post by `address` and `author` (`ratelimit.author_key()`) against the limits and, if they
        let it through, store `row` (if given). Raises a 429 if they do not (nothing is stored), or what
        storing the row raised."""
        outcome = self.grouped.call((address, author, row))
        if isinstance(outcome, Exception):
            raise outcome
        if outcome is not None:
            refuse(outcome)

    def _admit_all(self, posts: list[_Post]) -> list[int | Exception | None]:
        # Per post: None (admitted, its row stored), the seconds a refused post must wait, or its row's error.
        outcomes: list[int | Exception | None] = list(
            self.limits.hit_many([(address, author) for address, author, _row in posts]))
        admitted = [n for n, (post, refused) in enumerate(zip(posts, outcomes))
                    if post[2] is not None and refused is None]
        if not admitted:
            return outcomes
        try:
            self._write([posts[n][2] for n in admitted])
        except ROW_ERRORS as exc:
            if len(admitted) == 1:
                outcomes[admitted[0]] = exc
            else:
                for n in admitted:
                    outcomes[n] = self._write_alone(posts[n][2])
        return outcomes

    def _write_alone(self, row: dict) -> Exception | None:
        try:
            # Where a many-row write is not one transaction (SQLite), the rows before the failing one stayed.
            if not self._stored(row):
                self._write([row])
        except ROW_ERRORS as exc:
            return exc
        return None
