"""Engine, sessions and the declarative base shared by the web app and the workers."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use service.db.utcnow()")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _tune_sqlite(dbapi_connection, _record) -> None:
    # WAL lets the web process read while a worker writes; the busy timeout waits out short write locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, pool_size: int | None = None, *, autocommit: bool = False, **options) -> Engine:
    """Create an engine with the settings each backend needs; `pool_size`: connections kept open (server
    databases), with as many again times two opened for bursts.

    `autocommit`: every statement commits by itself, set once per connection rather than per checkout, and
    no round trip to ping a connection before each use: the caller retries a statement that finds its
    connection dead (`Database.autocommit_once`)."""
    if autocommit:
        options.update(isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 10, "check_same_thread": False}, **options)
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    if pool_size:
        options.update(pool_size=pool_size, max_overflow=2 * pool_size)
    return create_engine(url, pool_pre_ping=not autocommit, **options)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit, so a handler can answer from them."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def import_models() -> None:
    """Import every feature's models so the metadata is complete (migrations, tests)."""
    from service.accounts import models as _accounts  # noqa: F401
    from service.audit import models as _audit  # noqa: F401
    from service.comments import models as _comments  # noqa: F401
    from service.compat import models as _compat  # noqa: F401
    from service.sites import models as _sites  # noqa: F401
    from service.spam import models as _spam  # noqa: F401
