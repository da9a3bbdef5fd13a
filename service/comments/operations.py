"""Accept, look up and report comments. Functions flush; the caller commits."""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.comments.models import PENDING, PUBLISHED, Article, Comment, Report, author_key_for
from service.comments.schemas import ArticleIn, CommentIn, ReportIn
from service.db import utcnow
from service.ids import new_id
from service.sites.models import Site


class SubmissionError(Exception):
    """The request is well-formed but cannot be accepted as it stands."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}


def _find_article(session: Session, site: Site, external_id: str) -> Article | None:
    return session.scalar(select(Article).where(Article.site_id == site.id, Article.external_id == external_id))


class ArticleIds:
    """Article ids by (site, the site's article id), kept per process: articles are created, never renamed."""

    def __init__(self, max_entries: int = 100_000):
        self.max_entries = max_entries
        self._ids: dict[tuple[int, str], int] = {}

    def get(self, site_id: int, external_id: str) -> int | None:
        return self._ids.get((site_id, external_id))

    def remember(self, site_id: int, external_id: str, article_id: int) -> None:
        if len(self._ids) >= self.max_entries:
            self._ids.clear()
        self._ids[(site_id, external_id)] = article_id


def get_or_create_article(session: Session, site: Site, data: ArticleIn) -> Article:
    """Find the article by the site's own id, creating it on its first comment."""
    article = _find_article(session, site, data.id)
    if article is None:
        try:
            with session.begin_nested():
                article = Article(site_id=site.id, external_id=data.id, url=data.url, title=data.title)
                session.add(article)
        except IntegrityError:  # another request created it first
            article = _find_article(session, site, data.id)
    if article.url is None and data.url:
        article.url = data.url
    if article.title is None and data.title:
        article.title = data.title
    return article


def _replay(session: Session, site: Site, key: str, fingerprint: str) -> Comment | None:
    existing = session.scalar(select(Comment).where(Comment.site_id == site.id, Comment.idempotency_key == key))
    if existing is not None and existing.request_hash != fingerprint:
        raise SubmissionError(
            422, "idempotency_key_reused", "this Idempotency-Key was already used for a different comment"
        )
    return existing


def _check_open(site: Site, data: CommentIn) -> None:
    if getattr(site, "closed", False) or data.article.id in getattr(site, "closed_articles", ()):
        raise SubmissionError(403, "commenting_closed", "comments are closed here")


def no_such_parent() -> SubmissionError:
    return SubmissionError(
        422, "validation_failed", "the comment is not valid", {"parent_id": "no such comment on this article"},
    )


def _check_parent(parent_article_id: int | None, article_id: int) -> None:
    if parent_article_id is None or parent_article_id != article_id:
        raise no_such_parent()


def _comment_values(site: Site, data: CommentIn, article_id: int, *, idempotency_key: str | None,
                    remote_addr: str | None, fingerprint: str | None, comment_id: str | None = None) -> dict:
    """A new comment's columns, all set here rather than left to the columns' defaults: the request reads
    the ORM path's status and id before the flush, and the single INSERT returns the id it set."""
    now = utcnow()
    return {
        "id": comment_id or new_id(),
        "site_id": site.id,
        "article_id": article_id,
        "parent_id": data.parent_id,
        "author_name": data.author.name,
        "author_email": data.author.email,
        "author_key": author_key_for(data.author.name, data.author.email),
        "body": data.body,
        "status": PENDING,
        "honeypot_filled": bool(data.honeypot and data.honeypot.strip()),
        "remote_addr": remote_addr,
        "idempotency_key": idempotency_key,
        "request_hash": fingerprint,
        "created_at": now,
        "queued_at": now,
        "reasons": [],
    }


_INSERT_COMMENT = insert(Comment)


def parent_article_id(connection: Connection, parent_id: str) -> int | None:
    """The article of the comment `parent_id`, or None if there is no such comment."""
    return connection.scalar(select(Comment.article_id).where(Comment.id == parent_id))


def comment_row(site: Site, data: CommentIn, article_id: int, *, parent_article: Callable[[str], int | None],
                remote_addr: str | None, comment_id: str | None = None) -> dict:
    """The columns of a new comment on a known article without an Idempotency-Key, checked (open for
    comments, a reply's parent on the same article: `parent_article(parent_id)`), for `insert_comments`."""
    _check_open(site, data)
    if data.parent_id is not None:
        _check_parent(parent_article(data.parent_id), article_id)
    return _comment_values(site, data, article_id, idempotency_key=None, remote_addr=remote_addr,
                           fingerprint=None, comment_id=comment_id)


#: psycopg keeps its parsing of a query with at most this many parameters (psycopg 3.3's
#: MAX_CACHED_STATEMENT_PARAMS) and parses a longer one again on every call.
_PARAMETERS_PARSED_ONCE = 50


def insert_comments(connection: Connection, rows: list[dict]) -> None:
    """Insert comments' rows (`comment_row`) in one transaction: on PostgreSQL, through an autocommit
    connection, one round trip whatever the number of rows."""
    if connection.dialect.name != "postgresql":
        # One statement object for every call: SQLAlchemy then finds its compiled form by a cache key it
        # computed once, not once per comment.
        connection.execute(_INSERT_COMMENT, rows)
        return
    # The hot path of every posted comment: the statement's text is made once per shape and goes to the
    # driver as it is (SQLAlchemy still wraps its errors and notices a dead connection). Compiling and
    # processing the same INSERT through `execute` cost 0.04-0.06 ms more CPU per post (machine N).
    keys = tuple(rows[0])
    together = len(rows) * len(keys) <= _PARAMETERS_PARSED_ONCE
    statement, values_of, processors = _postgres_insert(connection.dialect, keys, len(rows) if together else 1)
    parameters: list[tuple] = []
    for row in rows:
        values = list(values_of(row))
        for index, process in processors:
            values[index] = process(values[index])
        parameters.append(tuple(values))
    if together:  # one statement of a few rows
        connection.exec_driver_sql(statement, tuple(itertools.chain.from_iterable(parameters)))
    else:
        # More rows: psycopg's executemany, the one-row statement for each, pipelined before a single Sync (one
        # implicit transaction). Per row, client and server CPU on machine N, 4/8/16 rows: 39+58, 25+37, 18+34
        # us, against 46+46, 36+40, 31+27 as one statement, which psycopg parses anew on every call.
        connection.exec_driver_sql(statement, parameters)


@functools.lru_cache(maxsize=256)
def _postgres_insert(dialect, keys: tuple[str, ...], count: int):
    """INSERT INTO comments (...) VALUES (...), ... for `count` rows of `keys`; a function that gives a row's
    values in that order; and (position, function) for each value that SQLAlchemy turns into what the
    driver takes (its own bind processors, from the columns' types: the JSON and UTC datetime columns)."""
    columns = [Comment.__table__.c[key] for key in keys]
    quote = dialect.identifier_preparer.quote
    one_row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    statement = (f"INSERT INTO {quote(Comment.__table__.name)} ({', '.join(quote(c.name) for c in columns)}) "
                 f"VALUES {', '.join([one_row] * count)}")
    processors = [(index, process) for index, column in enumerate(columns)
                  if (process := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None]
    return statement, operator.itemgetter(*keys), processors


def comment_exists(connection: Connection, comment_id: str) -> bool:
    return connection.scalar(select(Comment.id).where(Comment.id == comment_id)) is not None


def submit_comment(
    session: Session, site: Site, data: CommentIn, *, idempotency_key: str | None, remote_addr: str | None,
    article_ids: ArticleIds | None = None,
) -> tuple[Comment, bool]:
    """Store a new pending comment; return it and whether it was created (False: an idempotent replay)."""
    # The request's hash tells a retry under an Idempotency-Key from a different request; without a key
    # there is nothing to tell apart.
    fingerprint = data.fingerprint() if idempotency_key else None
    if idempotency_key and (existing := _replay(session, site, idempotency_key, fingerprint)):
        return existing, False
    _check_open(site, data)
    article_id = article_ids.get(site.id, data.article.id) if article_ids else None
    if article_id is None:
        article_id = get_or_create_article(session, site, data.article).id
        if article_ids is not None:
            article_ids.remember(site.id, data.article.id, article_id)
    if data.parent_id is not None:
        parent = session.get(Comment, data.parent_id)
        _check_parent(parent.article_id if parent is not None else None, article_id)
    comment = Comment(**_comment_values(site, data, article_id, idempotency_key=idempotency_key,
                                        remote_addr=remote_addr, fingerprint=fingerprint))
    if idempotency_key is None:  # nothing unique to collide with: no savepoint round trips
        session.add(comment)
        return comment, True
    try:
        with session.begin_nested():
            session.add(comment)
    except IntegrityError:  # the same key raced in from a concurrent retry
        existing = _replay(session, site, idempotency_key, fingerprint)
        if existing is None:
            raise
        return existing, False
    return comment, True


def published_comments(session: Session, site: Site, article_external_id: str) -> list[Comment]:
    """Published comments of one article, oldest first."""
    return list(
        session.scalars(
            select(Comment)
            .join(Article, Comment.article_id == Article.id)
            .where(Article.site_id == site.id, Article.external_id == article_external_id, Comment.status == PUBLISHED)
            .order_by(Comment.created_at, Comment.id)
        )
    )


def report_comment(session: Session, comment: Comment, data: ReportIn, remote_addr: str | None) -> Report:
    """Record a reader's report; the comment's status stays as it is."""
    if comment.status != PUBLISHED:
        raise SubmissionError(409, "not_reportable", "only published comments can be reported")
    report = Report(comment_id=comment.id, reason=data.reason, note=data.note, remote_addr=remote_addr)
    session.add(report)
    session.flush()
    return report


def article_closed(session: Session, site: Site, external_id: str) -> bool:
    article = _find_article(session, site, external_id)
    return bool(article and article.closed)
