"""Moderation queues: keyset-paginated lists of comments by status, scoped to a moderator's sites."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from service.comments.models import PUBLISHED, STATUSES, Comment, Report

QUEUES = ("flagged", "reported", "pending", "published", "rejected")


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


def queue_page(
    session: Session, queue: str, site_ids: list[int] | None, *, cursor: str | None = None, limit: int = 50
) -> QueuePage:
    """One page of a queue, newest first; pass the returned cursor for the next page."""
    query = queue_query(queue, site_ids)
    if cursor:
        query = query.where(Comment.id < cursor)
    comments = list(session.scalars(query.order_by(Comment.id.desc()).limit(limit + 1)))
    more = len(comments) > limit
    comments = comments[:limit]
    counts = dict(session.execute(
        select(Report.comment_id, func.count()).where(
            Report.comment_id.in_([c.id for c in comments]), Report.resolved_at.is_(None)
        ).group_by(Report.comment_id)
    ).all()) if comments else {}
    return QueuePage(comments, counts, comments[-1].id if more and comments else None)
