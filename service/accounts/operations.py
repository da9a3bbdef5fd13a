"""Accounts, passwords (argon2id via argon2-cffi), API tokens and site assignments."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import ROLES, ApiToken, User
from service.db import utcnow
from service.sites.models import Site

_hasher = PasswordHasher()
TOKEN_PREFIX = "mq_"


class AccountError(ValueError):
    pass


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(session: Session, email: str, password: str, role: str) -> User:
    """Create an account; the password is stored only as an argon2 hash."""
    email = email.strip().lower()
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email:
        raise AccountError("email must contain @")
    if len(password) < 10:
        raise AccountError("password must be at least 10 characters")
    if find_user(session, email) is not None:
        raise AccountError(f"an account for {email} exists already")
    user = User(email=email, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    user.password_hash = _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except VerificationError:
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token for `user`; the secret is returned once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_digest(secret))
    session.add(token)
    session.flush()
    return token, secret


def revoke_api_token(session: Session, token_id: int) -> bool:
    token = session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    return True


def user_for_token(session: Session, secret: str) -> User | None:
    """The active user a bearer token belongs to, or None for an unknown or revoked token."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    token.last_used_at = utcnow()
    return token.user


def assign_site(user: User, site: Site) -> None:
    if site not in user.sites:
        user.sites.append(site)


def visible_site_ids(user: User) -> list[int] | None:
    """Sites the user may moderate; None means every site (admins)."""
    return None if user.is_admin else [site.id for site in user.sites]
