"""JSON errors: `{"error": {"code", "message", "fields"}}` with the right status, never a 500 for bad input."""

from __future__ import annotations

from flask import Flask, jsonify, request
from pydantic import ValidationError
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

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if not request.path.startswith("/api/"):
            return exc
        if exc.code == 429:
            return error_response(429, "rate_limited", "too many comments in a short time; try again later")
        return error_response(exc.code or 500, _http_code(exc), exc.description or exc.name)
