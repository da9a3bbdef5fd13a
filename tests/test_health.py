"""Liveness and readiness: /readyz fails when the database or Redis is unreachable."""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker

from service import create_app
from service.db import make_engine


def test_healthz_is_ok(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_is_ready_with_database_and_redis(client):
    body = client.get("/readyz").get_json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"] == {"ok": True}


def test_readyz_is_503_when_redis_is_unreachable(settings, session_factory):
    app = create_app(settings.replace(redis_url="redis://127.0.0.1:1/0"), session_factory=session_factory)

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"]["ok"] is False


def test_readyz_is_503_when_the_database_is_unreachable(settings):
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    app = create_app(settings, session_factory=sessionmaker(bind=engine))

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["ok"] is False
    engine.dispose()


def test_comment_is_kept_when_the_queue_is_unreachable(settings, session_factory, site):
    """Redis down at POST time: the comment is stored pending and the sweeper queues it later."""
    app = create_app(settings.replace(redis_url="redis://127.0.0.1:1/0"), session_factory=session_factory)
    response = app.test_client().post("/api/v1/comments", json={
        "site": site.public_key, "article": {"id": "a"}, "author": {"name": "Ada"}, "body": "still here",
    })
    assert response.status_code == 202
    assert app.test_client().get(response.headers["Location"]).get_json()["status"] == "pending"


def test_posting_while_the_database_is_unreachable_is_a_503_to_retry(settings, site):
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    app = create_app(settings, session_factory=sessionmaker(bind=engine))
    app.extensions["modqueue.site_cache"].get = lambda session, key: _site_ref(site)

    response = app.test_client().post("/api/v1/comments", json={
        "site": site.public_key, "article": {"id": "a"}, "author": {"name": "Ada"}, "body": "try again"})

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.get_json()["error"]["code"] == "database_unavailable"
    engine.dispose()


def _site_ref(site):
    from service.sites.operations import SiteRef

    return SiteRef(id=site.id, public_key=site.public_key, origin_urls=tuple(site.origin_urls))


def test_a_reply_posted_on_connections_the_database_dropped_is_stored_once(settings, database_url):
    """Neither the autocommit pool's connections nor the process's turn connection (its grouped INSERTs) are
    pinged before use; one the server has since closed (a restart, a failover, an idle timeout) fails, and
    the statement is sent once more on a new one. A reply uses both: its parent is read on the pool's
    connection, it is stored on the turn connection."""
    import uuid

    import psycopg
    from sqlalchemy import delete, func, select

    from service.comments.models import Comment
    from service.extensions import db
    from service.sites.models import Site
    from service.sites.operations import create_site

    app = create_app(settings)  # a real engine and pools, as in production
    with app.extensions["modqueue.sessions"]() as session:
        site = create_site(session, "Reconnecting", ["https://news.example"])
        session.commit()
    client = app.test_client()

    def post(body: str, parent_id: str | None = None):
        return client.post("/api/v1/comments", json={
            "site": site.public_key, "article": {"id": "a"}, "author": {"name": "Ada"}, "body": body,
            "parent_id": parent_id})

    assert post("the article's first comment").status_code == 202  # the article is known from here on
    parent = post("stored on the turn connection").get_json()["id"]
    assert post("its parent read on the autocommit pool", parent_id=parent).status_code == 202
    with app.extensions["modqueue.autocommit_engine"].connect() as connection:  # the pool's one connection
        pooled = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    turn = app.extensions["modqueue.turn_connection"].connection()
    kept = turn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    assert pooled != kept
    with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as admin:
        for backend in (pooled, kept):
            assert admin.execute("SELECT pg_terminate_backend(%s)", [backend]).fetchone()[0] is True

    body = f"sent on dead connections {uuid.uuid4().hex[:6]}"
    response = post(body, parent_id=parent)

    assert response.status_code == 202
    assert client.get(response.headers["Location"]).get_json()["status"] == "pending"
    assert app.extensions["modqueue.turn_connection"].connection() is not turn  # the dead one was given up
    with app.extensions["modqueue.sessions"]() as session:
        assert session.scalar(select(func.count()).select_from(Comment).where(Comment.body == body)) == 1
        # Committed outside the test's transaction: gone again with the site (its rows cascade), so no
        # other test finds these pending comments.
        session.execute(delete(Site).where(Site.id == site.id))
        session.commit()
    db.close_autocommit(app)
    app.extensions["modqueue.sessions"].kw["bind"].dispose()
