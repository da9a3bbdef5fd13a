"""Posting limits per client address and per author, counted in Redis by Flask-Limiter."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from service.comments.models import author_key_for
from service.settings import Settings

limiter = Limiter(key_func=get_remote_address, default_limits=[])


def author_key() -> str:
    """The author a comment claims to be from (email, else name); the address when the body names none."""
    payload = request.get_json(silent=True) if request.is_json else None
    author = payload.get("author") if isinstance(payload, dict) else None
    if isinstance(author, dict) and isinstance(author.get("name"), str):
        email = author.get("email") if isinstance(author.get("email"), str) else None
        return "author:" + author_key_for(author["name"], email)
    return "address:" + get_remote_address()


def ip_limit() -> str:
    return current_app.config["MODQUEUE_SETTINGS"].rate_limit_ip


def author_limit() -> str:
    return current_app.config["MODQUEUE_SETTINGS"].rate_limit_author


def init_rate_limits(app: Flask, settings: Settings) -> None:
    app.config.update(
        RATELIMIT_STORAGE_URI=settings.rate_limit_storage_url,
        # Two Redis counters per limit instead of a sorted set of every hit (moving-window).
        RATELIMIT_STRATEGY="sliding-window-counter",
        # No X-RateLimit-* headers: they cost a Redis round trip on every request, about a tenth of what a
        # comment costs to accept. A refused request gets Retry-After (service.errors).
        RATELIMIT_HEADERS_ENABLED=False,
        # If Redis is down, accept the comment: it is stored either way and losing a limit briefly is
        # better than losing comments.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_KEY_PREFIX="modqueue:limits",
    )
    limiter.init_app(app)
