"""Load and save spam model states in the database; every worker reads the same versions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.db import utcnow
from service.spam.models import GLOBAL_SCOPE, SpamModelState
from workers.scoring.spam.model import OnlineLogit


def _fresh(scope: str) -> OnlineLogit:
    return OnlineLogit.with_priors() if scope == GLOBAL_SCOPE else OnlineLogit.empty()


def _decode(row: SpamModelState | None, scope: str) -> OnlineLogit:
    return OnlineLogit.from_bytes(row.state) if row is not None and row.state else _fresh(scope)


def ensure_scopes(session: Session, scopes: list[str]) -> None:
    """Create missing state rows (concurrent creators are harmless: the insert does nothing on conflict)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for scope in scopes:
        session.execute(
            dialect.insert(SpamModelState)
            .values(scope=scope, version=0, labels_seen=0, updated_at=utcnow())
            .on_conflict_do_nothing(index_elements=["scope"])
        )


class CachedSpamModels:
    """Per-process cache: a scope is decoded again only when its version in the database moved on."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, OnlineLogit]] = {}

    def load(self, session: Session, scopes: list[str]) -> dict[str, tuple[int, OnlineLogit]]:
        versions = dict(session.execute(
            select(SpamModelState.scope, SpamModelState.version).where(SpamModelState.scope.in_(scopes))
        ).all())
        for scope in scopes:
            version = versions.get(scope, 0)
            if scope not in self._cache or self._cache[scope][0] != version:
                row = session.scalar(select(SpamModelState).where(SpamModelState.scope == scope)) if version else None
                self._cache[scope] = (version, _decode(row, scope))
        return {scope: self._cache[scope] for scope in scopes}


def lock_models(session: Session, scopes: list[str]) -> dict[str, tuple[SpamModelState, OnlineLogit]]:
    """Lock the scopes' rows (in a fixed order, so learners never deadlock) and decode their states."""
    ensure_scopes(session, scopes)
    rows = session.scalars(
        select(SpamModelState).where(SpamModelState.scope.in_(scopes)).order_by(SpamModelState.scope)
        .with_for_update()
    ).all()
    return {row.scope: (row, _decode(row, row.scope)) for row in rows}


def save_model(row: SpamModelState, model: OnlineLogit) -> None:
    row.state = model.to_bytes()
    row.version += 1
    row.labels_seen += 1
    row.updated_at = utcnow()
