"""The moderation API (bearer token or the dashboard's session)."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from service.accounts.auth import current_user, login_required
from service.accounts.operations import visible_site_ids
from service.comments.models import STATUSES, Comment
from service.comments.views import json_object
from service.errors import APIError
from service.events import decision_event_type, publish_event
from service.extensions import db, redis_store, task_queue
from service.metrics import COMMENTS_DECIDED, MODERATOR_DECISIONS
from service.moderation import operations
from service.moderation.queries import QUEUES, SORTS, QueueFilter, moderated_comment, moderated_site, queue_page

bp = Blueprint("moderation", __name__, url_prefix="/api/v1/moderation")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    action: Literal["approve", "reject"]
    reason: StrictStr | None = Field(default=None, max_length=200)
    note: StrictStr | None = Field(default=None, max_length=2000)
    expected_status: Literal[STATUSES] | None = None  # type: ignore[valid-type]


def moderation_json(comment: Comment, reports: int = 0) -> dict:
    return {
        "id": comment.id,
        "status": comment.status,
        "site": comment.site.public_key,
        "article": {"id": comment.article.external_id, "url": comment.article.url, "title": comment.article.title},
        "author": {"name": comment.author_name, "email": comment.author_email},
        "body": comment.body,
        "parent_id": comment.parent_id,
        "created_at": comment.created_at.isoformat(),
        "decided_at": comment.decided_at.isoformat() if comment.decided_at else None,
        "scores": comment.scores or {},
        "score_sources": comment.score_sources or {},
        "reasons": comment.reasons or [],
        "reports": reports,
    }


class RestrictionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: Literal["ban", "suspend"]
    days: int | None = Field(default=None, ge=1, le=3650)
    reason: StrictStr | None = Field(default=None, max_length=500)


def queue_filter_from(args) -> QueueFilter:
    """Queue filters from query parameters: article, author, min_score, sort."""
    sort = args.get("sort") or "newest"
    if sort not in SORTS:
        raise APIError(422, "validation_failed", "unknown sort", {"sort": f"one of {', '.join(SORTS)}"})
    try:
        min_score = float(args["min_score"]) if args.get("min_score") else None
    except ValueError:
        raise APIError(422, "validation_failed", "min_score must be a number", {"min_score": "0-1"}) from None
    return QueueFilter(article=args.get("article") or None, author=args.get("author") or None,
                       min_score=min_score, sort=sort)


def _site_ids_for_request() -> list[int] | None:
    allowed = visible_site_ids(current_user())
    key = request.args.get("site")
    if key is None:
        return allowed
    site = moderated_site(db.session, allowed, key)
    if site is None:
        raise APIError(404, "unknown_site", "no site with this key that you moderate")
    return [site.id]


def _moderated_comment(comment_id: str) -> Comment:
    comment = moderated_comment(db.session, visible_site_ids(current_user()), comment_id)
    if comment is None:
        raise APIError(404, "not_found", "no such comment")
    return comment


@bp.get("/comments")
@login_required
def list_queue():
    queue = request.args.get("status", "flagged")
    if queue not in QUEUES:
        raise APIError(422, "validation_failed", "unknown queue", {"status": f"one of {', '.join(QUEUES)}"})
    try:
        limit = min(max(int(request.args.get("limit", 50)), 1), 200)
    except ValueError:
        raise APIError(422, "validation_failed", "limit must be a number", {"limit": "must be 1-200"}) from None
    page = queue_page(db.session, queue, _site_ids_for_request(), cursor=request.args.get("cursor"), limit=limit,
                      filters=queue_filter_from(request.args))
    items = [moderation_json(c, page.report_counts.get(c.id, 0)) for c in page.comments]
    return jsonify({"status": queue, "items": items, "next_cursor": page.next_cursor})


@bp.post("/comments/<comment_id>/decision")
@login_required
def decide(comment_id: str):
    data = DecisionIn.model_validate(json_object())
    comment = _moderated_comment(comment_id)
    moderator = current_user()
    try:
        status = operations.moderate(db.session, comment, data.action, moderator, reason=data.reason,
                                     note=data.note, expected_status=data.expected_status)
    except operations.DecisionConflict as conflict:
        db.session.rollback()
        raise APIError(409, "conflict", str(conflict), {"status": conflict.comment.status}) from None
    db.session.commit()
    MODERATOR_DECISIONS.labels(comment.site.public_key, data.action).inc()
    COMMENTS_DECIDED.labels(comment.site.public_key, status, "moderator").inc()
    publish_event(redis_store.client, decision_event_type(status), id=comment.id, site=comment.site.public_key,
                  status=status, actor=moderator.email)
    label = operations.spam_label(data.action, data.reason)
    if label is not None:
        task_queue.enqueue_learning(comment.id, label)
    return jsonify({"id": comment.id, "status": status})


@bp.post("/comments/<comment_id>/author-restriction")
@login_required
def restrict_author(comment_id: str):
    """Ban (new comments rejected) or suspend (held, for `days` or until lifted) the comment's author."""
    data = RestrictionIn.model_validate(json_object())
    comment = _moderated_comment(comment_id)
    restriction = operations.restrict_author(db.session, comment, data.kind, current_user(), days=data.days,
                                             reason=data.reason)
    db.session.commit()
    return jsonify({"author": comment.author_name, "kind": restriction.kind,
                    "until": restriction.until.isoformat() if restriction.until else None})


@bp.delete("/comments/<comment_id>/author-restriction")
@login_required
def lift_author_restriction(comment_id: str):
    comment = _moderated_comment(comment_id)
    if not operations.lift_restriction(db.session, comment):
        raise APIError(404, "not_found", "this author is not restricted on this site")
    db.session.commit()
    return jsonify({"author": comment.author_name, "kind": None})
