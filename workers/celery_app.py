"""Build the Celery app from settings; imported by the worker entry module and by the web's task sender."""

from __future__ import annotations

from celery import Celery

from service.settings import Settings

SCORE_TASK = "modqueue.score_comment"
SWEEP_TASK = "modqueue.sweep_pending"
LEARN_TASK = "modqueue.learn_spam_label"


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
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        beat_schedule={
            "sweep-pending-comments": {"task": SWEEP_TASK, "schedule": settings.sweep_interval_seconds},
        },
        include=["workers.tasks.scoring", "workers.tasks.sweeper", "workers.tasks.learning"],
    )
    app.conf.modqueue_settings = settings
    return app
