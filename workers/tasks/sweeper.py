"""The sweeper: re-queue comments left pending, e.g. when Redis lost its queue in a restart."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.comments.models import PENDING, Comment
from service.db import utcnow
from workers.base import DatabaseTask
from workers.celery_app import SWEEP_TASK, send_scoring

log = logging.getLogger(__name__)
SWEEP_LIMIT = 5000


def claim_stale_pending(session: Session, older_than: timedelta, limit: int = SWEEP_LIMIT) -> list[str]:
    """Ids of comments pending since before `older_than` ago, marked as queued now."""
    cutoff = utcnow() - older_than
    ids = list(
        session.scalars(
            select(Comment.id)
            .where(Comment.status == PENDING, Comment.queued_at < cutoff)
            .order_by(Comment.queued_at)
            .limit(limit)
        )
    )
    if ids:
        session.execute(
            update(Comment).where(Comment.id.in_(ids)).values(queued_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return ids


@shared_task(base=DatabaseTask, bind=True, name=SWEEP_TASK, acks_late=False)
def sweep_pending(self: DatabaseTask) -> int:
    """Queue every stale pending comment again; scoring is idempotent, so a duplicate costs nothing."""
    ids = self.run_in_transaction(claim_stale_pending, timedelta(seconds=self.settings.sweep_after_seconds))
    send_scoring(self.app, ids, self.settings.batch_size)
    if ids:
        log.warning("re-queued %d stale pending comments", len(ids))
    return len(ids)
