"""Persisted state of the learned spam model: one row for the global prior, one per site."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow

GLOBAL_SCOPE = "global"


def site_scope(site_id: int) -> str:
    return f"site:{site_id}"


class SpamModelState(Base):
    __tablename__ = "spam_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(40), unique=True)
    # Bumped on every update; workers reload a scope when its version changes.
    version: Mapped[int] = mapped_column(default=0)
    labels_seen: Mapped[int] = mapped_column(default=0)
    # numpy arrays in .npz form (loaded with allow_pickle=False); empty until the first label.
    state: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
