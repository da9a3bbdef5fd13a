"""modqueue's web application."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy.orm import Session, sessionmaker

from service.cors import init_cors
from service.db import import_models
from service.errors import register_error_handlers
from service.ratelimit import init_rate_limits
from service.security import init_csrf
from service import extensions
from service.settings import Settings

# Enough for the longest body (10,000 characters, each up to a 6-byte JSON escape) plus the other fields.
MAX_REQUEST_BYTES = 128 * 1024


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions. A request without the cookie (every widget and API call) gets a new
    empty session at once, without the signer Flask would otherwise build for each request."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


class App(Flask):
    """Flask, with each hook's and view's sync-or-async check made once, not on every request (a dozen
    `inspect` calls per request otherwise)."""

    session_interface = CookieSessions()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable, Callable] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        try:
            return self._sync[func]
        except KeyError:
            sync = super().ensure_sync(func)
            if len(self._sync) < 10_000:
                self._sync[func] = sync
            return sync
        except TypeError:  # unhashable
            return super().ensure_sync(func)


def create_app(settings: Settings | None = None, session_factory: sessionmaker[Session] | None = None) -> Flask:
    """Build the web app; tests pass their own settings and session factory."""
    settings = settings or Settings.from_env()
    import_models()
    app = App(__name__, instance_path=str(settings.instance_path.resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="modqueue_session",
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        MAX_BODY_CHARS=settings.max_body_chars,
        MODQUEUE_SETTINGS=settings,
        JSON_SORT_KEYS=False,
    )
    extensions.db.init_app(app, settings, session_factory)
    extensions.redis_store.init_app(app, settings)
    extensions.task_queue.init_app(app, settings)
    from service.comments.operations import ArticleIds
    from service.sites.operations import SiteCache

    app.extensions["modqueue.site_cache"] = SiteCache()
    app.extensions["modqueue.article_ids"] = ArticleIds()
    register_error_handlers(app)
    init_cors(app)
    init_csrf(app)
    init_rate_limits(app, settings)
    from service.comments.views import new_admission

    app.extensions["modqueue.admission"] = new_admission(app.extensions["modqueue.posting_limits"])

    from service.admin.pages import bp as admin_bp
    from service.admin.views import bp as admin_api_bp
    from service.comments.views import bp as comments_bp
    from service.compat.akismet import bp as akismet_bp
    from service.compat.coral import bp as coral_bp
    from service.compat.perspective import bp as perspective_bp
    from service.health.views import bp as health_bp
    from service.moderation.views import bp as moderation_bp
    from service.dashboard.views import bp as dashboard_bp
    from service.widget.views import bp as widget_bp

    app.register_blueprint(comments_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(moderation_bp)
    app.register_blueprint(widget_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(admin_api_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(perspective_bp)
    app.register_blueprint(akismet_bp)
    app.register_blueprint(coral_bp)
    return app
