"""Coral Talk's external moderation phase: Coral POSTs each new or edited comment, modqueue answers with
the site's policy within Coral's timeout.

Configure in Coral (Admin → Configure → Moderation → Phases) the URL `https://MODQUEUE/compat/coral/phase/
SITE_KEY`, then give modqueue the phase's signing secret (admin page or API). Answers: 204 when the policy
publishes the comment; otherwise `{"status": …, "actions": [{"actionType": "FLAG", "reason": …}]}`.
"""

from __future__ import annotations

import hashlib
import hmac
from html.parser import HTMLParser

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import HTTPException

from service.compat.analysis import AnalysisRequest, AnalysisTimeout, AnalysisUnavailable, SpamContext, analyze
from service.compat.common import compat_limit, observed, site_rules
from service.compat.credentials import coral_secrets
from service.extensions import db
from service.metrics import COMPAT_REQUESTS
from service.moderation.policy import TOXICITY_ATTRIBUTES, apply_policy
from service.comments.models import FLAGGED, REJECTED
from service.ratelimit import limiter
from service.sites.operations import find_site

bp = Blueprint("coral", __name__)

# Coral's own staff are not moderated by the phase.
STAFF_ROLES = {"ADMIN", "MODERATOR", "STAFF"}
ACTIONS = ("NEW", "EDIT")
TOXIC, SPAM = "COMMENT_DETECTED_TOXIC", "COMMENT_DETECTED_SPAM"


class CoralError(Exception):
    def __init__(self, code: int, error: str, message: str):
        super().__init__(message)
        self.code, self.error, self.message = code, error, message


@bp.errorhandler(CoralError)
def _error(exc: CoralError):
    return jsonify({"error": {"code": exc.error, "message": exc.message}}), exc.code


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 429:
        COMPAT_REQUESTS.labels("coral", "phase", "rate_limited").inc()
    return _error(CoralError(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"),
                             exc.description or exc.name))


def _rate_key() -> str:
    return "compat:coral:" + (request.view_args or {}).get("site_key", "")


def signatures(header: str) -> list[str]:
    """The hex digests in an `X-Coral-Signature` header: `sha256=HEX[,sha256=HEX…]`."""
    found = []
    for part in header.split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == "sha256" and value:
            found.append(value.strip().lower())
    return found


def signature_valid(body: bytes, header: str | None, secrets: list[str]) -> bool:
    """True if any signature in the header is the HMAC-SHA256 of the raw body under any active secret."""
    given = signatures(header or "")
    expected = [hmac.new(secret.encode(), body, hashlib.sha256).hexdigest() for secret in secrets]
    return any(hmac.compare_digest(g, e) for g in given for e in expected)


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("br", "p", "div", "li", "blockquote"):
            self.parts.append("\n")
        href = dict(attrs).get("href") if tag == "a" else None
        if href:
            self.parts.append(f" {href} ")


def body_text(body: str) -> str:
    """Coral sends the body as HTML or as text (the phase's format); score the text, keeping link targets."""
    if "<" not in body:
        return body
    parser = _Text()
    parser.feed(body)
    parser.close()
    return "".join(parser.parts).strip()


def _str(value, name: str, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise CoralError(400, "invalid_request", f"{name} must be a string")
    return value


def _parse(payload) -> dict:
    if not isinstance(payload, dict):
        raise CoralError(400, "invalid_request", "the body must be a JSON ExternalModerationRequest object")
    comment, author = payload.get("comment"), payload.get("author")
    if not isinstance(comment, dict) or not isinstance(author, dict):
        raise CoralError(400, "invalid_request", "comment and author objects are required")
    action = payload.get("action", "NEW")
    if action not in ACTIONS:
        raise CoralError(400, "invalid_request", "action must be NEW or EDIT")
    story = payload.get("story") if isinstance(payload.get("story"), dict) else {}
    return {
        "body": _str(comment.get("body"), "comment.body"),
        "parent_id": _str(comment.get("parentID"), "comment.parentID", required=False),
        "author_id": _str(author.get("id"), "author.id"),
        "role": _str(author.get("role"), "author.role", required=False) or "COMMENTER",
        "story_id": _str(story.get("id"), "story.id", required=False),
    }


def coral_answer(status: str, reasons) -> tuple[str | None, list[dict]]:
    """The Coral status and FLAG actions for a modqueue verdict."""
    toxic = any(r.attribute in TOXICITY_ATTRIBUTES or r.code in ("banned_word", "suspect_word") for r in reasons)
    spam = any(r.attribute == "spam" or r.code in ("spam_signal", "denied_domain", "too_many_links",
                                                    "unlisted_domain") for r in reasons)
    actions = ([{"actionType": "FLAG", "reason": TOXIC}] if toxic else []) + \
              ([{"actionType": "FLAG", "reason": SPAM}] if spam else [])
    if status == REJECTED:
        return "REJECTED", actions
    if status == FLAGGED:
        premod_only = all(r.code == "premoderation" for r in reasons)
        return ("PREMOD" if premod_only else "SYSTEM_WITHHELD"), actions
    return None, actions


@bp.post("/compat/coral/phase/<site_key>")
# Only signed requests count, so nobody without the secret can use up a site's allowance.
@limiter.shared_limit(compat_limit, scope="compat", key_func=_rate_key, deduct_when=lambda response: response.status_code != 401)
def phase(site_key: str):
    with observed("coral", "phase") as outcome:
        site = find_site(db.session, site_key)
        if site is None:
            raise CoralError(404, "unknown_site", "no site has this key")
        raw = request.get_data(cache=True)
        secrets = [c.secret for c in coral_secrets(db.session, site)]
        if not secrets:
            raise CoralError(401, "no_signing_secret", "this site has no Coral signing secret configured")
        header = request.headers.get("X-Coral-Signature")
        if not header:
            raise CoralError(401, "missing_signature", "X-Coral-Signature is required")
        if not signature_valid(raw, header, secrets):
            raise CoralError(401, "invalid_signature", "X-Coral-Signature does not match the body")
        fields = _parse(request.get_json(silent=True))
        if fields["role"].upper() in STAFF_ROLES:
            outcome["value"] = "staff"
            db.session.rollback()
            return "", 204
        rules = site_rules(db.session, site)
        site_id = site.id
        db.session.rollback()  # no transaction stays open while a worker scores
        text = body_text(fields["body"])
        try:
            result = analyze(AnalysisRequest(site_id=site_id, texts=[text], spam=SpamContext(
                author_key=f"coral:{fields['author_id']}", observe_traffic=True,
                deny_domains=tuple(rules.deny_domains))))
        except AnalysisUnavailable:
            raise CoralError(503, "unavailable", "the scoring queue is unavailable") from None
        except AnalysisTimeout:
            raise CoralError(504, "timeout", "no scoring worker answered in time") from None
        scores = {**result.toxicity[0], "spam": result.spam["score"]}
        verdict = apply_policy(rules, scores, result.spam["contributions"], text)
        status, actions = coral_answer(verdict.status, verdict.reasons)
        outcome["value"] = verdict.status
        if status is None and not actions:
            return "", 204
        body = {"actions": actions}
        if status is not None:
            body["status"] = status
        return jsonify(body), 200
