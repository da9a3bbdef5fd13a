"""Learning from moderators: each decision that says spam or not-spam updates the spam model."""

from __future__ import annotations

import logging

from celery import shared_task

from workers.base import DatabaseTask
from workers.celery_app import LEARN_TASK
from workers.scoring.spam.learning import learn_from_label
from workers.scoring.spam.model import Featurizer

log = logging.getLogger(__name__)
_featurizer: list[Featurizer] = []


@shared_task(base=DatabaseTask, bind=True, name=LEARN_TASK)
def learn_spam_label(self: DatabaseTask, comment_id: str, is_spam: bool) -> bool:
    """Update the spam model with one labelled comment (a repeated message learns nothing new)."""
    if not _featurizer:
        _featurizer.append(Featurizer())
    learned = self.run_in_transaction(learn_from_label, comment_id, bool(is_spam), _featurizer[0])
    log.info("spam model %s from %s", "updated" if learned else "unchanged", "spam" if is_spam else "ham",
             extra={"comment_id": comment_id})
    return learned
