"""Create, find and revoke the per-site credentials of the compatibility APIs."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.compat.models import API_KEY, CORAL_SECRET, SiteCredential
from service.db import utcnow
from service.sites.models import Site

KEY_PREFIX = "mqk_"
MIN_SECRET_CHARS = 16
# `last_used_at` is written at most this often (seconds), not on every call.
LAST_USED_RESOLUTION = 60


class CredentialError(ValueError):
    pass


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise CredentialError("name must be 1 to 100 characters")
    return name


def create_api_key(session: Session, site: Site, name: str, created_by: str | None = None) -> tuple[SiteCredential, str]:
    """A secret API key for Perspective/Akismet clients of `site`; returned once, stored as a hash."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    credential = SiteCredential(site_id=site.id, kind=API_KEY, name=_name(name), key_hash=_digest(key),
                                hint=key[:8], created_by=created_by)
    session.add(credential)
    session.flush()
    return credential, key


def add_coral_secret(session: Session, site: Site, name: str, secret: str | None = None,
                     created_by: str | None = None) -> tuple[SiteCredential, str]:
    """Store Coral's signing secret for `site` (pasted from Coral's admin), or make one when none is given."""
    secret = (secret or "").strip() or "mqcs_" + secrets.token_urlsafe(32)
    if len(secret) < MIN_SECRET_CHARS or len(secret) > 200:
        raise CredentialError(f"a signing secret must be {MIN_SECRET_CHARS} to 200 characters")
    credential = SiteCredential(site_id=site.id, kind=CORAL_SECRET, name=_name(name), secret=secret,
                                hint=secret[:6], created_by=created_by)
    session.add(credential)
    session.flush()
    return credential, secret


def list_credentials(session: Session, site: Site) -> list[SiteCredential]:
    return list(session.scalars(
        select(SiteCredential).where(SiteCredential.site_id == site.id).order_by(SiteCredential.id)
    ))


def revoke_credential(session: Session, site: Site, credential_id: int) -> bool:
    credential = session.get(SiteCredential, credential_id)
    if credential is None or credential.site_id != site.id or credential.revoked_at is not None:
        return False
    credential.revoked_at = utcnow()
    return True


def credential_for_key(session: Session, key: str) -> SiteCredential | None:
    """The active API key credential for `key` (with its site), or None; marks it used."""
    if not key or len(key) > 200:
        return None
    credential = session.scalar(select(SiteCredential).where(SiteCredential.key_hash == _digest(key),
                                                             SiteCredential.kind == API_KEY))
    if credential is None or credential.revoked_at is not None:
        return None
    now = utcnow()
    if credential.last_used_at is None or (now - credential.last_used_at).total_seconds() > LAST_USED_RESOLUTION:
        credential.last_used_at = now
    return credential


def coral_secrets(session: Session, site: Site) -> list[SiteCredential]:
    return list(session.scalars(
        select(SiteCredential).where(SiteCredential.site_id == site.id, SiteCredential.kind == CORAL_SECRET,
                                     SiteCredential.revoked_at.is_(None))
    ))


def credential_json(credential: SiteCredential) -> dict:
    return {
        "id": credential.id,
        "kind": credential.kind,
        "name": credential.name,
        "hint": credential.hint + "…",
        "created_by": credential.created_by,
        "created_at": credential.created_at.isoformat(),
        "last_used_at": credential.last_used_at.isoformat() if credential.last_used_at else None,
        "revoked_at": credential.revoked_at.isoformat() if credential.revoked_at else None,
    }
