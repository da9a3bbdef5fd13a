"""Create sites and read their current policy."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.ids import new_key
from service.moderation.policy import PolicyRules
from service.sites.models import Policy, Site, SiteOrigin


class InvalidOrigin(ValueError):
    pass


def normalize_origin(url: str) -> str:
    """Reduce a URL to the origin a browser sends: scheme://host[:port], lower-case, default port dropped."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidOrigin(f"not an http(s) origin: {url!r}")
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def create_site(session: Session, name: str, origins: list[str], created_by: str = "cli") -> Site:
    """Create a site with its origins and the default policy as version 1."""
    site = Site(name=name, public_key=new_key("site"))
    site.origins = [SiteOrigin(origin=o) for o in dict.fromkeys(normalize_origin(u) for u in origins)]
    session.add(site)
    session.flush()
    rules = PolicyRules()
    session.add(
        Policy(
            site_id=site.id,
            version=1,
            thresholds=rules.thresholds_json(),
            premoderation=rules.premoderation,
            word_lists=rules.word_lists_json(),
            created_by=created_by,
        )
    )
    session.flush()
    return site


SITE_KEY = re.compile(r"^site_[A-Za-z0-9_-]{1,58}$")


def find_site(session: Session, public_key: str) -> Site | None:
    if not SITE_KEY.match(public_key or ""):
        return None
    return session.scalar(select(Site).where(Site.public_key == public_key))


def current_policy(session: Session, site_id: int) -> Policy:
    """Return the site's newest policy version."""
    return session.scalars(
        select(Policy).where(Policy.site_id == site_id).order_by(Policy.version.desc()).limit(1)
    ).one()


def origin_allowed_anywhere(session: Session, origin: str) -> bool:
    """Whether any site accepts browser requests from this origin (answers CORS preflights)."""
    return session.scalar(select(SiteOrigin.id).where(SiteOrigin.origin == origin).limit(1)) is not None


@dataclass(frozen=True)
class SiteRef:
    """What the request path needs of a site, cheap to keep in memory."""

    id: int
    public_key: str
    origin_urls: tuple[str, ...]
    closed: bool = False
    closed_articles: frozenset[str] = frozenset()


def set_origins(site: Site, origins: list[str]) -> None:
    wanted = list(dict.fromkeys(normalize_origin(u) for u in origins))
    site.origins = [o for o in site.origins if o.origin in wanted] + [
        SiteOrigin(origin=o) for o in wanted if o not in site.origin_urls]


def rotate_key(site: Site) -> str:
    """Give the site a new public key; pages embedding the old one stop working until updated."""
    site.public_key = new_key("site")
    return site.public_key


def set_article_closed(session: Session, site: Site, external_id: str, closed: bool) -> None:
    from service.comments.models import Article

    article = session.scalar(select(Article).where(Article.site_id == site.id, Article.external_id == external_id))
    if article is None:
        article = Article(site_id=site.id, external_id=external_id)
        session.add(article)
    article.closed = closed
    session.flush()


class SiteCache:
    """Sites by public key, kept for `ttl` seconds per process: a change of origins, or closing a site or an
    article, takes that long to reach every web process."""

    def __init__(self, ttl: float = 30.0, max_entries: int = 10_000):
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: dict[str, tuple[float, SiteRef | None]] = {}

    def get(self, session: Session | Callable[[], Session], public_key: str) -> SiteRef | None:
        """The site, or None; `session` may be a function that returns one, called only on a miss."""
        now = time.monotonic()
        cached = self._entries.get(public_key)
        if cached is not None and cached[0] > now:
            return cached[1]
        if callable(session):
            session = session()
        site = find_site(session, public_key)
        ref = None
        if site is not None:
            from service.comments.models import Article

            closed = frozenset(session.scalars(
                select(Article.external_id).where(Article.site_id == site.id, Article.closed.is_(True))))
            ref = SiteRef(site.id, site.public_key, tuple(site.origin_urls), site.closed, closed)
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[public_key] = (now + self.ttl, ref)
        return ref

    def forget(self, public_key: str) -> None:
        """Drop a site changed by this process (other processes see the change within `ttl`)."""
        self._entries.pop(public_key, None)
