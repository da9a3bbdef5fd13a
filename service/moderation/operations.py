"""Decisions on comments, by the policy or by a moderator, each with its audit record.

Functions flush; the caller commits, then sends what must wait for the commit (events, learning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy import bindparam, or_, select, tuple_, update
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.audit.models import AUTO_ACTOR, StatusChange
from service.comments.models import (
    BAN, FLAGGED, PENDING, PUBLISHED, REJECTED, SUSPEND, AuthorRestriction, Comment, Report,
)
from service.db import utcnow
from service.moderation.policy import Verdict
from service.sites.models import Policy

MODERATOR_REASONS = ("spam", "harassment", "hate", "off_topic", "other")
# Where each action may move a comment from: approving restores a rejected one; rejecting takes one down.
ACTIONS = {
    "approve": (PUBLISHED, (PENDING, FLAGGED, REJECTED)),
    "reject": (REJECTED, (PENDING, FLAGGED, PUBLISHED)),
}


@dataclass(frozen=True)
class ScoredComment:
    comment_id: str
    scores: Mapping[str, float]
    sources: Mapping[str, str]
    signals: Mapping[str, float] = field(default_factory=dict)


class DecisionConflict(Exception):
    """The comment is no longer in the state the moderator saw."""

    def __init__(self, comment: Comment, last_change: StatusChange | None):
        self.comment, self.last_change = comment, last_change
        who = last_change.actor if last_change else "someone"
        verb = {PUBLISHED: "approved", REJECTED: "rejected", FLAGGED: "held"}.get(comment.status, comment.status)
        super().__init__(f"already {verb} by {who}")


def _audit(session: Session, comment_id: str, actor: str, from_status: str, to_status: str, **details) -> None:
    session.add(StatusChange(comment_id=comment_id, actor=actor, from_status=from_status, to_status=to_status,
                             **details))


def record_automatic_decision(session: Session, scored: ScoredComment, verdict: Verdict, policy: Policy) -> bool:
    """Write the policy's decision on a pending comment; False if it was decided already (nothing changes)."""
    reasons = [r.to_json() for r in verdict.reasons]
    # The status condition makes a second delivery of the same comment a no-op: decided exactly once.
    result = session.execute(
        update(Comment)
        .where(Comment.id == scored.comment_id, Comment.status == PENDING)
        .values(
            status=verdict.status,
            scores=dict(scored.scores),
            score_sources=dict(scored.sources),
            signals=dict(scored.signals),
            max_score=max(scored.scores.values(), default=None),
            reasons=reasons,
            policy_id=policy.id,
            decided_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    _audit(session, scored.comment_id, AUTO_ACTOR, PENDING, verdict.status, reasons=reasons,
           policy_id=policy.id, policy_version=policy.version)
    return True


def record_automatic_decisions(
    session: Session, decisions: list[tuple[ScoredComment, Verdict, Policy]],
) -> list[str]:
    """Write the policy's decisions on pending comments the caller has claimed (locked `FOR UPDATE`): one
    UPDATE statement executed for all of them and one multi-row INSERT of their audit rows, instead of
    two round trips per comment. Returns the ids decided.

    Each row's UPDATE still carries `status = 'pending'`. If any of them matched nothing (a caller that
    did not lock its rows), the whole statement is undone and each comment is decided on its own.
    """
    if not decisions:
        return []
    now, table = utcnow(), Comment.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.status == PENDING)
        .values(status=bindparam("b_status"), scores=bindparam("b_scores"),
                score_sources=bindparam("b_sources"), signals=bindparam("b_signals"),
                max_score=bindparam("b_max"), reasons=bindparam("b_reasons"), policy_id=bindparam("b_policy"),
                decided_at=bindparam("b_at"))
    )
    rows = [{"b_id": scored.comment_id, "b_status": verdict.status, "b_scores": dict(scored.scores),
             "b_sources": dict(scored.sources), "b_signals": dict(scored.signals),
             "b_max": max(scored.scores.values(), default=None), "b_reasons": [r.to_json() for r in verdict.reasons],
             "b_policy": policy.id, "b_at": now}
            for scored, verdict, policy in decisions]
    try:
        with session.begin_nested():
            if session.connection().execute(statement, rows).rowcount != len(rows):
                raise _NotAllPending
    except _NotAllPending:
        return [scored.comment_id for scored, verdict, policy in decisions
                if record_automatic_decision(session, scored, verdict, policy)]
    for row, (_, _, policy) in zip(rows, decisions, strict=True):
        _audit(session, row["b_id"], AUTO_ACTOR, PENDING, row["b_status"], reasons=row["b_reasons"],
               policy_id=policy.id, policy_version=policy.version)
    return [row["b_id"] for row in rows]


class _NotAllPending(Exception):
    pass


def _resolve_reports(session: Session, comment_id: str) -> int:
    """Mark the readers' open reports on a comment answered; return how many there were."""
    result = session.execute(
        update(Report).where(Report.comment_id == comment_id, Report.resolved_at.is_(None))
        .values(resolved_at=utcnow()).execution_options(synchronize_session=False)
    )
    return result.rowcount


def last_change(session: Session, comment_id: str) -> StatusChange | None:
    return session.scalar(
        select(StatusChange).where(StatusChange.comment_id == comment_id)
        .order_by(StatusChange.created_at.desc(), StatusChange.id.desc()).limit(1)
    )


def moderate(
    session: Session, comment: Comment, action: str, moderator: User, *,
    reason: str | None = None, note: str | None = None, expected_status: str | None = None,
) -> str:
    """Apply a moderator's approve/reject; refuse (DecisionConflict) if the comment changed meanwhile.

    Without `expected_status` only an undecided (pending or held) comment can be decided, so a late
    click never silently reverses another moderator's decision; taking down or restoring names the
    status the moderator saw.
    """
    to_status, allowed_from = ACTIONS[action]
    seen = expected_status or comment.status
    if action == "approve" and seen == PUBLISHED == comment.status and _resolve_reports(session, comment.id):
        # Keeping a reported comment: the reports are answered, the status stays.
        _audit(session, comment.id, moderator.email, PUBLISHED, PUBLISHED, user_id=moderator.id, note=note,
               reasons=[{"code": "moderator", "reason": reason, "text": "reports dismissed"}])
        return PUBLISHED
    if expected_status is None and seen not in (PENDING, FLAGGED):
        raise DecisionConflict(comment, last_change(session, comment.id))
    if seen not in allowed_from:
        raise DecisionConflict(comment, last_change(session, comment.id))
    result = session.execute(
        update(Comment).where(Comment.id == comment.id, Comment.status == seen)
        .values(status=to_status, decided_at=utcnow()).execution_options(synchronize_session=False)
    )
    session.refresh(comment)
    if result.rowcount != 1:
        raise DecisionConflict(comment, last_change(session, comment.id))
    reasons = [{"code": "moderator", "reason": reason, "text": reason or action}]
    _resolve_reports(session, comment.id)
    _audit(session, comment.id, moderator.email, seen, to_status, user_id=moderator.id, reasons=reasons, note=note)
    return to_status


def spam_label(action: str, reason: str | None) -> bool | None:
    """What a decision teaches the spam model: a rejection for spam is spam, an approval is not."""
    if action == "reject" and reason == "spam":
        return True
    if action == "approve":
        return False
    return None


def restrict_author(session: Session, comment: Comment, kind: str, moderator: User, *,
                    days: int | None = None, reason: str | None = None) -> AuthorRestriction:
    """Ban or suspend the comment's author on its site (replacing any earlier restriction)."""
    assert kind in (BAN, SUSPEND)
    restriction = session.scalar(select(AuthorRestriction).where(
        AuthorRestriction.site_id == comment.site_id, AuthorRestriction.author_key == comment.author_key))
    if restriction is None:
        restriction = AuthorRestriction(site_id=comment.site_id, author_key=comment.author_key)
        session.add(restriction)
    restriction.kind = kind
    restriction.until = utcnow() + timedelta(days=days) if kind == SUSPEND and days else None
    restriction.reason = reason
    restriction.created_by = moderator.email
    restriction.created_at = utcnow()
    session.flush()
    return restriction


def lift_restriction(session: Session, comment: Comment) -> bool:
    restriction = session.scalar(select(AuthorRestriction).where(
        AuthorRestriction.site_id == comment.site_id, AuthorRestriction.author_key == comment.author_key))
    if restriction is None:
        return False
    session.delete(restriction)
    return True


def active_restrictions(session: Session, authors: set[tuple[int, str]], now: datetime | None = None) -> dict:
    """{(site_id, author_key): "ban" | "suspend"} for restrictions still in force."""
    if not authors:
        return {}
    now = now or utcnow()
    rows = session.scalars(select(AuthorRestriction).where(
        tuple_(AuthorRestriction.site_id, AuthorRestriction.author_key).in_(authors),
        or_(AuthorRestriction.until.is_(None), AuthorRestriction.until > now)))
    return {(r.site_id, r.author_key): r.kind for r in rows}
