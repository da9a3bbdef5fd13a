"""Teach the spam model from a moderator's decision on one comment."""

from __future__ import annotations

import hashlib

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.comments.models import PUBLISHED, Comment, Report
from service.compat.models import ExternalLabel
from service.db import utcnow
from service.spam.models import GLOBAL_SCOPE, site_scope
from workers.scoring.base import ScoringInput
from workers.scoring.spam import model
from workers.scoring.spam.scorer import item_signals
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
    _learn(session, comment.site_id, [(c.body, c.signals, spam) for c, spam in examples], featurizer)
    for example, example_is_spam in examples:
        example.learned_label = "spam" if example_is_spam else "ham"
    return True


def _learn(session: Session, site_id: int, examples: list[tuple[str, dict, bool]],
           featurizer: model.Featurizer) -> None:
    scopes = [GLOBAL_SCOPE, site_scope(site_id)]
    locked = lock_models(session, scopes)
    (global_row, global_model), (site_row, site_model) = locked[GLOBAL_SCOPE], locked[scopes[1]]
    for body, signals, is_spam in examples:
        model.learn(featurizer.transform([body], [signals]), is_spam, global_model, site_model)
    save_model(global_row, global_model)
    save_model(site_row, site_model)


def learn_from_text(session: Session, site_id: int, item: ScoringInput, is_spam: bool, source: str,
                    featurizer: model.Featurizer) -> bool:
    """Learn a labelled text sent through a compatibility API, once per (site, text, label).

    Only a hash of the text is stored. A spam label is paired with a presumed-ham comment of the site,
    as moderators' labels are.
    """
    label = "spam" if is_spam else "ham"
    digest = hashlib.sha256(item.body.encode()).hexdigest()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(ExternalLabel)
                    .values(site_id=site_id, content_hash=digest, label="", source=source,
                            created_at=utcnow(), updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["site_id", "content_hash"]))
    row = session.scalar(select(ExternalLabel).where(ExternalLabel.site_id == site_id,
                                                     ExternalLabel.content_hash == digest).with_for_update())
    if row.label == label:
        return False
    row.label, row.source, row.updated_at = label, source, utcnow()
    examples = [(item.body, item_signals(item), is_spam)]
    if is_spam and (ham := presumed_ham(session, site_id)) is not None:
        examples.append((ham.body, ham.signals, False))
        ham.learned_label = "ham"
    _learn(session, site_id, examples, featurizer)
    return True
