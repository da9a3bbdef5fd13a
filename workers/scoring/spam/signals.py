"""Spam signals: what the text shows, and what Redis knows of recent traffic (duplicates, velocity)."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass

import redis

from service.moderation.links import URL, link_domains, matches_domain
BARE_DOMAIN = re.compile(r"\b[a-z0-9-]{2,}\.(?:com|net|org|info|biz|ru|xyz|top|club|online|site|ly|gl|me|co)\b", re.I)
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
PHONE = re.compile(r"(?:\+?\d[\s().-]?){9,}\d")
PROMOTION = re.compile(
    r"\b(?:check (?:out )?(?:my|our|this)|subscribe|my (?:channel|video|page|site|blog|profile|music)"
    r"|visit (?:my|our)|follow (?:me|us)|make money|earn \$?\d+|work(?:ing)? from home|click (?:here|the link|below)"
    r"|free (?:gift|iphone|money|followers|subscribers)|promo code|discount code|buy now|limited offer"
    r"|please (?:like|share|support)|like and subscribe|sub ?4 ?sub)\b",
    re.IGNORECASE,
)
REPEATED = re.compile(r"(.)\1{3,}")
SHORTENERS = frozenset(
    "bit.ly goo.gl tinyurl.com t.co ow.ly is.gd buff.ly adf.ly cutt.ly rebrand.ly shorturl.at tiny.cc "
    "rb.gy t.ly s.id v.gd qr.ae lnkd.in".split()
)

# The order of this tuple is the order of the signal features in the spam model.
SIGNAL_NAMES = (
    "honeypot",
    "links",
    "shortener",
    "denied_domain",
    "contact_details",
    "promotion",
    "shouting",
    "repetition",
    "near_duplicates",
    "author_velocity",
    "ip_velocity",
    "prior_rejections",
    "new_author",
)

DUPLICATE_WINDOW_SECONDS = 3600
VELOCITY_WINDOW_SECONDS = 600
#: Other authors of near-copies at which `near_duplicates` reaches 1.
DUPLICATE_CAP = 5


def _shouting(body: str) -> float:
    letters = [ch for ch in body if ch.isalpha()]
    if len(letters) < 20:
        return 0.0
    upper = sum(ch.isupper() for ch in letters) / len(letters)
    return max(0.0, (upper - 0.5) * 2)


def text_signals(body: str, honeypot_filled: bool, deny_domains: frozenset[str] = frozenset()) -> dict[str, float]:
    """Signals read from the comment alone, each scaled to [0, 1]."""
    domains = link_domains(body)
    link_count = len(domains) + len(BARE_DOMAIN.findall(URL.sub(" ", body)))
    return {
        "honeypot": 1.0 if honeypot_filled else 0.0,
        "links": min(link_count, 5) / 5,
        "shortener": 1.0 if any(d in SHORTENERS for d in domains) else 0.0,
        "denied_domain": 1.0 if any(matches_domain(d, deny_domains) for d in domains) else 0.0,
        "contact_details": 1.0 if EMAIL.search(body) or PHONE.search(body) else 0.0,
        "promotion": min(len(PROMOTION.findall(body)), 3) / 3,
        "shouting": _shouting(body),
        "repetition": min(len(REPEATED.findall(body)), 3) / 3,
    }


def body_fingerprint(body: str) -> str:
    """Hash of the body with case, digits, links' paths, punctuation and spacing removed: near-copies collide."""
    text = URL.sub(lambda m: " " + (link_domains(m.group(0)) or ["link"])[0] + " ", body.lower())
    text = re.sub(r"[\d\W_]+", " ", text).strip()
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class TrafficContext:
    site_id: int
    comment_id: str
    author_key: str
    remote_addr: str | None
    body: str
    at: float


class TrafficSignals:
    """Counts kept in Redis with time windows: copies by other authors, and posting velocity."""

    def __init__(self, client: redis.Redis, prefix: str = "modqueue:spam"):
        self.client = client
        self.prefix = prefix

    def observe_batch(self, items: list[TrafficContext]) -> list[dict[str, float]]:
        """Record each comment and return its traffic signals; one Redis round trip for the batch."""
        pipe = self.client.pipeline(transaction=False)
        for item in items:
            self._record(pipe, item)
        results = pipe.execute()
        per_item = len(results) // max(1, len(items))
        return [self._read(item, results[i * per_item:(i + 1) * per_item]) for i, item in enumerate(items)]

    def _keys(self, item: TrafficContext) -> tuple[str, str, str | None]:
        base = f"{self.prefix}:{item.site_id}"
        duplicates = f"{base}:dup:{body_fingerprint(item.body)}"
        author = f"{base}:author:{hashlib.blake2b(item.author_key.encode(), digest_size=10).hexdigest()}"
        ip = f"{base}:ip:{item.remote_addr}" if item.remote_addr else None
        return duplicates, author, ip

    def _record(self, pipe, item: TrafficContext) -> None:
        """Per key: drop what left the window, add this comment, read back what the signal needs, renew the
        expiry. Only counts and a few members come back, never a whole window: one address (a proxy, a
        campus) or a busy author may have thousands of comments in it."""
        duplicates, author, ip = self._keys(item)
        for key, member, window in ((duplicates, item.author_key, DUPLICATE_WINDOW_SECONDS),
                                    (author, item.comment_id, VELOCITY_WINDOW_SECONDS),
                                    (ip, item.comment_id, VELOCITY_WINDOW_SECONDS)):
            key = key or f"{self.prefix}:none"
            pipe.zremrangebyscore(key, "-inf", item.at - window)
            pipe.zadd(key, {member: item.at})
            if key == duplicates:
                # Up to DUPLICATE_CAP + 1 authors: this one may be among them, the signal stops at the cap.
                pipe.zrangebyscore(key, item.at - window, item.at, start=0, num=DUPLICATE_CAP + 1)
            else:
                pipe.zcount(key, item.at - window, item.at)
            pipe.expire(key, window)

    def _read(self, item: TrafficContext, results: list) -> dict[str, float]:
        duplicate_authors = {m.decode() for m in results[2]} - {item.author_key}
        author_recent = results[6]
        ip_recent = results[10] if item.remote_addr else 0
        return {
            "near_duplicates": min(len(duplicate_authors), DUPLICATE_CAP) / DUPLICATE_CAP,
            "author_velocity": min(max(author_recent - 3, 0), 7) / 7,
            "ip_velocity": min(max(ip_recent - 5, 0), 10) / 10,
        }


def history_signals(prior_rejected: int, prior_published: int) -> dict[str, float]:
    return {
        "prior_rejections": min(prior_rejected, 3) / 3,
        "new_author": 1.0 if prior_published == 0 else 0.0,
    }


def now() -> float:
    return time.time()
