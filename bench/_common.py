"""Helpers shared by the benchmarks: generated comments, a BERT-base checkpoint, a scratch database."""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ("the article council budget vote reader nice idiot thanks you are an stupid point policy city "
         "school road tax people think agree disagree report story mayor").split()


def comments(n: int, seed: int = 7) -> list[str]:
    """Generated comments of 8-60 words."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 60))) for _ in range(n)]


def bert_base_checkpoint(folder: Path) -> Path:
    """A Detoxify-format checkpoint with BERT-base dimensions and random weights."""
    from tests.support.detoxify_checkpoint import BERT_BASE_DIMENSIONS, build_checkpoint

    return build_checkpoint(folder, dimensions=BERT_BASE_DIMENSIONS, words=WORDS)


def scratch_database(base_url: str) -> tuple[str, callable]:
    """Create and migrate a database of this run's own; return its URL and a function that drops it."""
    import psycopg
    from sqlalchemy import make_url

    from service.migrations import upgrade

    admin = make_url(base_url).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"modqueue_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    """--postgres-url (a server where the bench may create a database) and --redis-url (a database it may flush)."""
    parser.add_argument("--postgres-url", default=os.environ.get(
        "MODQUEUE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis-url", default=os.environ.get(
        "MODQUEUE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"))


def insert_in_chunks(session, model, rows: list[dict], size: int = 5000) -> None:
    """Bulk-insert plain rows, a few thousand per statement."""
    from sqlalchemy import insert

    for start in range(0, len(rows), size):
        session.execute(insert(model), rows[start:start + size])


@contextlib.contextmanager
def filled_database(postgres_url: str, fill, *args):
    """A scratch database filled by `fill(sessions, *args)` and analysed; yields (sessions, what fill returned)."""
    from service.db import make_engine, make_session_factory

    url, drop = scratch_database(postgres_url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        filled = fill(sessions, *args)
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        yield url, sessions, filled
    finally:
        engine.dispose()
        drop()
