from __future__ import annotations

import pytest

from tests.support.detoxify_checkpoint import build_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A Detoxify-format checkpoint of a tiny random BERT, built offline for this run."""
    return build_checkpoint(tmp_path_factory.mktemp("detoxify"))


import itertools
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from sqlalchemy import select

from service import create_app
from service.audit.models import StatusChange
from service.comments.models import Comment
from service.db import make_session_factory
from service.extensions import db
from service.sites.operations import create_site
from tests.support.processes import RunningProcess, modqueue_env, start_worker
from tests.support.waiting import wait_until

# Each pipeline test gets a Redis database of its own, so no worker takes another test's messages.
_redis_dbs = itertools.cycle(range(12, 16))


@dataclass
class Stack:
    """The web app (in-process, committed data) plus real worker processes on a private Redis queue."""

    settings: object
    app: object
    sessions: object
    site_key: str
    tmp_path: object
    processes: list = field(default_factory=list)

    @property
    def client(self):
        return self.app.test_client()

    def start_worker(self, name: str = "worker", **env: str) -> RunningProcess:
        worker = start_worker(self.settings, self.tmp_path / f"{name}.log", **env)
        self.processes.append(worker)
        return worker

    def start_process(self, name: str, args: list[str], **env: str) -> RunningProcess:
        process = RunningProcess(args, modqueue_env(self.settings, **env), self.tmp_path / f"{name}.log")
        self.processes.append(process)
        return process

    @property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url)

    def post(self, body: str, *, headers: dict | None = None, **fields) -> dict:
        payload = {"site": self.site_key, "article": {"id": "story"}, "author": {"name": "Reader"}, "body": body}
        response = self.client.post("/api/v1/comments", json={**payload, **fields}, headers=headers or {})
        assert response.status_code == 202, response.get_data(as_text=True)
        return response.get_json()

    def comments(self, ids) -> dict[str, Comment]:
        with self.sessions() as session:
            return {c.id: c for c in session.scalars(select(Comment).where(Comment.id.in_(list(ids))))}

    def statuses(self, ids) -> dict[str, str]:
        return {cid: c.status for cid, c in self.comments(ids).items()}

    def audit(self, ids) -> list[StatusChange]:
        with self.sessions() as session:
            return list(session.scalars(select(StatusChange).where(StatusChange.comment_id.in_(list(ids)))))

    def wait_decided(self, ids, timeout: float = 60.0) -> dict[str, str]:
        ids = list(ids)

        def decided():
            statuses = self.statuses(ids)
            return statuses if all(s != "pending" for s in statuses.values()) and len(statuses) == len(ids) else None

        return wait_until(decided, timeout, 0.2, message=f"{len(ids)} comments decided")


@contextmanager
def running_stack(settings, engine, tmp_path, **changes):
    private = settings.replace(redis_url=f"redis://127.0.0.1:6379/{next(_redis_dbs)}", **changes)
    redis.Redis.from_url(private.redis_url).flushdb()
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        site_key = create_site(session, f"Pipeline {tmp_path.name}", ["https://news.example"]).public_key
    app = create_app(private, session_factory=sessions)
    running = Stack(private, app, sessions, site_key, tmp_path)
    try:
        yield running
    finally:
        for process in running.processes:
            process.stop()
        db.close_autocommit(app)  # the app's own connections, beside `engine`'s


@pytest.fixture
def stack(settings, engine, tmp_path):
    with running_stack(settings, engine, tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
def module_stack(settings, engine, tmp_path_factory):
    """Like `stack`, shared by the tests of one module (their workers start once)."""
    with running_stack(settings, engine, tmp_path_factory.mktemp("module")) as running:
        yield running
