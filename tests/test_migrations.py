"""Migrations and models agree, on Postgres and on SQLite."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.db import Base, import_models, make_engine
from service.migrations import upgrade


def schema_differences(engine) -> list:
    import_models()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_postgres_schema_from_migrations_matches_the_models(engine):
    assert schema_differences(engine) == []


def test_sqlite_schema_from_migrations_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_upgrade_from_0001_backfills_author_keys_of_existing_comments(tmp_path):
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, name, public_key, created_at) VALUES (1, 's', 'k', '2026-01-01')"))
        conn.execute(text("INSERT INTO articles (id, site_id, external_id, created_at) VALUES (1, 1, 'a', '2026-01-01')"))
        for cid, email in (("c1", "Ada@Example.org"), ("c2", None)):
            conn.execute(text(
                "INSERT INTO comments (id, site_id, article_id, author_name, author_email, body, status, "
                "honeypot_filled, created_at, queued_at, reasons) "
                "VALUES (:id, 1, 1, 'Ada L', :email, 'hi', 'pending', 0, '2026-01-01', '2026-01-01', '[]')"
            ), {"id": cid, "email": email})
    upgrade(url)
    with engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT id, author_key FROM comments")).all())
    engine.dispose()
    assert keys == {"c1": "email:ada@example.org", "c2": "name:ada l"}
