"""The moderators' dashboard: sign-in, queues of comment cards, live updates and the audit trail."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from functools import wraps

import redis
from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session,
                   stream_with_context, url_for)
from sqlalchemy.exc import SQLAlchemyError

from service.accounts.auth import current_user
from service.accounts.models import ApiToken
from service.accounts.operations import (
    check_password, create_api_token, find_user, revoke_api_token, visible_site_ids,
)
from service.comments.models import Comment
from service.dashboard import queries
from service.db import utcnow
from service.events import CHANNEL
from service.extensions import db, redis_store
from service.moderation.operations import MODERATOR_REASONS
from service.moderation.queries import QUEUES, moderated_comment, moderated_site, queue_page
from service.moderation.views import queue_filter_from
from service.ratelimit import limiter
from service.sites.models import Site

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates",
               static_folder="static", static_url_path="/static")
#: An event stream is closed after this long; the browser's EventSource reconnects by itself. Short
#: streams keep a thread from being held for ever by a forgotten tab.
STREAM_SECONDS = 25
#: Events are Redis pub/sub messages, which reach only a stream listening at that moment. So a stream
#: first sends what changed while none was: since the page was made (its `since`), or since the last
#: message the browser got from the stream before (`Last-Event-ID`, which the browser sends as it
#: reconnects), less CATCH_UP_MARGIN for a change committed just before whose message was still on its way.
#: The page drops events it has had already.
CATCH_UP_MARGIN = timedelta(seconds=2)
#: Nor further back than this: a page left that long without its stream is out of date anyway.
CATCH_UP_LIMIT = timedelta(minutes=10)


@bp.app_template_filter("highlighted")
def highlighted(comment: Comment) -> list[tuple[str, bool]]:
    """The body cut into (text, matched) pieces at the spans of the words its reasons name."""
    spans = sorted({(r["start"], r["end"]) for r in comment.reasons or []
                    if isinstance(r.get("start"), int) and isinstance(r.get("end"), int)})
    pieces, at = [], 0
    for start, end in spans:
        if start < at or end > len(comment.body):
            continue
        pieces += [(comment.body[at:start], False), (comment.body[start:end], True)]
        at = end
    return [p for p in pieces + [(comment.body[at:], False)] if p[0]]


def signed_in(view):
    """Send anonymous visitors to the sign-in page (pages; fragments and streams answer 401)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("dashboard.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapper


def _site_scope(user) -> tuple[list[int] | None, Site | None]:
    allowed = visible_site_ids(user)
    key = request.args.get("site")
    if not key:
        return allowed, None
    site = moderated_site(db.session, allowed, key) or abort(404)
    return [site.id], site


def _sites_for(user) -> list[Site]:
    allowed = visible_site_ids(user)
    query = db.session.query(Site).order_by(Site.name)
    return query.all() if allowed is None else query.filter(Site.id.in_(allowed)).all()


def card_context(comments: list[Comment]) -> dict:
    return {
        "reports": queries.reports_by_comment(db.session, [c.id for c in comments]),
        "histories": queries.author_histories(db.session, comments),
        "thresholds": queries.current_thresholds(db.session, {c.site_id for c in comments}),
        "reasons": MODERATOR_REASONS,
    }


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def login():
    if request.method == "POST":
        user = find_user(db.session, request.form.get("email", ""))
        if user is not None and user.active and check_password(user, request.form.get("password", "")):
            session.clear()  # a new session on sign-in, so a planted session id is worthless
            session["user_id"] = user.id
            session.permanent = True
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/dashboard/") else url_for("dashboard.queue", status="flagged"))
        flash("Wrong email or password.")
    return render_template("dashboard/login.html")


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("dashboard.login"))


@bp.get("/")
def home():
    return redirect(url_for("dashboard.queue", status="flagged"))


@bp.get("/queue/<status>")
@signed_in
def queue(status: str):
    user = current_user()
    if status not in QUEUES:
        abort(404)
    site_ids, site = _site_scope(user)
    filters = queue_filter_from(request.args)
    made_at = utcnow()  # before reading the queue: the page's event stream catches up from here
    page = queue_page(db.session, status, site_ids, cursor=request.args.get("cursor"), limit=50, filters=filters)
    return render_template(
        "dashboard/queue.html", user=user, status=status, queues=QUEUES, page=page, site=site, filters=filters,
        sites=_sites_for(user), counts=queries.queue_counts(db.session, site_ids), **card_context(page.comments),
        events_since=_moment(made_at),
    )


@bp.get("/cards/<comment_id>")
def card(comment_id: str):
    """One card, for inserting a comment that arrived while the page was open."""
    user = current_user()
    if user is None:
        abort(401)
    comment = moderated_comment(db.session, visible_site_ids(user), comment_id) or abort(404)
    return render_template("dashboard/_card.html", comment=comment, **card_context([comment]))


@bp.get("/events")
def events():
    """Server-sent events from Redis pub/sub: flagged and decided comments of the sites this user moderates."""
    user = current_user()
    if user is None:
        abort(401)
    allowed = None if user.is_admin else {site.public_key for site in user.sites}
    site_ids = visible_site_ids(user)
    since = _catch_up_from()
    client = redis_store.client

    def stream():
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(CHANNEL)  # first, so that nothing falls between the catch-up and the messages
            yield "retry: 1000\n\n"
            if since is not None:
                for event in _missed_since(site_ids, since):
                    yield _message(event)
            deadline = time.monotonic() + STREAM_SECONDS
            while time.monotonic() < deadline:
                message = pubsub.get_message(timeout=1.0)
                if message is None:
                    # The moment up to which this stream has sent everything: where the next one starts.
                    yield f"id: {_moment(utcnow())}\n: keep-alive\n\n"
                    continue
                event = json.loads(message["data"])
                if allowed is None or event.get("site") in allowed:
                    yield _message(event, utcnow())
        except redis.RedisError:
            current_app.logger.warning("event stream lost Redis")
        finally:
            pubsub.close()

    return Response(stream_with_context(stream()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _message(event: dict, sent_at: datetime | None = None) -> str:
    """An event's server-sent message; with `sent_at`, that moment as its id (where a reconnecting stream
    catches up from)."""
    moment = f"id: {_moment(sent_at)}\n" if sent_at else ""
    return f"{moment}event: {event['type']}\ndata: {json.dumps(event)}\n\n"


def _moment(at: datetime) -> str:
    """A moment as the page and the stream's ids carry it (and `_catch_up_from` reads it): Unix seconds, cut
    (not rounded) to the millisecond, so that it never names a moment still to come."""
    return f"{math.floor(at.timestamp() * 1000) / 1000:.3f}"


def _missed_since(site_ids: list[int] | None, since: datetime) -> list[dict]:
    try:
        return queries.events_since(db.session, site_ids, since)
    except SQLAlchemyError as exc:  # the live events still come
        current_app.logger.warning("event stream could not catch up: %s", type(exc).__name__)
        return []
    finally:
        db.session.close()  # the stream holds no database connection while it waits


def _catch_up_from() -> datetime | None:
    """The moment this stream catches up from (see CATCH_UP_MARGIN), or None: from now on only."""
    last = request.headers.get("Last-Event-ID")
    raw, margin = (last, CATCH_UP_MARGIN) if last else (request.args.get("since"), timedelta(0))
    try:
        moment = datetime.fromtimestamp(float(raw), UTC) - margin
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return max(moment, utcnow() - CATCH_UP_LIMIT)


@bp.get("/audit")
@signed_in
def audit():
    user = current_user()
    site_ids, site = _site_scope(user)
    rows = queries.audit_page(db.session, site_ids, actor=request.args.get("actor") or None,
                              comment_id=request.args.get("comment") or None)
    changes = queries.policy_changes(db.session, site_ids, actor=request.args.get("actor") or None)
    return render_template("dashboard/audit.html", user=user, rows=rows, site=site, sites=_sites_for(user),
                           policy_changes=changes)


def _own_tokens(user) -> list[ApiToken]:
    return db.session.query(ApiToken).filter(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()).all()


@bp.route("/tokens", methods=["GET", "POST"])
@signed_in
def tokens():
    """Bearer tokens for the moderation API, acting as this user; a new token is shown once."""
    user = current_user()
    secret = None
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()[:100] or "api client"
        _, secret = create_api_token(db.session, user, name)
        db.session.commit()
    return render_template("dashboard/tokens.html", user=user, tokens=_own_tokens(user), secret=secret)


@bp.post("/tokens/<int:token_id>/revoke")
@signed_in
def revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user().id:
        abort(404)
    revoke_api_token(db.session, token_id)
    db.session.commit()
    flash(f"Token “{token.name}” revoked.")
    return redirect(url_for("dashboard.tokens"))
