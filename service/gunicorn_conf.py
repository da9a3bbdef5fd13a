"""gunicorn hooks for `modqueue web`: logging in each worker, and metrics of exited workers dropped."""

from __future__ import annotations

import os

# The request line without its query string: Perspective clients send their API key as `?key=…`, and
# no secret belongs in a log.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s"'


def post_worker_init(worker) -> None:
    from service.logging_setup import configure_logging
    from service.settings import Settings

    configure_logging(Settings.from_env())


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker) -> None:
    """A worker stopping (SIGTERM, max requests, reload) first publishes the scoring messages it holds."""
    from service.publisher import flush_all

    flush_all()
