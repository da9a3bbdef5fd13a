"""Score a batch of pending comments and decide each under its site's policy."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from service.comments.models import FLAGGED, PENDING, PUBLISHED, REJECTED, Comment
from service.db import utcnow
from service.moderation.operations import ScoredComment, record_automatic_decisions
from service.moderation.operations import active_restrictions
from service.moderation.policy import PolicyRules, Reason, Verdict, apply_policy, restrict
from service.sites.models import Policy
from service.sites.operations import current_policy
from workers.scoring import ScorerSet
from workers.scoring.base import ScoringInput
from workers.scoring.spam.store import CachedSpamModels


@dataclass(frozen=True)
class Decision:
    comment_id: str
    site_key: str
    status: str
    waited_seconds: float


class SessionSpamModels:
    """Spam model states for one batch, read through the process cache within the batch's session."""

    def __init__(self, session: Session, cache: CachedSpamModels):
        self.session, self.cache = session, cache

    def for_scopes(self, scopes):
        return self.cache.load(self.session, scopes)


def claim_pending(session: Session, comment_ids: list[str], fill_to: int = 0) -> list[Comment]:
    """Lock the still-pending comments among `comment_ids`; rows another worker holds are skipped.

    With `fill_to`, a batch smaller than that also takes the oldest other pending comments nobody holds,
    up to `fill_to`. Under load, messages pile up while a batch is scored and Celery hands them over in
    small batches; taking their comments early makes full batches (fewer model calls, less padding),
    and their messages find nothing left to do. Under light load there is nothing else pending.
    """
    claimed = list(
        session.scalars(
            select(Comment)
            .where(Comment.id.in_(comment_ids), Comment.status == PENDING)
            .order_by(Comment.id)
            .with_for_update(skip_locked=True, of=Comment)
        )
    )
    if fill_to > len(claimed):
        claimed += session.scalars(
            select(Comment)
            .where(Comment.status == PENDING, Comment.id.not_in(comment_ids))
            .order_by(Comment.id)
            .limit(fill_to - len(claimed))
            .with_for_update(skip_locked=True, of=Comment)
        )
    return claimed


def author_history(session: Session, comments: list[Comment]) -> Counter:
    """Counts of earlier comments per (site, author, status), one query for the batch."""
    authors = {(c.site_id, c.author_key) for c in comments}
    rows = session.execute(
        select(Comment.site_id, Comment.author_key, Comment.status, func.count())
        .where(tuple_(Comment.site_id, Comment.author_key).in_(authors), Comment.status.in_([PUBLISHED, REJECTED]))
        .group_by(Comment.site_id, Comment.author_key, Comment.status)
    ).all()
    return Counter({(site, author, status): count for site, author, status, count in rows})


def scoring_inputs(comments: list[Comment], history: Counter, rules: dict[int, PolicyRules]) -> list[ScoringInput]:
    return [
        ScoringInput(
            body=c.body,
            honeypot_filled=c.honeypot_filled,
            site_id=c.site_id,
            comment_id=c.id,
            author_key=c.author_key,
            remote_addr=c.remote_addr,
            at=c.created_at.timestamp(),
            prior_rejected=history[(c.site_id, c.author_key, REJECTED)],
            prior_published=history[(c.site_id, c.author_key, PUBLISHED)],
            deny_domains=frozenset(rules[c.site_id].deny_domains),
        )
        for c in comments
    ]


def score_and_decide(
    session: Session, comment_ids: list[str], scorers: ScorerSet, spam_cache: CachedSpamModels, fill_to: int = 0,
) -> list[Decision]:
    """Score the batch (one model call per scorer), then write each decision and its audit record."""
    comments = claim_pending(session, comment_ids, fill_to)
    if not comments:
        return []
    policies: dict[int, Policy] = {site_id: current_policy(session, site_id) for site_id in {c.site_id for c in comments}}
    rules_by_site = {site_id: PolicyRules.from_stored(p.thresholds, p.premoderation, p.word_lists)
                     for site_id, p in policies.items()}
    history = author_history(session, comments)
    items = scoring_inputs(comments, history, rules_by_site)
    results = scorers.score(items, SessionSpamModels(session, spam_cache))
    restrictions = active_restrictions(session, {(c.site_id, c.author_key) for c in comments})
    verdicts = []
    for comment, result in zip(comments, results, strict=True):
        policy, rules = policies[comment.site_id], rules_by_site[comment.site_id]
        published_before = history[(comment.site_id, comment.author_key, PUBLISHED)]
        verdict = restrict(apply_policy(rules, result.scores, result.spam_contributions, comment.body,
                                        published_before),
                           restrictions.get((comment.site_id, comment.author_key)))
        verdicts.append((ScoredComment(comment.id, result.scores, result.sources, result.signals), verdict, policy))
    decided = set(record_automatic_decisions(session, verdicts))
    now = utcnow()
    return [Decision(comment.id, comment.site.public_key, verdict.status, (now - comment.created_at).total_seconds())
            for comment, (_, verdict, _) in zip(comments, verdicts, strict=True) if comment.id in decided]


def hold_unscorable(session: Session, comment_id: str) -> Decision | None:
    """Hold a comment the scorers fail on for a moderator, rather than retrying it forever."""
    comment = session.scalar(select(Comment).where(Comment.id == comment_id, Comment.status == PENDING)
                             .with_for_update(skip_locked=True, of=Comment))
    if comment is None:
        return None
    policy = current_policy(session, comment.site_id)
    decided = record_automatic_decisions(
        session, [(ScoredComment(comment.id, {}, {}), Verdict(FLAGGED, (Reason("scoring_failed"),)), policy)])
    if not decided:
        return None
    return Decision(comment.id, comment.site.public_key, FLAGGED, (utcnow() - comment.created_at).total_seconds())
