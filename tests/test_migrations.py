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
