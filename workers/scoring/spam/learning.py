"""Teach the spam model from a moderator's decision on one comment."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.comments.models import Comment
from service.spam.models import GLOBAL_SCOPE, site_scope
from workers.scoring.spam import model
from workers.scoring.spam.store import lock_models, save_model


def learn_from_label(session: Session, comment_id: str, is_spam: bool, featurizer: model.Featurizer) -> bool:
    """Update the global and the site model once per (comment, label); False if there was nothing to learn."""
    label = "spam" if is_spam else "ham"
    comment = session.scalar(select(Comment).where(Comment.id == comment_id).with_for_update(of=Comment))
    if comment is None or comment.signals is None or comment.learned_label == label:
        return False
    scopes = [GLOBAL_SCOPE, site_scope(comment.site_id)]
    locked = lock_models(session, scopes)
    (global_row, global_model), (site_row, site_model) = locked[GLOBAL_SCOPE], locked[scopes[1]]
    row = featurizer.transform([comment.body], [comment.signals])
    model.learn(row, is_spam, global_model, site_model)
    save_model(global_row, global_model)
    save_model(site_row, site_model)
    comment.learned_label = label
    return True
