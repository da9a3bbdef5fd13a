"""gunicorn hooks for `modqueue web`: logging in each worker, and metrics of exited workers dropped."""

from __future__ import annotations

import logging
import os
import sys

# The request line without its query string: Perspective clients send their API key as `?key=…`, and
# no secret belongs in a log.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s"'


def post_worker_init(worker) -> None:
    from service.logging_setup import configure_logging
    from service.settings import Settings

    configure_logging(Settings.from_env())
    check_database_waits()


def check_database_waits() -> str:
    """Say how psycopg waits for the database. Under gevent (`modqueue web`) it must be through gevent's
    patched `poll`: psycopg picks its wait function when first imported, and one imported before gevent
    patched the process (an app preloaded into gunicorn's master, say) keeps its C wait, which would stop
    every request of the worker while one waits on Postgres."""
    from psycopg import waiting

    name = waiting.wait.__name__
    monkey = sys.modules.get("gevent.monkey")
    patched = monkey is not None and monkey.is_module_patched("select")
    log = logging.getLogger("service.web")
    if patched and name == "wait_c":
        log.error("psycopg was imported before gevent patched this process: every database wait blocks the "
                  "worker's other requests (do not preload the app)")
    else:
        log.info("database waits: psycopg %s%s", name, " (gevent)" if patched else "")
    return name


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker) -> None:
    """A worker stopping (SIGTERM, max requests, reload) first publishes the scoring messages it holds."""
    from service.publisher import flush_all

    flush_all()
