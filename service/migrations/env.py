from alembic import context

from service.db import Base, import_models, make_engine

import_models()
config = context.config


def run_migrations_online() -> None:
    url = config.attributes["database_url"]
    engine = make_engine(url)
    with engine.connect() as connection:
        if url.startswith("sqlite"):
            # Batch mode rebuilds a table by dropping it; with foreign keys on, the drop would cascade
            # and delete the rows that point at it. The pragma only takes effect outside a transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            # SQLite alters tables by copying them; Alembic's batch mode does that.
            render_as_batch=url.startswith("sqlite"),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
