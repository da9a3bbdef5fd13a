"""The task base class: settings, one engine per process, and a transaction retried on transient DB errors."""

from __future__ import annotations

import logging
import random
import time
from typing import Callable, TypeVar

from celery import Task
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.db import import_models, make_engine, make_session_factory
from service.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


def is_transient(exc: Exception) -> bool:
    """A lost connection, a restart or a lock timeout: worth another try."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


class DatabaseTask(Task):
    abstract = True
    #: tries of one transaction before the error propagates (the sweeper then catches what is left)
    transaction_attempts = 6
    _session_factory: sessionmaker[Session] | None = None

    @property
    def settings(self) -> Settings:
        return self.app.conf.modqueue_settings

    @property
    def session_factory(self) -> sessionmaker[Session]:
        # Built lazily so that each prefork child opens its own connections after the fork.
        if DatabaseTask._session_factory is None:
            import_models()
            DatabaseTask._session_factory = make_session_factory(make_engine(self.settings.database_url))
        return DatabaseTask._session_factory

    def run_in_transaction(self, work: Callable[..., T], *args) -> T:
        """Run `work(session, *args)` and commit; retry with exponential backoff while the DB is unreachable."""
        for attempt in range(1, self.transaction_attempts + 1):
            try:
                with self.session_factory.begin() as session:
                    return work(session, *args)
            except DBAPIError as exc:
                if not is_transient(exc) or attempt == self.transaction_attempts:
                    raise
                delay = min(8.0, 0.25 * 2**attempt) * (0.5 + random.random())
                log.warning("database unavailable (%s); retry %d in %.1fs", type(exc).__name__, attempt, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")
