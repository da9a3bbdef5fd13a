"""Sites that embed the widget, their allowed origins and their versioned policies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, UTCDateTime, utcnow


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    # A closed site keeps its comments visible but takes no new ones.
    closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Read when asked for (one query): most loads of a site need none of them (a worker's batch, a policy,
    # the dashboard's site list). A list that shows them loads them with `selectinload(Site.origins)`.
    origins: Mapped[list["SiteOrigin"]] = relationship(back_populates="site", cascade="all, delete-orphan")

    @property
    def origin_urls(self) -> list[str]:
        return [o.origin for o in self.origins]


class SiteOrigin(Base):
    """One web origin (scheme://host[:port]) allowed to post to a site from a browser."""

    __tablename__ = "site_origins"
    __table_args__ = (UniqueConstraint("site_id", "origin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(300), index=True)

    site: Mapped[Site] = relationship(back_populates="origins")


class Policy(Base):
    """One version of a site's moderation policy; a new version is written on every change."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("site_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    version: Mapped[int]
    # {"toxicity": {"review_at": 0.8, "reject_at": null}, ...}
    thresholds: Mapped[dict] = mapped_column(JSON)
    premoderation: Mapped[str] = mapped_column(String(16))
    # {"banned": [...], "suspect": [...]}; absent in policies written before word lists existed.
    word_lists: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(254))

    site: Mapped[Site] = relationship(lazy="joined")
