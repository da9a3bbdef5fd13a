"""Moderation queues: keyset-paginated lists of comments by status, scoped to a moderator's sites."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from service.comments.models import PUBLISHED, STATUSES, Article, Comment, Report

QUEUES = ("flagged", "reported", "pending", "published", "rejected")
SORTS = ("newest", "score")


@dataclass(frozen=True)
class QueueFilter:
    article: str | None = None
    author: str | None = None
    min_score: float | None = None
    sort: str = "newest"


@dataclass(frozen=True)
class QueuePage:
    comments: list[Comment]
    report_counts: dict[str, int]
    next_cursor: str | None


def _unresolved_report():
    return exists().where(Report.comment_id == Comment.id, Report.resolved_at.is_(None))


def queue_query(queue: str, site_ids: list[int] | None) -> Select:
    query = select(Comment)
    if queue == "reported":
        query = query.where(Comment.status == PUBLISHED, _unresolved_report())
    else:
        assert queue in STATUSES
        query = query.where(Comment.status == queue)
    if site_ids is not None:
        query = query.where(Comment.site_id.in_(site_ids))
    return query


def _filtered(query: Select, filters: QueueFilter) -> Select:
    if filters.article:
        query = query.where(Comment.article_id.in_(select(Article.id).where(Article.external_id == filters.article)))
    if filters.author:
        needle = filters.author.strip().lower()
        query = query.where(or_(Comment.author_key == f"email:{needle}", Comment.author_key == f"name:{needle}"))
    if filters.min_score is not None:
        query = query.where(Comment.max_score >= filters.min_score)
    return query


_SCORE = func.coalesce(Comment.max_score, -1.0)


def _after(query: Select, cursor: str, sort: str) -> Select:
    if sort == "score":
        score, _, last_id = cursor.partition("~")
        return query.where(or_(_SCORE < float(score), and_(_SCORE == float(score), Comment.id < last_id)))
    return query.where(Comment.id < cursor)


def queue_page(
    session: Session, queue: str, site_ids: list[int] | None, *, cursor: str | None = None, limit: int = 50,
    filters: QueueFilter = QueueFilter(),
) -> QueuePage:
    """One page of a queue (newest first, or highest score first); pass the returned cursor for the next."""
    query = _filtered(queue_query(queue, site_ids), filters)
    if cursor:
        query = _after(query, cursor, filters.sort)
    order = (_SCORE.desc(), Comment.id.desc()) if filters.sort == "score" else (Comment.id.desc(),)
    comments = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    more = len(comments) > limit
    comments = comments[:limit]
    counts = dict(session.execute(
        select(Report.comment_id, func.count()).where(
            Report.comment_id.in_([c.id for c in comments]), Report.resolved_at.is_(None)
        ).group_by(Report.comment_id)
    ).all()) if comments else {}
    return QueuePage(comments, counts, _cursor(comments[-1], filters.sort) if more and comments else None)


def _cursor(comment: Comment, sort: str) -> str:
    if sort == "score":
        return f"{comment.max_score if comment.max_score is not None else -1.0!r}~{comment.id}"
    return comment.id


def moderated_site(session: Session, site_ids: list[int] | None, public_key: str):
    """The site with this key if the user may moderate it (`site_ids` None: every site), else None."""
    from service.sites.operations import find_site

    site = find_site(session, public_key)
    return site if site is not None and (site_ids is None or site.id in site_ids) else None


def moderated_comment(session: Session, site_ids: list[int] | None, comment_id: str) -> Comment | None:
    """The comment if it belongs to a site the user may moderate, else None."""
    comment = session.get(Comment, comment_id) if len(comment_id) <= 26 else None
    return comment if comment is not None and (site_ids is None or comment.site_id in site_ids) else None
