"""Process-wide services, created here unbound and bound to an app in `create_app`."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import redis
from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from service.db import make_engine, make_session_factory
from service.metrics import SCORING_PUBLISHED
from service.publisher import BatchPublisher
from service.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)
T = TypeVar("T")


class Database:
    """One SQLAlchemy session per request, closed (rolled back if uncommitted) at teardown; and a pool of
    autocommit connections for the request path's single statements, with one of them kept by the process
    for posted comments' grouped INSERTs (`TurnConnection`)."""

    def init_app(self, app: Flask, settings: Settings, session_factory: sessionmaker[Session] | None = None) -> None:
        factory = session_factory or make_session_factory(
            make_engine(settings.database_url, pool_size=settings.db_pool_size)
        )
        app.extensions["modqueue.sessions"] = factory
        bind = factory.kw.get("bind")
        # Where sessions are bound to one connection (tests, inside an outer transaction) there is none.
        autocommit_engine = make_engine(
            bind.url.render_as_string(hide_password=False), pool_size=settings.db_pool_size, autocommit=True,
        ) if isinstance(bind, Engine) else None
        app.extensions["modqueue.autocommit_engine"] = autocommit_engine
        app.extensions["modqueue.turn_connection"] = TurnConnection(autocommit_engine) if autocommit_engine else None
        app.teardown_appcontext(self._close)

    @property
    def session_factory(self) -> sessionmaker[Session]:
        return current_app.extensions["modqueue.sessions"]

    @property
    def session(self) -> Session:
        return self.get_session()

    def get_session(self) -> Session:
        """The request's session, begun on first use."""
        if "db_session" not in g:
            g.db_session = self.session_factory()
        return g.db_session

    def commit(self) -> None:
        """Commit the request's session, if it has begun a transaction (a session that only exists, or has
        nothing begun, costs nothing)."""
        session = g.get("db_session")
        if session is not None and session.in_transaction():
            session.commit()

    def autocommit(self) -> Connection:
        """A connection on which each statement commits by itself: a single INSERT is one round trip, with
        no BEGIN and COMMIT around it. Where sessions are bound to one connection (tests, inside an outer
        transaction) it is the session's connection, and the caller's `commit()` commits."""
        engine = current_app.extensions["modqueue.autocommit_engine"]
        if engine is None:
            return self.session.connection()
        if "db_autocommit" not in g:
            g.db_autocommit = engine.connect()
        return g.db_autocommit

    def autocommit_once(self, work: Callable[[Connection], T], done: Callable[[Connection], bool], *,
                        in_turn: bool = False) -> T | None:
        """Run `work` on the autocommit connection: the request's, or with `in_turn` the process's
        `TurnConnection` (only for callers that never run at the same time). Neither is pinged before use
        (a round trip on every request), so one that died since it was last used (the database restarted)
        fails here: SQLAlchemy then drops it, and the pool's other connections as old, and `work` runs once
        more on a new connection, unless `done` finds that the first try committed before the connection
        went (then None)."""
        turn: TurnConnection | None = current_app.extensions["modqueue.turn_connection"] if in_turn else None
        connect = turn.connection if turn is not None else self.autocommit
        try:
            return work(connect())
        except DBAPIError as exc:
            if not exc.connection_invalidated or current_app.extensions["modqueue.autocommit_engine"] is None:
                raise
            log.info("database connection lost (%s); trying once more on a new one", type(exc.orig).__name__)
        if turn is not None:
            turn.close()
        else:
            g.pop("db_autocommit").close()
        connection = connect()
        return None if done(connection) else work(connection)

    @staticmethod
    def close_autocommit(app: Flask) -> None:
        """Close an app's autocommit connections, its turn connection and its pool's: for an app done with
        before its process ends (tests, tools)."""
        turn = app.extensions.get("modqueue.turn_connection")
        if turn is not None:
            turn.close()
        engine = app.extensions.get("modqueue.autocommit_engine")
        if engine is not None:
            engine.dispose()

    @staticmethod
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
        connection = g.pop("db_autocommit", None)
        if connection is not None:
            connection.close()


class TurnConnection:
    """An autocommit connection that a process keeps, for callers that take turns and never use it at the
    same time (posted comments' grouped writes: one call at a time, `service.grouping`). Kept, it is not
    taken from the pool and given back on every call, which cost 0.07 ms of CPU per post (machine N)."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._connection: Connection | None = None
        self._pid = 0

    def connection(self) -> Connection:
        if self._connection is None or self._pid != os.getpid():
            # Made on first use; a forked child makes its own and leaves its parent's alone.
            self._connection, self._pid = self._engine.connect(), os.getpid()
        return self._connection

    def close(self) -> None:
        """Give the connection up (it died); the next call makes a new one."""
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            connection.close()


class Redis:
    """A lazily connected redis-py client for events and health checks."""

    def init_app(self, app: Flask, settings: Settings) -> None:
        # redis-py connects on first use, so building the client here costs nothing.
        app.extensions["modqueue.redis"] = (
            redis.Redis.from_url(settings.redis_client_url, socket_connect_timeout=2, socket_timeout=5)
            if settings.redis_url
            else None
        )

    @property
    def client(self) -> redis.Redis:
        client = current_app.extensions["modqueue.redis"]
        if client is None:
            raise redis.ConnectionError("MODQUEUE_REDIS_URL is not set")
        return client


class TaskQueue:
    """Sends work to the Celery workers by task name; the web process never imports the tasks."""

    def init_app(self, app: Flask, settings: Settings) -> None:
        app.extensions["modqueue.celery"] = None
        app.extensions["modqueue.settings"] = settings
        app.extensions["modqueue.scoring_publisher"] = None
        # The first requests of a process arrive together: one of them makes the Celery app and the
        # publisher, and the others use those (re-entrant: the publisher is made with the Celery app).
        app.extensions["modqueue.task_queue_lock"] = threading.RLock()

    @staticmethod
    def _made_once(key: str, make: Callable[[], T]) -> T:
        extensions = current_app.extensions
        if (value := extensions[key]) is None:
            with extensions["modqueue.task_queue_lock"]:
                if (value := extensions[key]) is None:
                    value = extensions[key] = make()
        return value

    @property
    def celery(self) -> "Celery":
        def make() -> "Celery":
            from workers.celery_app import create_celery

            return create_celery(current_app.extensions["modqueue.settings"])

        return self._made_once("modqueue.celery", make)

    def _send(self, task: str, args: list, comment_id: str | None = None) -> bool:
        try:
            self.celery.send_task(
                task,
                args=args,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
            )
            return True
        except Exception:
            log.warning("queue unavailable; %s not sent", task, extra={"comment_id": comment_id})
            return False

    @property
    def scoring_publisher(self) -> BatchPublisher:
        def make() -> BatchPublisher:
            from workers.celery_app import send_scoring

            celery, settings = self.celery, current_app.extensions["modqueue.settings"]
            return BatchPublisher(lambda ids: send_scoring(celery, ids, settings.batch_size),
                                  name="scoring publisher", linger=settings.publish_linger_seconds,
                                  counter=SCORING_PUBLISHED)

        return self._made_once("modqueue.scoring_publisher", make)

    def enqueue_scoring(self, comment_id: str) -> bool:
        """Queue a committed comment for scoring without waiting for Redis: this process's publisher sends
        it with whatever else is waiting, in one round trip. If the message is lost, the comment stays
        pending and the sweeper queues it."""
        return self.scoring_publisher.submit(comment_id)

    def enqueue_learning(self, comment_id: str, is_spam: bool) -> bool:
        """Teach the spam model from a committed moderator decision."""
        return self._send("modqueue.learn_spam_label", [comment_id, is_spam], comment_id)

    def enqueue_text_learning(self, site_id: int, text: str, is_spam: bool, source: str, context: dict) -> bool:
        """Teach a site's spam model a text labelled through a compatibility API (Akismet, Perspective)."""
        return self._send("modqueue.learn_spam_text", [site_id, text, bool(is_spam), source, context])


db = Database()
redis_store = Redis()
task_queue = TaskQueue()
