"""Per-site credentials for the compatibility APIs, and the labels those APIs taught the spam model."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, UTCDateTime, utcnow
from service.sites.models import Site

API_KEY = "api_key"
CORAL_SECRET = "coral_secret"
CREDENTIAL_KINDS = (API_KEY, CORAL_SECRET)


class SiteCredential(Base):
    """A secret a program uses to call modqueue for one site.

    `api_key`: the key Perspective and Akismet clients send; only its SHA-256 is stored.
    `coral_secret`: Coral's signing secret for an external moderation phase. Checking an HMAC needs the
    secret itself, so it is stored as given; listings show its first characters only.
    """

    __tablename__ = "site_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    secret: Mapped[str | None] = mapped_column(String(200))
    hint: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    site: Mapped[Site] = relationship(lazy="joined")

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ExternalLabel(Base):
    """A spam/ham label sent through a compatibility API (Akismet submit-*, Perspective suggestscore).

    Only a hash of the text is kept: enough to learn each (text, label) once, never the text itself.
    """

    __tablename__ = "external_labels"
    __table_args__ = (UniqueConstraint("site_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    content_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
