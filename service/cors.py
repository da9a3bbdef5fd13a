"""CORS for the public API, limited to each site's configured origins.

Flask-CORS takes a fixed origin list at start-up; a site's origins live in the database and
change at run time, so the check is made per request against the site the request names.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from service.extensions import db
from service.sites.operations import origin_allowed_anywhere

ALLOWED_HEADERS = "Content-Type, Idempotency-Key"
EXPOSED_HEADERS = "Location, Retry-After"


def request_origin() -> str | None:
    return request.headers.get("Origin")


def allow_origins_of_site(origins: list[str]) -> bool:
    """Remember the site's origins for this response; False if the request's Origin is not among them."""
    g.cors_origins = origins
    origin = request_origin()
    return origin is None or origin in origins


def _origin_allowed(origin: str) -> bool:
    origins = g.get("cors_origins")
    if origins is not None:
        return origin in origins
    return origin_allowed_anywhere(db.session, origin)


def _add_cors_headers(response: Response) -> Response:
    origin = request_origin()
    if not request.path.startswith("/api/v1/") or origin is None:
        return response
    response.vary.add("Origin")
    if _origin_allowed(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response


def _preflight() -> Response | None:
    if request.method != "OPTIONS" or not request.path.startswith("/api/v1/"):
        return None
    response = Response(status=204)
    origin = request_origin()
    if origin and origin_allowed_anywhere(db.session, origin):
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def init_cors(app: Flask) -> None:
    app.before_request(_preflight)
    app.after_request(_add_cors_headers)
