"""The public comments API used by the widget and by sites' own clients."""

from __future__ import annotations

import json
import re

from flask import Blueprint, current_app, jsonify, request
from flask_limiter.util import get_remote_address
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest

from service.comments import operations
from service.comments.admission import Admission
from service.comments.models import PENDING, Comment
from service.comments.schemas import CommentIn, ReportIn, comment_json, thread_json
from service.cors import allow_origins_of_site
from service.errors import APIError
from service.events import publish_event
from service.extensions import db, redis_store, task_queue
from service.ids import new_id
from service.metrics import COMMENTS_RECEIVED
from service.ratelimit import PostingLimits, author_key, ip_limit, limiter
from service.sites.models import Site
from service.sites.operations import SiteCache, SiteRef, find_site

bp = Blueprint("comments", __name__, url_prefix="/api/v1")

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def json_object() -> dict:
    """The request's JSON object, or a 400/415 that says what is wrong with it."""
    if not request.is_json:
        raise APIError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json")
    try:
        payload = request.get_json()
    except BadRequest:
        raise APIError(400, "malformed_json", "the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise APIError(400, "malformed_json", "the body must be a JSON object")
    if _may_hold_nul(request.get_data(cache=True)) and (nul_fields := dict(_fields_with_nul(payload))):
        # PostgreSQL can store no NUL character; refuse it here, before any lookup sees it.
        raise APIError(422, "validation_failed", "the request is not valid", nul_fields)
    return payload


def _may_hold_nul(body: bytes) -> bool:
    # JSON refuses a raw NUL, so one can reach a parsed value only as the escape \u0000: a UTF-8 body
    # without that text holds none. (A body in UTF-16 or 32, which JSON allows, is looked through.)
    return b"\\u0000" in body or json.detect_encoding(body) != "utf-8"


def _fields_with_nul(value, path: str = ""):
    if isinstance(value, str):
        if "\x00" in value:
            yield path or "body", "contains a control character (U+0000)"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _fields_with_nul(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _fields_with_nul(item, f"{path}.{index}" if path else str(index))


def _caches() -> tuple[SiteCache, operations.ArticleIds]:
    return current_app.extensions["modqueue.site_cache"], current_app.extensions["modqueue.article_ids"]


def _check_origin(site: Site | SiteRef) -> None:
    if not allow_origins_of_site(site.origin_urls):
        raise APIError(403, "origin_not_allowed", "this site does not accept comments from this origin")


def _site_named_in(payload: dict) -> SiteRef | None:
    key = payload.get("site")
    site = _caches()[0].get(db.get_session, key) if isinstance(key, str) and len(key) <= 64 else None
    if site is not None:
        _check_origin(site)
    return site


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise APIError(400, "invalid_idempotency_key", "Idempotency-Key must be 1-200 printable ASCII characters")
    return key


def _comment_or_404(comment_id: str) -> Comment:
    comment = db.session.get(Comment, comment_id) if len(comment_id) <= 26 else None
    if comment is None:
        raise APIError(404, "not_found", "no such comment")
    return comment


@bp.post("/comments")
def create_comment():
    admission: Admission = current_app.extensions["modqueue.admission"]
    address, author = get_remote_address(), author_key()
    try:
        payload = json_object()
        site = _site_named_in(payload)
        data = CommentIn.model_validate(payload, context={"max_body_chars": current_app.config["MAX_BODY_CHARS"]})
        if site is None:
            raise APIError(422, "unknown_site", "no site has this key", {"site": "no site has this key"})
        idempotency_key = _idempotency_key()
        article_ids = _caches()[1]
        article_id = article_ids.get(site.id, data.article.id)
        row = None
        if idempotency_key is None and article_id is not None:
            # The common case, a comment on a known article without a retry key: one INSERT, shared with
            # the process's other posts of the moment.
            row = operations.comment_row(site, data, article_id, parent_article=_parent_article,
                                         remote_addr=request.remote_addr, comment_id=new_id())
    except Exception:
        admission.admit(address, author)  # every post counts, a refused one too: over the limits, a 429
        raise
    try:
        admission.admit(address, author, row)
    except IntegrityError:
        if row is None or data.parent_id is None:
            raise
        raise operations.no_such_parent() from None  # deleted since it was checked
    if row is not None:
        comment_id, status, created = row["id"], PENDING, True
    else:  # the article's first comment, or a retry key to check: a transaction
        comment, created = operations.submit_comment(
            db.session, site, data, idempotency_key=idempotency_key, remote_addr=request.remote_addr,
            article_ids=article_ids,
        )
        comment_id, status = comment.id, comment.status
    db.commit()
    if created:
        COMMENTS_RECEIVED.labels(site.public_key).inc()
        task_queue.enqueue_scoring(comment_id)
    # get_comment's URL, put together directly: building it with url_for costs as much as a tenth of the
    # rest of this view (the id is letters and digits, nothing to quote).
    location = f"{request.script_root}{bp.url_prefix}/comments/{comment_id}"
    return jsonify({"id": comment_id, "status": status}), 202, {"Location": location}


def _parent_article(parent_id: str) -> int | None:
    # A read: on a connection found dead it is simply asked again on a new one.
    return db.autocommit_once(lambda connection: operations.parent_article_id(connection, parent_id),
                              done=lambda connection: False)


def new_admission(limits: PostingLimits) -> Admission:
    """The process's admission of posted comments: their limits in one pipeline, their rows in one INSERT on
    the process's `TurnConnection` (its grouped calls run one at a time)."""

    def write(rows: list[dict]) -> None:
        # Sent once more on a new connection if the kept one had died, unless the first try committed
        # (one transaction: its first row tells); the ids were chosen before, so a retry stores each once.
        db.autocommit_once(lambda connection: operations.insert_comments(connection, rows),
                           done=lambda connection: operations.comment_exists(connection, rows[0]["id"]),
                           in_turn=True)

    def stored(row: dict) -> bool:
        return bool(db.autocommit_once(lambda connection: operations.comment_exists(connection, row["id"]),
                                       done=lambda connection: False, in_turn=True))

    return Admission(limits, write, stored)


@bp.get("/comments/<comment_id>")
def get_comment(comment_id: str):
    comment = _comment_or_404(comment_id)
    allow_origins_of_site(comment.site.origin_urls)
    return jsonify(comment_json(comment))


@bp.get("/sites/<site_key>/articles/<path:article_id>/comments")
def article_comments(site_key: str, article_id: str):
    site = find_site(db.session, site_key)
    if site is None:
        raise APIError(404, "unknown_site", "no site has this key")
    allow_origins_of_site(site.origin_urls)
    comments = operations.published_comments(db.session, site, article_id)
    closed = site.closed or operations.article_closed(db.session, site, article_id)
    return jsonify({"article_id": article_id, "count": len(comments), "closed": closed,
                    "comments": thread_json(comments)})


@bp.post("/comments/<comment_id>/reports")
@limiter.limit(ip_limit, methods=["POST"])
def report_comment(comment_id: str):
    payload = json_object()
    comment = _comment_or_404(comment_id)
    _check_origin(comment.site)
    report = operations.report_comment(db.session, comment, ReportIn.model_validate(payload), request.remote_addr)
    db.session.commit()
    publish_event(redis_store.client, "comment.reported", id=comment.id, site=comment.site.public_key,
                  status=comment.status)
    return jsonify({"id": report.id, "comment_id": comment.id, "reason": report.reason}), 202
