"""Concurrent posts share their round trips (service.grouping): one INSERT and one commit for the comments
that arrive while another is being written, one Redis pipeline for their posting limits; each comment is
stored once, and each author is limited as if the posts had come one by one."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import redis
from sqlalchemy import delete, func, select

from service import create_app
from service.comments.models import Comment
from service.ratelimit import PostingLimits
from service.sites.models import Site
from service.sites.operations import create_site


def wait_for(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def post_in_threads(app, bodies: list[dict]) -> tuple[dict[int, int], list[threading.Thread]]:
    statuses: dict[int, int] = {}

    def post(n: int) -> None:
        statuses[n] = app.test_client().post("/api/v1/comments", json=bodies[n]).status_code

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(bodies))]
    for thread in threads:
        thread.start()
    return statuses, threads


def test_comments_arriving_during_an_insert_are_written_together_and_each_stored_once(settings, database_url):
    app = create_app(settings)  # real pools: the autocommit connection, as in production
    with app.extensions["modqueue.sessions"]() as session:
        site = create_site(session, "Grouped", ["https://news.example"])
        session.commit()
    writer = app.extensions["modqueue.comment_writer"]
    run = uuid.uuid4().hex[:6]

    def body(n: int) -> dict:
        return {"site": site.public_key, "article": {"id": "a"}, "author": {"name": f"reader {n}"},
                "body": f"grouped {run} {n}"}

    try:
        assert app.test_client().post("/api/v1/comments", json=body(0)).status_code == 202  # the article's first
        with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql")) as blocker:
            # Hold every INSERT into comments: the first post's waits, the others queue behind it.
            blocker.execute("LOCK TABLE comments IN EXCLUSIVE MODE")
            statuses, threads = post_in_threads(app, [body(n) for n in range(1, 7)])
            wait_for(lambda: len(writer._queue) == 5)
            blocker.commit()
        for thread in threads:
            thread.join(10)

        assert statuses == {n: 202 for n in range(6)}
        assert writer.group_sizes.get(5) == 1  # the five that queued went in one statement
        with app.extensions["modqueue.sessions"]() as session:
            stored = session.scalars(select(Comment.body).where(Comment.body.like(f"grouped {run} %"))).all()
        assert sorted(stored) == sorted(f"grouped {run} {n}" for n in range(7))
    finally:
        with app.extensions["modqueue.sessions"]() as session:
            session.execute(delete(Site).where(Site.id == site.id))  # its comments cascade
            session.commit()
        app.extensions["modqueue.autocommit_engine"].dispose()
        app.extensions["modqueue.sessions"].kw["bind"].dispose()


def test_a_comment_that_fails_on_its_own_fails_alone_in_its_group(settings, database_url):
    """A reply whose parent is deleted between its check and the INSERT breaks the group's statement (a
    foreign key): the group is written again row by row, and only that reply's request fails, with the
    422 that a reply to a missing comment gets."""
    app = create_app(settings)
    with app.extensions["modqueue.sessions"]() as session:
        site = create_site(session, "Grouped failure", ["https://news.example"])
        session.commit()
    writer = app.extensions["modqueue.comment_writer"]
    run = uuid.uuid4().hex[:6]
    client = app.test_client()

    def body(n: int, **extra) -> dict:
        return {"site": site.public_key, "article": {"id": "a"}, "author": {"name": f"reader {n}"},
                "body": f"alone {run} {n}", **extra}

    try:
        parent_id = client.post("/api/v1/comments", json=body(0)).get_json()["id"]
        with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql")) as blocker:
            blocker.execute("LOCK TABLE comments IN EXCLUSIVE MODE")
            bodies = [body(1)] + [body(n) for n in range(2, 5)] + [body(5, parent_id=parent_id)]
            statuses, threads = post_in_threads(app, bodies)
            wait_for(lambda: len(writer._queue) == 4)
            blocker.execute("DELETE FROM comments WHERE id = %s", [parent_id])
            blocker.commit()
        for thread in threads:
            thread.join(10)

        assert sorted(statuses.values()) == [202, 202, 202, 202, 422]
        assert statuses[4] == 422
        with app.extensions["modqueue.sessions"]() as session:
            count = session.scalar(select(func.count()).select_from(Comment)
                                   .where(Comment.body.like(f"alone {run} %")))
        assert count == 4
    finally:
        with app.extensions["modqueue.sessions"]() as session:
            session.execute(delete(Site).where(Site.id == site.id))
            session.commit()
        app.extensions["modqueue.autocommit_engine"].dispose()
        app.extensions["modqueue.sessions"].kw["bind"].dispose()


def test_limits_counted_in_one_pipeline_hold_as_if_counted_one_by_one():
    url = "redis://127.0.0.1:6379/8"
    limits = PostingLimits(url, per_address="1000/minute", per_author="3/minute")
    client = redis.Redis.from_url(url)
    author = f"author:grouped-{uuid.uuid4().hex[:6]}"
    results: dict[int, int | None] = {}

    def hit(n: int) -> None:
        results[n] = limits.hit(f"10.9.0.{n}", author)

    threads = [threading.Thread(target=hit, args=(n,)) for n in range(8)]
    # Redis holds back scripts that write while paused: the first hit waits there, the others queue behind it.
    client.execute_command("CLIENT", "PAUSE", 5000, "WRITE")
    try:
        for thread in threads:
            thread.start()
        wait_for(lambda: len(limits._grouped._queue) == 7)
    finally:
        client.execute_command("CLIENT", "UNPAUSE")
    for thread in threads:
        thread.join(10)

    assert limits._grouped.group_sizes.get(7) == 1
    assert sum(result is None for result in results.values()) == 3
    assert all(0 < result <= 60 for result in results.values() if result is not None)
    assert limits.hit("10.9.1.1", author) is not None  # the author's limit is spent
