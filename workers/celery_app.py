"""Build the Celery app from settings; imported by the worker entry module and by the web's task sender."""

from __future__ import annotations

import logging
import os

from celery import Celery, signals
from kombu import Exchange, Queue

from service.logging_setup import configure_logging
from service.settings import Settings

SCORE_TASK = "modqueue.score_comment"
SWEEP_TASK = "modqueue.sweep_pending"
LEARN_TASK = "modqueue.learn_spam_label"
ANALYZE_TASK = "modqueue.analyze_texts"
LEARN_TEXT_TASK = "modqueue.learn_spam_text"
DEFAULT_QUEUE = "celery"
# Synchronous calls (Perspective, Akismet, Coral) wait on this queue, never behind queued comments.
ANALYSIS_QUEUE = "modqueue.analysis"


#: A scoring message names up to this many comments; a worker takes batch_size // this many messages
#: per batch, so a batch still names at most batch_size comments (and is filled up from the database).
#: Each message costs the web process a Celery send_task (about 0.3 ms of CPU): with 8 ids a message, the
#: publishing took 8% of the posts per second that 32 allow (bench/ingest_ab.py, machine I).
MAX_IDS_PER_MESSAGE = 32


def ids_per_message(batch_size: int) -> int:
    return max(1, min(MAX_IDS_PER_MESSAGE, batch_size))


def send_scoring(app: Celery, comment_ids: list[str], batch_size: int) -> None:
    """Queue comments for scoring, a few ids per message, all the messages in one round trip to Redis
    (kombu's producer batch). Raises if the broker cannot be reached."""
    per_message = ids_per_message(batch_size)
    with app.producer_or_acquire() as producer, producer.batch():
        for start in range(0, len(comment_ids), per_message):
            # No result, no per-message queue declaration (the workers declare the queues; the message goes
            # straight to the queue's list), no retry loop (the caller retries the whole batch).
            app.send_task(SCORE_TASK, args=[comment_ids[start:start + per_message]], producer=producer,
                          ignore_result=True, declare=[], retry=False)


def create_celery(settings: Settings | None = None) -> Celery:
    """A Celery app speaking JSON only, acknowledging late, with the sweeper on its beat schedule."""
    settings = settings or Settings.from_env()
    app = Celery("modqueue", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        # A task is acknowledged after it ran; if its worker dies it goes back to the queue.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Batches collect up to batch_size messages, so the worker must be allowed to hold that many.
        worker_prefetch_multiplier=max(4, settings.batch_size * 2),
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_seconds,
            # Look for messages whose worker died (unacked past the visibility timeout) every few
            # seconds rather than kombu's default of about 100 s.
            "unacked_restore_interval": max(1, min(10, settings.visibility_timeout_seconds // 3)),
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 3,
        },
        # Every worker consumes both queues unless started with --queues.
        task_queues=(
            Queue(DEFAULT_QUEUE, Exchange(DEFAULT_QUEUE), routing_key=DEFAULT_QUEUE),
            Queue(ANALYSIS_QUEUE, Exchange(ANALYSIS_QUEUE), routing_key=ANALYSIS_QUEUE),
        ),
        task_default_queue=DEFAULT_QUEUE,
        task_routes={ANALYZE_TASK: {"queue": ANALYSIS_QUEUE}},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        beat_schedule={
            "sweep-pending-comments": {"task": SWEEP_TASK, "schedule": settings.sweep_interval_seconds},
        },
        include=["workers.tasks.scoring", "workers.tasks.sweeper", "workers.tasks.learning", "workers.tasks.analysis"],
    )
    app.conf.modqueue_settings = settings
    return app


@signals.setup_logging.connect
def _configure_worker_logging(loglevel=None, **_kwargs) -> None:
    """Workers log like the web processes: JSON or text, with comment and task ids."""
    level = loglevel if isinstance(loglevel, int) else logging.getLevelName(loglevel or "INFO")
    configure_logging(Settings.from_env(), level if isinstance(level, int) else logging.INFO)


@signals.worker_ready.connect
def _serve_worker_metrics(sender=None, **_kwargs) -> None:
    """The worker's main process serves the pool's metrics (summed over its processes)."""
    settings = sender.app.conf.modqueue_settings if sender is not None else Settings.from_env()
    if not settings.worker_metrics_port or not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(settings.worker_metrics_port, registry=registry)
