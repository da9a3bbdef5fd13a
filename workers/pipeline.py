"""Score a batch of pending comments and decide each under its site's policy."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.comments.models import PENDING, Comment
from service.moderation.operations import ScoredComment, record_automatic_decision
from service.moderation.policy import PolicyRules, apply_policy
from service.sites.models import Policy
from service.sites.operations import current_policy
from workers.scoring import ScorerSet
from workers.scoring.base import ScoringInput


@dataclass(frozen=True)
class Decision:
    comment_id: str
    site_key: str
    status: str


def claim_pending(session: Session, comment_ids: list[str]) -> list[Comment]:
    """Lock the still-pending comments among `comment_ids`; rows another worker holds are skipped."""
    return list(
        session.scalars(
            select(Comment)
            .where(Comment.id.in_(comment_ids), Comment.status == PENDING)
            .order_by(Comment.id)
            .with_for_update(skip_locked=True, of=Comment)
        )
    )


def score_and_decide(session: Session, comment_ids: list[str], scorers: ScorerSet) -> list[Decision]:
    """Score the batch with one model call per scorer, then write each decision and its audit record."""
    comments = claim_pending(session, comment_ids)
    if not comments:
        return []
    results = scorers.score([ScoringInput(c.body, c.honeypot_filled) for c in comments])
    policies: dict[int, Policy] = {}
    decisions = []
    for comment, (scores, sources) in zip(comments, results):
        policy = policies.get(comment.site_id) or policies.setdefault(
            comment.site_id, current_policy(session, comment.site_id)
        )
        verdict = apply_policy(PolicyRules.from_stored(policy.thresholds, policy.premoderation), scores)
        if record_automatic_decision(session, ScoredComment(comment.id, scores, sources), verdict, policy):
            decisions.append(Decision(comment.id, comment.site.public_key, verdict.status))
    return decisions
