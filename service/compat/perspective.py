"""Perspective API's `comments:analyze` and `comments:suggestscore`, answered by modqueue's models.

Clients keep their code and change the base URL from https://commentanalyzer.googleapis.com to modqueue
(both `/v1alpha1/…` and `/compat/perspective/v1alpha1/…` work) and the key to one of the site's API keys.
Errors have Google's shape: `{"error": {"code": 400, "message": "…", "status": "INVALID_ARGUMENT"}}`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from service.compat.analysis import (AnalysisRequest, AnalysisTimeout, AnalysisUnavailable, SpamContext, analyze,
                                     enqueue_text_label)
from service.compat.common import compat_limit, limit_key, observed
from service.compat.credentials import credential_for_key
from service.extensions import db
from service.metrics import COMPAT_REQUESTS
from service.ratelimit import limiter

bp = Blueprint("perspective", __name__)

# Perspective's attribute names → modqueue's score names (the _EXPERIMENTAL names are older aliases).
ATTRIBUTES = {
    "TOXICITY": "toxicity",
    "SEVERE_TOXICITY": "severe_toxicity",
    "IDENTITY_ATTACK": "identity_attack",
    "INSULT": "insult",
    "PROFANITY": "obscene",
    "THREAT": "threat",
    "SEXUALLY_EXPLICIT": "sexual_explicit",
    "SPAM": "spam",
}
ATTRIBUTES.update({f"{name}_EXPERIMENTAL": score for name, score in list(ATTRIBUTES.items()) if name != "SPAM"})
# Perspective attributes modqueue has no model for.
UNSUPPORTED = {"FLIRTATION", "ATTACK_ON_AUTHOR", "ATTACK_ON_COMMENTER", "INCOHERENT", "INFLAMMATORY",
               "LIKELY_TO_REJECT", "OBSCENE", "UNSUBSTANTIAL", "AFFINITY_EXPERIMENTAL", "COMPASSION_EXPERIMENTAL",
               "CURIOSITY_EXPERIMENTAL", "NUANCE_EXPERIMENTAL", "PERSONAL_STORY_EXPERIMENTAL",
               "REASONING_EXPERIMENTAL", "RESPECT_EXPERIMENTAL"}
MODEL_LANGUAGES = {"multilingual": {"en", "fr", "es", "it", "pt", "tr", "ru"}}
# Perspective refuses comments over 20 KB.
MAX_TEXT_BYTES = 20_480
SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")


class PerspectiveError(Exception):
    def __init__(self, code: int, status: str, message: str, reason: str | None = None):
        super().__init__(message)
        self.code, self.status, self.message, self.reason = code, status, message, reason


def _invalid(message: str) -> PerspectiveError:
    return PerspectiveError(400, "INVALID_ARGUMENT", message)


@bp.errorhandler(PerspectiveError)
def _error(exc: PerspectiveError):
    error = {"code": exc.code, "message": exc.message, "status": exc.status}
    if exc.reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": exc.reason,
                             "domain": "modqueue"}]
    return jsonify({"error": error}), exc.code


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    statuses = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 405: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT",
                415: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED"}
    code = exc.code or 500
    if code == 429:
        COMPAT_REQUESTS.labels("perspective", request.endpoint or "", "rate_limited").inc()
    message = "Quota exceeded for this API key; try again later." if code == 429 else (exc.description or exc.name)
    return _error(PerspectiveError(code, statuses.get(code, "UNKNOWN"), message))


def _api_key() -> str | None:
    return request.args.get("key") or request.headers.get("X-Goog-Api-Key")


def _rate_key() -> str:
    return limit_key(_api_key())


def _authenticate():
    key = _api_key()
    if not key:
        raise PerspectiveError(403, "PERMISSION_DENIED",
                               "The request is missing a valid API key.", "API_KEY_MISSING")
    credential = credential_for_key(db.session, key)
    if credential is None:
        raise PerspectiveError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                               "API_KEY_INVALID")
    return credential


def _payload() -> dict:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise _invalid("Invalid JSON payload received: the body must be a JSON object.")
    return payload


def _comment_text(payload: dict) -> str:
    comment = payload.get("comment")
    if not isinstance(comment, dict) or not isinstance(comment.get("text"), str):
        raise _invalid("comment.text is required and must be a string.")
    if comment.get("type", "PLAIN_TEXT") != "PLAIN_TEXT":
        raise _invalid("comment.type must be PLAIN_TEXT.")
    text = comment["text"]
    if not text.strip():
        raise _invalid("Comment must be non-empty.")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise _invalid("comment.text is not valid Unicode.") from None
    if size > MAX_TEXT_BYTES:
        raise _invalid(f"Comment text too long: {size} bytes, the limit is {MAX_TEXT_BYTES}.")
    return text


def _client_token(payload: dict) -> str | None:
    client_token = payload.get("clientToken")
    if client_token is not None and not isinstance(client_token, str):
        raise _invalid("clientToken must be a string.")
    return client_token


def _languages(payload: dict) -> list[str] | None:
    languages = payload.get("languages")
    if languages is None or languages == []:
        return None
    if not isinstance(languages, list) or not all(isinstance(x, str) and x for x in languages):
        raise _invalid("languages must be a list of language codes.")
    return [x.lower() for x in languages]


@dataclass(frozen=True)
class Requested:
    name: str
    score: str
    threshold: float | None


def _score_name(name) -> str:
    if not isinstance(name, str) or name in UNSUPPORTED or name not in ATTRIBUTES:
        shown = name if isinstance(name, str) else repr(name)
        raise _invalid(f"Unknown or unsupported attribute: {shown}. This server scores "
                       + ", ".join(sorted(n for n in ATTRIBUTES if not n.endswith("_EXPERIMENTAL"))) + ".")
    return ATTRIBUTES[name]


def _requested(payload: dict) -> list[Requested]:
    attributes = payload.get("requestedAttributes")
    if not isinstance(attributes, dict) or not attributes:
        raise _invalid("requestedAttributes must name at least one attribute.")
    requested = []
    for name, options in attributes.items():
        score = _score_name(name)
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise _invalid(f"requestedAttributes.{name} must be an object.")
        if options.get("scoreType", "PROBABILITY") != "PROBABILITY":
            raise _invalid(f"Unsupported scoreType for {name}: only PROBABILITY is supported.")
        threshold = options.get("scoreThreshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not math.isfinite(threshold) or not 0 <= threshold <= 1):
            raise _invalid(f"requestedAttributes.{name}.scoreThreshold must be a number from 0 to 1.")
        requested.append(Requested(name, score, None if threshold is None else float(threshold)))
    return requested


def _check_languages(requested: list[Requested], languages: list[str] | None) -> list[str]:
    supported = MODEL_LANGUAGES.get(current_app.config["MODQUEUE_SETTINGS"].toxicity_model, {"en"})
    if languages is None:
        return ["en"]
    for item in requested:
        if item.score == "spam":
            continue
        unsupported = [lang for lang in languages if lang.split("-")[0] not in supported]
        if unsupported:
            raise PerspectiveError(400, "INVALID_ARGUMENT", f"Attribute {item.name} does not support request "
                                   f"languages: {', '.join(unsupported)}", "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE")
    return languages


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Begin and end offsets (code points) of each sentence, trailing spaces left out."""
    spans = []
    for match in SENTENCE.finditer(text):
        begin, end = match.start(), match.end()
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if end > begin:
            spans.append((begin, end))
    return spans or [(0, len(text))]


def _probability(value: float) -> dict:
    return {"value": round(float(value), 6), "type": "PROBABILITY"}


def _ask(request_: AnalysisRequest):
    try:
        return analyze(request_)
    except AnalysisUnavailable:
        raise PerspectiveError(503, "UNAVAILABLE", "The scoring queue is unavailable; try again.") from None
    except AnalysisTimeout:
        raise PerspectiveError(504, "DEADLINE_EXCEEDED",
                               "No scoring worker answered in time; try again.") from None


@bp.post("/v1alpha1/comments:analyze")
@bp.post("/compat/perspective/v1alpha1/comments:analyze")
@limiter.shared_limit(compat_limit, scope="compat", key_func=_rate_key)
def analyze_comment():
    """Score a text: {comment, requestedAttributes, languages?, doNotStore?, clientToken?, spanAnnotations?}.

    The text is never written to the database or the logs, whatever `doNotStore` says; it travels to a
    worker in a queue message that is deleted once answered.
    """
    with observed("perspective", "analyze"):
        site_id = _authenticate().site_id
        db.session.commit()  # the key's last use; no transaction stays open while a worker scores
        payload = _payload()
        text = _comment_text(payload)
        requested = _requested(payload)
        languages = _check_languages(requested, _languages(payload))
        client_token = _client_token(payload)
        spans = sentence_spans(text) if payload.get("spanAnnotations") is True else [(0, len(text))]
        per_span = len(spans) > 1
        needs_toxicity = any(r.score != "spam" for r in requested)
        needs_spam = any(r.score == "spam" for r in requested)
        texts = [text] + ([text[b:e] for b, e in spans] if per_span else [])
        result = _ask(AnalysisRequest(site_id=site_id, texts=texts, toxicity=needs_toxicity,
                                      spam=SpamContext() if needs_spam else None))
        missing = [r.name for r in requested if r.score != "spam" and r.score not in result.labels]
        if missing:
            raise _invalid(f"Attribute {missing[0]} is not supported by this server's model "
                           f"({result.sources.get('toxicity')}).")
        scores = {}
        for item in requested:
            if item.score == "spam":
                summary, span_values = result.spam["score"], [result.spam["score"]]
                span_list = [(0, len(text))]
            else:
                summary = result.toxicity[0][item.score]
                span_values = [r[item.score] for r in result.toxicity[1:]] if per_span else [summary]
                span_list = spans
            if item.threshold is not None and summary < item.threshold:
                continue
            scores[item.name] = {
                "spanScores": [{"begin": b, "end": e, "score": _probability(v)}
                               for (b, e), v in zip(span_list, span_values, strict=True)],
                "summaryScore": _probability(summary),
            }
        body = {"attributeScores": scores, "languages": languages}
        if client_token is not None:
            body["clientToken"] = client_token
        response = jsonify(body)
        response.headers["X-Modqueue-Batch-Size"] = str(result.batch_size)
        return response


@bp.post("/v1alpha1/comments:suggestscore")
@bp.post("/compat/perspective/v1alpha1/comments:suggestscore")
@limiter.shared_limit(compat_limit, scope="compat", key_func=_rate_key)
def suggest_score():
    """Record a suggested score. A SPAM suggestion is a label the site's spam model learns (≥ 0.5: spam)."""
    with observed("perspective", "suggestscore"):
        site_id = _authenticate().site_id
        db.session.commit()
        payload = _payload()
        text = _comment_text(payload)
        attributes = payload.get("attributeScores")
        if not isinstance(attributes, dict) or not attributes:
            raise _invalid("attributeScores must name at least one attribute.")
        suggested = {}
        for name, score in attributes.items():
            _score_name(name)
            summary = score.get("summaryScore") if isinstance(score, dict) else None
            value = summary.get("value") if isinstance(summary, dict) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise _invalid(f"attributeScores.{name}.summaryScore.value must be a number from 0 to 1.")
            suggested[ATTRIBUTES[name]] = float(value)
        client_token = _client_token(payload)
        if "spam" in suggested and not enqueue_text_label(site_id, text, suggested["spam"] >= 0.5,
                                                          "perspective", SpamContext()):
            raise PerspectiveError(503, "UNAVAILABLE", "The learning queue is unavailable; try again.")
        return jsonify({"clientToken": client_token} if client_token is not None else {})
