"""Teach the spam model from a moderator's decision on one comment."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from service.comments.models import PUBLISHED, Comment, Report
from service.spam.models import GLOBAL_SCOPE, site_scope
from workers.scoring.spam import model
from workers.scoring.spam.store import lock_models, save_model


def presumed_ham(session: Session, site_id: int) -> Comment | None:
    """The newest comment the policy published that nobody reported and the model has not learned from."""
    return session.scalar(
        select(Comment)
        .where(Comment.site_id == site_id, Comment.status == PUBLISHED, Comment.learned_label.is_(None),
               Comment.signals.is_not(None), ~exists().where(Report.comment_id == Comment.id))
        .order_by(Comment.id.desc()).limit(1).with_for_update(skip_locked=True, of=Comment)
    )


def learn_from_label(session: Session, comment_id: str, is_spam: bool, featurizer: model.Featurizer) -> bool:
    """Update the global and the site model once per (comment, label); False if there was nothing to learn.

    Moderators label what was held, nearly all of it spam when they reject for spam; learned alone, such
    labels would teach the model that everything is spam. Each spam label is therefore paired with one
    presumed-ham comment: published by the policy and never reported.
    """
    label = "spam" if is_spam else "ham"
    comment = session.scalar(select(Comment).where(Comment.id == comment_id).with_for_update(of=Comment))
    if comment is None or comment.signals is None or comment.learned_label == label:
        return False
    examples = [(comment, is_spam)]
    if is_spam and (ham := presumed_ham(session, comment.site_id)) is not None:
        examples.append((ham, False))
    scopes = [GLOBAL_SCOPE, site_scope(comment.site_id)]
    locked = lock_models(session, scopes)
    (global_row, global_model), (site_row, site_model) = locked[GLOBAL_SCOPE], locked[scopes[1]]
    for example, example_is_spam in examples:
        row = featurizer.transform([example.body], [example.signals])
        model.learn(row, example_is_spam, global_model, site_model)
        example.learned_label = "spam" if example_is_spam else "ham"
    save_model(global_row, global_model)
    save_model(site_row, site_model)
    return True
