"""CSRF protection for everything a browser session can change (Flask-WTF).

The public comment API is called cross-origin by the widget without cookies, and API clients
authenticate with a bearer token; neither carries ambient credentials, so an API request without a
signed-in session is left to the view's own authentication (401/403). Requests riding on the dashboard's
session cookie must send the token (form field or X-CSRFToken header), as must every dashboard form.
"""

from __future__ import annotations

from flask import Flask, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect

from service.accounts.auth import uses_bearer_token
from service.errors import error_response

csrf = CSRFProtect()
KEYED_API_PREFIXES = ("/v1alpha1/", "/1.1/", "/compat/")


def init_csrf(app: Flask) -> None:
    app.config.update(WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None)
    csrf.init_app(app)

    @app.before_request
    def _protect_session_requests():
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        if request.path.startswith(KEYED_API_PREFIXES):
            # Perspective, Akismet and Coral calls carry an API key or a signature and never read the session.
            return None
        if request.path.startswith("/api/v1/"):
            session_api = request.path.startswith(("/api/v1/moderation/", "/api/v1/admin/"))
            # The public API never reads the session; a bearer token or no signed-in session carries no
            # ambient credentials to forge with, and the view's own authentication decides.
            if not session_api or uses_bearer_token() or "user_id" not in session:
                return None
        csrf.protect()
        return None

    @app.before_request
    def _refuse_nul_characters():
        # No NUL can reach the database (PostgreSQL text cannot hold one): refuse it in the URL and forms.
        values = [request.path, *request.args.values(), *request.args.keys()]
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values += [*request.form.values()]
        if any("\x00" in value for value in values):
            return error_response(400, "invalid_characters", "the request contains a NUL character")
        return None

    @app.errorhandler(CSRFError)
    def _csrf_failed(exc: CSRFError):
        return error_response(400, "csrf_failed", exc.description)
