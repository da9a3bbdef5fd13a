"""What-if replay: how a candidate policy would have decided a site's past comments, from stored scores.

Word lists and author restrictions are not replayed (they need the text and the history of the time);
thresholds and pre-moderation are, over up to 100,000 comments, as array operations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AUTO_ACTOR, StatusChange
from service.comments.models import FLAGGED, PENDING, PUBLISHED, REJECTED, Comment
from service.moderation.policy import SCORE_ATTRIBUTES, PolicyRules

OUTCOMES = (PUBLISHED, FLAGGED, REJECTED)
#: Rows of history fetched at a time.
HISTORY_CHUNK = 10_000
_PUBLISHED, _FLAGGED, _REJECTED = range(3)


@dataclass
class History:
    ids: list[str]
    scores: dict[str, np.ndarray]  # NaN where a comment has no such score
    moderated: np.ndarray  # a person decided the comment
    moderator_rejected: np.ndarray  # ... and their last word was reject

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class ReplayResult:
    comments: int
    outcomes: dict[str, int]
    changed: int
    changed_sample: list[dict]
    moderated: int
    precision: float | None
    recall: float | None
    f1: float | None


def build_history(rows: list[tuple[str, dict | None, str | None]]) -> History:
    """From (comment id, scores, the moderator's last status or None)."""
    scores = {name: np.full(len(rows), np.nan) for name in SCORE_ATTRIBUTES}
    for i, (_, comment_scores, _) in enumerate(rows):
        for name, value in (comment_scores or {}).items():
            if name in scores:
                scores[name][i] = value
    moderator = [status for _, _, status in rows]
    return History(
        ids=[comment_id for comment_id, _, _ in rows],
        scores=scores,
        moderated=np.array([s is not None for s in moderator], dtype=bool),
        moderator_rejected=np.array([s == REJECTED for s in moderator], dtype=bool),
    )


def load_history(session: Session, site_id: int, limit: int = 100_000) -> History:
    """The site's latest decided comments, each with its moderators' final say (if any)."""
    latest_human = (
        select(StatusChange.comment_id, func.max(StatusChange.id).label("change_id"))
        .where(StatusChange.actor != AUTO_ACTOR).group_by(StatusChange.comment_id).subquery()
    )
    # Each score comes out of the JSON as its own float column, so no row is decoded in Python.
    score_columns = [Comment.scores[name].as_float().label(name) for name in SCORE_ATTRIBUTES]
    recent = (select(Comment.id, *score_columns).where(Comment.site_id == site_id, Comment.status != PENDING)
              .order_by(Comment.id.desc()).limit(limit).subquery())
    result = session.execute(
        select(recent.c.id, *(recent.c[name] for name in SCORE_ATTRIBUTES), StatusChange.to_status)
        .outerjoin(latest_human, latest_human.c.comment_id == recent.c.id)
        .outerjoin(StatusChange, StatusChange.id == latest_human.c.change_id),
        execution_options={"yield_per": HISTORY_CHUNK},
    )
    rows = []
    for chunk in result.partitions():
        rows.extend(chunk)
        # Turning 100,000 rows into Python objects takes a while; between chunks the web process's other
        # requests get to run (its gevent worker runs one request at a time until that one waits).
        time.sleep(0)
    if not rows:
        return build_history([])
    columns = list(zip(*rows))
    values = np.array(columns[1:-1], dtype=float)  # None (no such score) becomes NaN
    moderator = columns[-1]
    return History(
        ids=list(columns[0]),
        scores={name: values[i] for i, name in enumerate(SCORE_ATTRIBUTES)},
        moderated=np.array([s is not None for s in moderator], dtype=bool),
        moderator_rejected=np.array([s == REJECTED for s in moderator], dtype=bool),
    )


def outcomes(rules: PolicyRules, history: History) -> np.ndarray:
    """0 published, 1 flagged, 2 rejected, per comment."""
    reject = np.zeros(len(history), dtype=bool)
    review = np.zeros(len(history), dtype=bool)
    for name, threshold in rules.thresholds.items():
        values = history.scores.get(name)
        if values is None:
            continue
        with np.errstate(invalid="ignore"):  # NaN (no such score) never crosses
            if threshold.reject_at is not None:
                reject |= values >= threshold.reject_at
            if threshold.review_at is not None:
                review |= values >= threshold.review_at
    held = np.ones(len(history), dtype=bool) if rules.premoderation == "all" else (
        review if rules.premoderation == "flagged" else np.zeros(len(history), dtype=bool))
    return np.where(reject, _REJECTED, np.where(held, _FLAGGED, _PUBLISHED))


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def replay(candidate: PolicyRules, current: PolicyRules, history: History, sample: int = 20) -> ReplayResult:
    """Outcomes under the candidate, what changes against the current policy, and agreement with moderators."""
    proposed, baseline = outcomes(candidate, history), outcomes(current, history)
    changed = np.flatnonzero(proposed != baseline)
    predicted = proposed[history.moderated] != _PUBLISHED
    actual = history.moderator_rejected[history.moderated]
    true_positive = int(np.sum(predicted & actual))
    precision = _ratio(true_positive, int(predicted.sum()))
    recall = _ratio(true_positive, int(actual.sum()))
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision and recall else None
    return ReplayResult(
        comments=len(history),
        outcomes={name: int(np.sum(proposed == code)) for code, name in enumerate(OUTCOMES)},
        changed=len(changed),
        changed_sample=[{"id": history.ids[i], "from": OUTCOMES[baseline[i]], "to": OUTCOMES[proposed[i]]}
                        for i in changed[:sample]],
        moderated=int(history.moderated.sum()),
        precision=precision, recall=recall, f1=f1,
    )
