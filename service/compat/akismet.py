"""Akismet's REST API (1.1): verify-key, comment-check, submit-spam, submit-ham.

Clients point their Akismet base URL at modqueue (`/1.1/…` or `/compat/akismet/1.1/…`) and use one of
the site's secret API keys as `api_key`; `blog` must be on one of the site's origins. Answers are
Akismet's plain-text ones, so existing clients read them unchanged.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from service.compat.analysis import AnalysisRequest, AnalysisTimeout, AnalysisUnavailable, SpamContext, analyze
from service.compat.analysis import enqueue_text_label
from service.compat.common import compat_limit, limit_key, observed, request_api_key, site_rules, url_matches_site
from service.compat.credentials import credential_for_key
from service.comments.models import author_key_for
from service.extensions import db
from service.metrics import COMPAT_REQUESTS
from service.ratelimit import limiter

bp = Blueprint("akismet", __name__)

THANKS = "Thanks for making the web a better place."
# Akismet answers `false` for content by the site's own administrators without checking it.
TRUSTED_ROLES = {"administrator"}


class AkismetError(Exception):
    def __init__(self, code: int, text: str, help_text: str | None = None):
        super().__init__(text)
        self.code, self.text, self.help_text = code, text, help_text or text


def _text(body: str, status: int = 200, **headers: str) -> Response:
    response = Response(body, status=status, mimetype="text/plain")
    response.headers.update(headers)
    return response


@bp.errorhandler(AkismetError)
def _error(exc: AkismetError):
    return _text(exc.text, exc.code, **{"X-akismet-debug-help": exc.help_text})


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 429:
        COMPAT_REQUESTS.labels("akismet", request.endpoint or "", "rate_limited").inc()
        return _text("Too many requests for this API key; try again later.", 429,
                     **{"X-akismet-debug-help": "rate limited", "Retry-After": "60"})
    return _text(exc.description or exc.name, exc.code or 500)


def _rate_key() -> str:
    return limit_key(request_api_key("api_key", "key"))


def _field(name: str) -> str:
    return (request.form.get(name) or request.args.get(name) or "").strip()


def _credential():
    """The API key's credential when `api_key` is valid and `blog` is on its site; else Akismet's `invalid`."""
    key, blog = request_api_key("api_key", "key"), _field("blog")
    if not key:
        raise AkismetError(400, "Missing required field: api_key.")
    if not blog:
        raise AkismetError(400, "Missing required field: blog.")
    credential = credential_for_key(db.session, key)
    if credential is None:
        raise AkismetError(200, "invalid", "Invalid API key.")
    if not url_matches_site(blog, credential.site):
        raise AkismetError(200, "invalid", "The blog URL is not one of this key's site origins.")
    return credential


def _spam_context(observe: bool, deny_domains=()) -> SpamContext:
    name, email = _field("comment_author"), _field("comment_author_email")
    honeypot_field = _field("honeypot_field_name")
    return SpamContext(
        author_key=author_key_for(name, email or None) if (name or email) else "",
        remote_addr=_field("user_ip") or None,
        honeypot_filled=bool(honeypot_field and _field(honeypot_field)),
        extra_text=_field("comment_author_url"),
        observe_traffic=observe,
        deny_domains=tuple(deny_domains),
    )


def _is_test() -> bool:
    return _field("is_test").lower() in ("1", "true")


def _content() -> str:
    content = request.form.get("comment_content") or ""
    return content[:50_000]


@bp.route("/1.1/verify-key", methods=["GET", "POST"])
@bp.route("/compat/akismet/1.1/verify-key", methods=["GET", "POST"])
@limiter.shared_limit(compat_limit, scope="compat", key_func=_rate_key)
def verify_key():
    with observed("akismet", "verify-key") as outcome:
        try:
            _credential()
        except AkismetError as exc:
            if exc.code != 200:
                raise
            outcome["value"] = "invalid"
            return _text("invalid", **{"X-akismet-debug-help": exc.help_text})
        db.session.commit()  # the key's last use
        return _text("valid")


@bp.post("/1.1/comment-check")
@bp.post("/compat/akismet/1.1/comment-check")
@limiter.shared_limit(compat_limit, scope="compat", key_func=_rate_key)
def comment_check():
    """`true` (spam) at or above the site's spam review_at; with `X-akismet-pro-tip: discard` at reject_at."""
    with observed("akismet", "comment-check") as outcome:
        credential = _credential()
        if not _field("user_ip"):
            raise AkismetError(400, "Missing required field: user_ip.")
        guid = uuid.uuid4().hex
        if _field("user_role").lower() in TRUSTED_ROLES:
            outcome["value"] = "ham"
            return _text("false", **{"X-akismet-guid": guid})
        rules = site_rules(db.session, credential.site)
        site_id = credential.site_id
        db.session.commit()  # the key's last use; no transaction stays open while a worker scores
        is_test = _is_test()
        try:
            result = analyze(AnalysisRequest(site_id=site_id, texts=[_content()], toxicity=False,
                                             spam=_spam_context(not is_test, rules.deny_domains)))
        except AnalysisUnavailable:
            raise AkismetError(503, "The scoring queue is unavailable; try again.") from None
        except AnalysisTimeout:
            raise AkismetError(503, "No scoring worker answered in time; try again.") from None
        score = result.spam["score"]
        thresholds = rules.thresholds.get("spam")
        review_at = thresholds.review_at if thresholds and thresholds.review_at is not None else 0.5
        reject_at = thresholds.reject_at if thresholds else None
        headers = {"X-akismet-guid": guid, "X-Modqueue-Spam-Score": f"{score:.6f}",
                   "X-Modqueue-Batch-Size": str(result.batch_size)}
        if score < review_at:
            outcome["value"] = "ham"
            return _text("false", **headers)
        outcome["value"] = "spam"
        if reject_at is not None and score >= reject_at:
            outcome["value"] = "discard"
            headers["X-akismet-pro-tip"] = "discard"
        return _text("true", **headers)


def _submit(is_spam: bool):
    credential = _credential()
    content = _content()
    rules = site_rules(db.session, credential.site)
    site_id = credential.site_id
    db.session.commit()
    if not content.strip() and not _field("comment_author_url"):
        raise AkismetError(400, "Missing required field: comment_content.")
    if _is_test():
        # Akismet's meaning of is_test: answer, but learn nothing from it.
        return _text(THANKS)
    if not enqueue_text_label(site_id, content, is_spam, "akismet",
                              _spam_context(False, rules.deny_domains)):
        raise AkismetError(503, "The learning queue is unavailable; try again.")
    return _text(THANKS)


@bp.post("/1.1/submit-spam")
@bp.post("/compat/akismet/1.1/submit-spam")
@limiter.shared_limit(compat_limit, scope="compat", key_func=_rate_key)
def submit_spam():
    """Teach the site's spam model that this content is spam."""
    with observed("akismet", "submit-spam"):
        return _submit(True)


@bp.post("/1.1/submit-ham")
@bp.post("/compat/akismet/1.1/submit-ham")
@limiter.shared_limit(compat_limit, scope="compat", key_func=_rate_key)
def submit_ham():
    """Teach the site's spam model that this content is not spam."""
    with observed("akismet", "submit-ham"):
        return _submit(False)
