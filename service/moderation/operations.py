"""Record decisions on comments, with their audit trail. Functions flush; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import update
from sqlalchemy.orm import Session

from service.audit.models import AUTO_ACTOR, StatusChange
from service.comments.models import PENDING, Comment
from service.db import utcnow
from service.moderation.policy import Verdict
from service.sites.models import Policy


@dataclass(frozen=True)
class ScoredComment:
    comment_id: str
    scores: Mapping[str, float]
    sources: Mapping[str, str]


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
            reasons=reasons,
            policy_id=policy.id,
            decided_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.add(
        StatusChange(
            comment_id=scored.comment_id,
            actor=AUTO_ACTOR,
            policy_id=policy.id,
            policy_version=policy.version,
            from_status=PENDING,
            to_status=verdict.status,
            reasons=reasons,
        )
    )
    return True
