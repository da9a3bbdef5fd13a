"""Per-site figures over a period: outcomes, who decided, time waiting for review, moderator throughput."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from service.audit.models import AUTO_ACTOR, StatusChange
from service.comments.models import FLAGGED, Comment
from service.db import utcnow


def _day(value) -> str:
    return value.isoformat()[:10] if isinstance(value, datetime) else str(value)[:10]


def site_stats(session: Session, site_id: int, days: int = 30, now: datetime | None = None) -> dict:
    since = (now or utcnow()) - timedelta(days=days)
    by_day: dict[str, Counter] = defaultdict(Counter)
    for created_at, status in session.execute(
        select(Comment.created_at, Comment.status).where(Comment.site_id == site_id, Comment.created_at >= since)
    ):
        by_day[_day(created_at)][status] += 1

    changes = session.execute(
        select(StatusChange.actor, StatusChange.created_at)
        .join(Comment, Comment.id == StatusChange.comment_id)
        .where(Comment.site_id == site_id, StatusChange.created_at >= since)
    ).all()
    decided_by = Counter("policy" if actor == AUTO_ACTOR else "people" for actor, _ in changes)
    throughput: dict[str, Counter] = defaultdict(Counter)
    for actor, created_at in changes:
        if actor != AUTO_ACTOR:
            throughput[actor][_day(created_at)] += 1

    held, decided = aliased(StatusChange), aliased(StatusChange)
    first_human = (select(func.min(decided.id)).where(decided.comment_id == held.comment_id,
                                                      decided.actor != AUTO_ACTOR).scalar_subquery())
    waits = [
        (human_at - held_at).total_seconds()
        for held_at, human_at in session.execute(
            select(held.created_at, StatusChange.created_at)
            .join(Comment, Comment.id == held.comment_id)
            .join(StatusChange, StatusChange.id == first_human)
            .where(Comment.site_id == site_id, held.actor == AUTO_ACTOR, held.to_status == FLAGGED,
                   held.created_at >= since)
        )
    ]
    return {
        "days": days,
        "comments_by_day": {day: dict(counts) for day, counts in sorted(by_day.items())},
        "decided_by": {"policy": decided_by["policy"], "people": decided_by["people"]},
        "review_wait_median_seconds": round(statistics.median(waits), 1) if waits else None,
        "reviewed": len(waits),
        "moderator_throughput": {actor: dict(sorted(days_.items())) for actor, days_ in sorted(throughput.items())},
    }
