"""JSON errors: `{"error": {"code", "message", "fields"}}` with the right status, never a 500 for bad input."""

from __future__ import annotations

import time

from flask import Flask, g, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from service.comments.operations import SubmissionError


class APIError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}


def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None):
    return jsonify({"error": {"code": code, "message": message, "fields": fields or {}}}), status


def validation_fields(exc: ValidationError) -> dict[str, str]:
    """Map pydantic's errors to {"author.name": "message"}."""
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        fields.setdefault(name, message)
    return fields


def _http_code(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_")


def seconds_until_allowed() -> int:
    """For a refused request: how long until the breached limit lets the next one through."""
    from service.ratelimit import limiter

    breached = limiter.current_limit
    if breached is None:
        return 60
    try:
        return max(1, int(breached.reset_at - time.time()))
    except Exception:  # the limit store went away between the hit and now
        return max(1, int(breached.limit.get_expiry()))


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(APIError)
    @app.errorhandler(SubmissionError)
    def _api_error(exc):
        response, status = error_response(exc.status, exc.code, exc.message, exc.fields)
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response, status

    @app.errorhandler(ValidationError)
    def _invalid(exc: ValidationError):
        return error_response(422, "validation_failed", "the request is not valid", validation_fields(exc))

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def _database_unavailable(exc: DBAPIError):
        # Unreachable, restarting or failing over: say so, so that clients retry (with their
        # Idempotency-Key, a retry never stores a comment twice). Other database errors are bugs: 500.
        if not (isinstance(exc, OperationalError) or exc.connection_invalidated):
            raise exc
        app.logger.warning("database unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
        response, status = error_response(503, "database_unavailable",
                                          "the database is unavailable for a moment; try again")
        g.retry_after = "2"
        return response, status

    # Registered before the rate limiter's header hook, so it runs after it (should its headers be
    # turned on, Flask-Limiter puts a Retry-After on every response, which tells a client that succeeded
    # to wait).
    @app.after_request
    def _retry_after_only_when_refused(response):
        if g.get("retry_after"):
            response.headers["Retry-After"] = g.retry_after
        elif response.status_code != 429:
            response.headers.pop("Retry-After", None)
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code == 429:
            g.retry_after = str(seconds_until_allowed())
        if not request.path.startswith("/api/"):
            return exc
        if exc.code == 429:
            return error_response(429, "rate_limited", "too many comments in a short time; try again later")
        return error_response(exc.code or 500, _http_code(exc), exc.description or exc.name)
