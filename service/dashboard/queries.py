"""What the dashboard shows beside a comment: its reports, its author's history, its site's thresholds."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from service.audit.models import AUTO_ACTOR, StatusChange
from service.comments.models import Comment, Report
from service.events import decision_event_type
from service.sites.models import Policy, Site


def reports_by_comment(session: Session, comment_ids: list[str]) -> dict[str, list[Report]]:
    grouped: dict[str, list[Report]] = defaultdict(list)
    if comment_ids:
        for report in session.scalars(select(Report).where(Report.comment_id.in_(comment_ids),
                                                           Report.resolved_at.is_(None))):
            grouped[report.comment_id].append(report)
    return grouped


def author_histories(session: Session, comments: list[Comment]) -> dict[tuple[int, str], Counter]:
    """Per (site, author): how many of their comments are in each status."""
    authors = {(c.site_id, c.author_key) for c in comments}
    histories: dict[tuple[int, str], Counter] = defaultdict(Counter)
    if authors:
        rows = session.execute(
            select(Comment.site_id, Comment.author_key, Comment.status, func.count())
            .where(tuple_(Comment.site_id, Comment.author_key).in_(authors))
            .group_by(Comment.site_id, Comment.author_key, Comment.status)
        ).all()
        for site_id, author_key, status, count in rows:
            histories[(site_id, author_key)][status] = count
    return histories


def current_thresholds(session: Session, site_ids: set[int]) -> dict[int, dict]:
    """Each site's newest policy thresholds, for drawing score bars."""
    newest = (select(Policy.site_id, func.max(Policy.version).label("version"))
              .where(Policy.site_id.in_(site_ids)).group_by(Policy.site_id).subquery())
    rows = session.scalars(select(Policy).join(newest, (Policy.site_id == newest.c.site_id)
                                               & (Policy.version == newest.c.version)))
    return {policy.site_id: policy.thresholds for policy in rows}


def audit_page(session: Session, site_ids: list[int] | None, *, actor: str | None = None,
               comment_id: str | None = None, limit: int = 100) -> list[tuple[StatusChange, Comment]]:
    query = select(StatusChange, Comment).join(Comment, Comment.id == StatusChange.comment_id)
    if site_ids is not None:
        query = query.where(Comment.site_id.in_(site_ids))
    if actor:
        query = query.where(StatusChange.actor == actor)
    if comment_id:
        query = query.where(StatusChange.comment_id == comment_id)
    return list(session.execute(query.order_by(StatusChange.id.desc()).limit(limit)).all())


def queue_counts(session: Session, site_ids: list[int] | None) -> dict[str, int]:
    from service.moderation.queries import QUEUES, queue_query

    return {
        queue: session.scalar(select(func.count()).select_from(queue_query(queue, site_ids).subquery()))
        for queue in QUEUES
    }


def policy_changes(session: Session, site_ids: list[int] | None, *, actor: str | None = None,
                   limit: int = 50) -> list[tuple[Policy, list[str]]]:
    """Policy versions after the first, newest first, each with what it changed."""
    from service.admin.operations import policy_diff, rules_of

    query = select(Policy).where(Policy.version > 1)
    if site_ids is not None:
        query = query.where(Policy.site_id.in_(site_ids))
    if actor:
        query = query.where(Policy.created_by == actor)
    changes = []
    for policy in session.scalars(query.order_by(Policy.created_at.desc()).limit(limit)):
        previous = session.scalar(select(Policy).where(Policy.site_id == policy.site_id,
                                                       Policy.version == policy.version - 1))
        changes.append((policy, policy_diff(rules_of(previous), rules_of(policy)) if previous else []))
    return changes


def events_since(session: Session, site_ids: list[int] | None, since: datetime, limit: int = 1000) -> list[dict]:
    """The events of what changed since `since` on these sites (None: all), oldest first, as the worker and
    the moderation API publish them: a comment flagged, reported, or otherwise decided. For an event stream
    that was not listening then (a page that was loading, a stream that dropped)."""
    changes = (select(StatusChange.created_at, StatusChange.comment_id, StatusChange.to_status,
                      StatusChange.actor, Site.public_key)
               .join(Comment, Comment.id == StatusChange.comment_id).join(Site, Site.id == Comment.site_id)
               .where(StatusChange.created_at >= since))
    reports = (select(Report.created_at, Report.comment_id, Comment.status, Site.public_key)
               .join(Comment, Comment.id == Report.comment_id).join(Site, Site.id == Comment.site_id)
               .where(Report.created_at >= since))
    if site_ids is not None:
        changes, reports = changes.where(Comment.site_id.in_(site_ids)), reports.where(Comment.site_id.in_(site_ids))
    events = []
    for at, comment_id, status, actor, site in session.execute(changes.order_by(StatusChange.id).limit(limit)):
        event = {"type": decision_event_type(status), "id": comment_id, "site": site, "status": status}
        if actor != AUTO_ACTOR:
            event["actor"] = actor
        events.append((at, event))
    for at, comment_id, status, site in session.execute(reports.order_by(Report.id).limit(limit)):
        events.append((at, {"type": "comment.reported", "id": comment_id, "site": site, "status": status}))
    return [event for _, event in sorted(events, key=lambda pair: pair[0])]
