"""gunicorn hooks for `modqueue web`: logging in each worker, and metrics of exited workers dropped."""

from __future__ import annotations

import os


def post_worker_init(worker) -> None:
    from service.logging_setup import configure_logging
    from service.settings import Settings

    configure_logging(Settings.from_env())


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
