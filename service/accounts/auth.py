"""Who is calling: a bearer token (API clients) or the dashboard's session cookie."""

from __future__ import annotations

from functools import wraps

from flask import g, request, session

from service.accounts.models import User
from service.accounts.operations import user_for_token
from service.errors import APIError
from service.extensions import db


def current_user() -> User | None:
    if "user" not in g:
        g.user = None
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() == "bearer" and secret.strip():
            g.user = user_for_token(db.session, secret.strip())
        elif "user_id" in session:
            user = db.session.get(User, session["user_id"])
            g.user = user if user is not None and user.active else None
    return g.user


def uses_bearer_token() -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


def login_required(view):
    """Refuse anonymous callers with 401."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            raise APIError(401, "unauthorized", "sign in, or send Authorization: Bearer <token>")
        return view(*args, **kwargs)

    return wrapper
