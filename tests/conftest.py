"""Shared fixtures: a fresh Postgres database migrated at session start, real Redis, per-test rollback."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
import redis
from sqlalchemy import make_url
from sqlalchemy.orm import sessionmaker

from service import create_app
from service.db import make_engine
from service.migrations import upgrade
from service.settings import Settings
from service.sites.operations import create_site

POSTGRES_URL = os.environ.get("MODQUEUE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MODQUEUE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
SITE_ORIGIN = "https://news.example"


def _admin_conninfo() -> str:
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url():
    """A database of this run's own, migrated with Alembic (so the migrations are tested too)."""
    name = f"modqueue_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def settings(database_url, redis_url, tmp_path_factory) -> Settings:
    return Settings.from_env({}).replace(
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret",
        toxicity_model="fallback",
        instance_path=tmp_path_factory.mktemp("instance"),
        # Tests post far faster than readers; the limits have tests of their own.
        rate_limit_ip="100000/minute",
        rate_limit_author="100000/minute",
        secure_cookies=False,
    )


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine):
    """One connection in an outer transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def session_factory(connection):
    # Commits inside the code under test release savepoints; the outer rollback undoes everything.
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db_session(session_factory):
    session = session_factory()
    yield session
    session.close()


@pytest.fixture
def app(settings, session_factory):
    return create_app(settings, session_factory=session_factory)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def site(db_session):
    created = create_site(db_session, "Daily News", [SITE_ORIGIN], created_by="test")
    db_session.commit()
    return created


@pytest.fixture
def new_comments(db_session):
    """How many comments this test added (other tests commit theirs to the shared database)."""
    from sqlalchemy import func, select

    from service.comments.models import Comment

    def count() -> int:
        return db_session.scalar(select(func.count()).select_from(Comment))

    before = count()
    return lambda: count() - before
