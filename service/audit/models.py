"""The audit trail: one row per status change of a comment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow

AUTO_ACTOR = "auto"


class StatusChange(Base):
    __tablename__ = "status_changes"
    __table_args__ = (Index("ix_status_changes_comment_id_created_at", "comment_id", "created_at"),
                      # The dashboard's event stream catches up on the changes since a moment (a page's load,
                      # a dropped stream).
                      Index("ix_status_changes_created_at", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    # "auto" for the policy, otherwise the moderator's email.
    actor: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"))
    policy_version: Mapped[int | None]
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
