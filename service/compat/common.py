"""What the three compatibility APIs share: per-key rate limits, metrics and the site's policy."""

from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager

from flask import current_app, request
from flask_limiter.util import get_remote_address

from service.metrics import COMPAT_REQUESTS, COMPAT_SECONDS
from service.moderation.policy import PolicyRules
from service.sites.operations import InvalidOrigin, current_policy, normalize_origin
from service.sites.models import Site


def compat_limit() -> str:
    return current_app.config["MODQUEUE_SETTINGS"].rate_limit_compat


def limit_key(secret: str | None) -> str:
    """Count calls per key (a digest of it, never the key); calls without one per client address."""
    if secret:
        return "compat:key:" + hashlib.sha256(secret.encode()).hexdigest()[:24]
    return "compat:address:" + get_remote_address()


@contextmanager
def observed(api: str, endpoint: str):
    """Time the call and count it by outcome: the view may set `outcome["value"]` (e.g. "spam"); a raised
    error counts as "refused" (4xx) or "unavailable" (5xx)."""
    started = time.perf_counter()
    outcome = {"value": "ok"}
    try:
        yield outcome
    except Exception as exc:
        outcome["value"] = "refused" if getattr(exc, "code", 500) < 500 else "unavailable"
        raise
    finally:
        COMPAT_SECONDS.labels(api).observe(time.perf_counter() - started)
        COMPAT_REQUESTS.labels(api, endpoint, outcome["value"]).inc()


def site_rules(session, site: Site) -> PolicyRules:
    policy = current_policy(session, site.id)
    return PolicyRules.from_stored(policy.thresholds, policy.premoderation, policy.word_lists)


def url_matches_site(url: str, site: Site) -> bool:
    """Whether `url` (Akismet's `blog`) is on one of the site's origins."""
    try:
        return normalize_origin(url) in set(site.origin_urls)
    except (InvalidOrigin, ValueError):
        return False


def request_api_key(*names: str) -> str | None:
    for name in names:
        value = request.args.get(name) or request.form.get(name)
        if value:
            return value.strip()
    return None
