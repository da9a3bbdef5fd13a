"""Concurrent posts share their round trips (service.comments.admission): one Redis pipeline for their
posting limits and one INSERT and one commit for their comments, for the posts that arrive while another's
are in flight; each comment is stored once, each author is limited as if the posts had come one by one,
and a comment that fails on its own fails alone."""

from __future__ import annotations

import contextlib
import threading
import uuid

import psycopg
import redis
from sqlalchemy import delete, func, select

from service import create_app
from service.comments.models import Comment
from service.extensions import db
from service.sites.models import Site
from service.sites.operations import create_site
from tests.support.waiting import wait_until


@contextlib.contextmanager
def app_with_site(settings, name: str):
    """An app with real pools (the autocommit connection, as in production) and a committed site of its own;
    the site, and with it its comments, deleted afterwards, so no other test finds them."""
    app = create_app(settings)
    with app.extensions["modqueue.sessions"]() as session:
        site = create_site(session, name, ["https://news.example"])
        session.commit()
    try:
        yield app, site
    finally:
        with app.extensions["modqueue.sessions"]() as session:
            session.execute(delete(Site).where(Site.id == site.id))  # its comments cascade
            session.commit()
        db.close_autocommit(app)
        app.extensions["modqueue.sessions"].kw["bind"].dispose()


def wait_for(condition) -> None:
    wait_until(condition, timeout=10, interval=0.005)


def post_in_threads(app, bodies: list[dict]) -> tuple[dict[int, int], list[threading.Thread]]:
    statuses: dict[int, int] = {}

    def post(n: int) -> None:
        statuses[n] = app.test_client().post("/api/v1/comments", json=bodies[n]).status_code

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(bodies))]
    for thread in threads:
        thread.start()
    return statuses, threads


def test_comments_arriving_during_an_insert_are_written_together_and_each_stored_once(settings, database_url):
    with app_with_site(settings, "Grouped") as (app, site):
        grouped = app.extensions["modqueue.admission"].grouped
        run = uuid.uuid4().hex[:6]

        def body(n: int) -> dict:
            return {"site": site.public_key, "article": {"id": "a"}, "author": {"name": f"reader {n}"},
                    "body": f"grouped {run} {n}"}

        assert app.test_client().post("/api/v1/comments", json=body(0)).status_code == 202  # the article's first
        with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql")) as blocker:
            # Hold every INSERT into comments: the first post makes a call and waits there; the other five
            # arrive during it and queue, for one call together once it returns.
            blocker.execute("LOCK TABLE comments IN EXCLUSIVE MODE")
            statuses, threads = post_in_threads(app, [body(n) for n in range(1, 7)])
            wait_for(lambda: grouped._in_flight and len(grouped._queue) == 5)
            blocker.commit()
        for thread in threads:
            thread.join(10)

        assert statuses == {n: 202 for n in range(6)}
        assert grouped.group_sizes == {1: 2, 5: 1}  # five posts went in one pipeline and one statement
        with app.extensions["modqueue.sessions"]() as session:
            stored = session.scalars(select(Comment.body).where(Comment.body.like(f"grouped {run} %"))).all()
        assert sorted(stored) == sorted(f"grouped {run} {n}" for n in range(7))


def test_a_comment_that_fails_on_its_own_fails_alone_in_its_group(settings, database_url):
    """A reply whose parent is deleted between its check and the INSERT breaks the group's statement (a
    foreign key): the group is written again row by row, and only that reply's request fails, with the
    422 that a reply to a missing comment gets."""
    with app_with_site(settings, "Grouped failure") as (app, site):
        grouped = app.extensions["modqueue.admission"].grouped
        run = uuid.uuid4().hex[:6]
        client = app.test_client()

        def body(n: int, **extra) -> dict:
            return {"site": site.public_key, "article": {"id": "a"}, "author": {"name": f"reader {n}"},
                    "body": f"alone {run} {n}", **extra}

        parent_id = client.post("/api/v1/comments", json=body(0)).get_json()["id"]
        with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql")) as blocker:
            # The first post's call waits on the lock, alone; the reply and three others queue behind it
            # and go together in the next call, which the parent's deletion then breaks.
            blocker.execute("LOCK TABLE comments IN EXCLUSIVE MODE")
            first, first_threads = post_in_threads(app, [body(1)])
            wait_for(lambda: grouped._in_flight)
            statuses, threads = post_in_threads(app, [body(n) for n in range(2, 5)] + [body(5, parent_id=parent_id)])
            wait_for(lambda: len(grouped._queue) == 4)
            blocker.execute("DELETE FROM comments WHERE id = %s", [parent_id])
            blocker.commit()
        for thread in first_threads + threads:
            thread.join(10)

        assert first == {0: 202}
        assert grouped.group_sizes.get(4) == 1
        assert statuses == {0: 202, 1: 202, 2: 202, 3: 422}
        with app.extensions["modqueue.sessions"]() as session:
            count = session.scalar(select(func.count()).select_from(Comment)
                                   .where(Comment.body.like(f"alone {run} %")))
        assert count == 4


def test_limits_counted_in_one_pipeline_hold_as_if_counted_one_by_one(settings):
    url = "redis://127.0.0.1:6379/8"
    with app_with_site(settings.replace(rate_limit_author="3/minute", redis_url=url), "Grouped limits") as (app, site):
        grouped = app.extensions["modqueue.admission"].grouped
        author = f"grouped-{uuid.uuid4().hex[:6]}"
        bodies = [{"site": site.public_key, "article": {"id": "a"}, "author": {"name": author}, "body": f"n{n}"}
                  for n in range(8)]
        client = redis.Redis.from_url(url)
        assert app.test_client().post("/api/v1/comments", json=bodies[0]).status_code == 202  # the article's first
        # Redis holds back scripts that write while paused: the first post's limits wait there, and the
        # other six queue behind them, for one pipeline together.
        client.execute_command("CLIENT", "PAUSE", 5000, "WRITE")
        try:
            statuses, threads = post_in_threads(app, bodies[1:])
            wait_for(lambda: grouped._in_flight and len(grouped._queue) == 6)
        finally:
            client.execute_command("CLIENT", "UNPAUSE")
        for thread in threads:
            thread.join(10)

        assert grouped.group_sizes == {1: 2, 6: 1}
        assert sorted(statuses.values()) == [202, 202, 429, 429, 429, 429, 429]
        with app.extensions["modqueue.sessions"]() as session:
            count = session.scalar(select(func.count()).select_from(Comment).where(Comment.site_id == site.id))
        assert count == 3
        assert app.test_client().post("/api/v1/comments", json=bodies[0]).status_code == 429
