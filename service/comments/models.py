"""Articles, comments and reader reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, UTCDateTime, utcnow
from service.ids import new_id
from service.sites.models import Site

PENDING, PUBLISHED, FLAGGED, REJECTED = "pending", "published", "flagged", "rejected"
STATUSES = (PENDING, PUBLISHED, FLAGGED, REJECTED)


def author_key_for(name: str, email: str | None) -> str:
    return f"email:{email.strip().lower()}" if email else f"name:{name.strip().lower()}"


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str | None] = mapped_column(String(300))
    closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("site_id", "idempotency_key"),
        Index("ix_comments_status_queued_at", "status", "queued_at"),
        Index("ix_comments_article_id_status", "article_id", "status"),
        Index("ix_comments_site_id_status_id", "site_id", "status", "id"),
        Index("ix_comments_site_id_author_key", "site_id", "author_key"),
        Index("ix_comments_status_max_score_id", "status", "max_score", "id"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("comments.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(80))
    author_email: Mapped[str | None] = mapped_column(String(254))
    # Who the author is on this site: their email if given, else their name (history, bans, velocity).
    author_key: Mapped[str] = mapped_column(String(300))
    # Plain text exactly as written (after newline normalisation); never interpreted as HTML.
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    honeypot_filled: Mapped[bool] = mapped_column(Boolean, default=False)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the comment was last handed to the queue; the sweeper re-queues stale pending ones.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # {"toxicity": 0.93, "spam": 0.1, ...} with Detoxify's label names.
    scores: Mapped[dict | None] = mapped_column(JSON)
    # {"toxicity": "detoxify/original@c1212f89", "spam": "signals/1"}: which backend produced each score.
    score_sources: Mapped[dict | None] = mapped_column(JSON)
    # Why the policy decided as it did: [{"attribute": "toxicity", "value": 0.93, ...}].
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"))
    # The highest of the scores, for sorting and filtering queues by how bad a comment looks.
    max_score: Mapped[float | None] = mapped_column(Float)
    # The spam signals measured when the comment was scored; the spam model learns from them later.
    signals: Mapped[dict | None] = mapped_column(JSON)
    # The label ("spam"/"ham") the spam model last learned from this comment, so a label is learned once.
    learned_label: Mapped[str | None] = mapped_column(String(8))

    site: Mapped[Site] = relationship(lazy="joined")
    article: Mapped[Article] = relationship(lazy="joined")


class Report(Base):
    """A reader's report on a comment; it queues the comment for review without changing its status."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_created_at", "created_at"),)  # the dashboard event stream's catch-up

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(1000))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


BAN, SUSPEND = "ban", "suspend"


class AuthorRestriction(Base):
    """A moderator's ban (new comments rejected) or suspension (held until a date) of an author on a site."""

    __tablename__ = "author_restrictions"
    __table_args__ = (UniqueConstraint("site_id", "author_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    author_key: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
