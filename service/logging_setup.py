"""Logging: JSON lines in production, readable text in development, with the comment and task ids."""

from __future__ import annotations

import contextvars
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from service.settings import Settings

#: Set by a task or request while it works on comments, so every line it logs names them.
log_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar("modqueue_log_context", default=None)


class ContextFilter(logging.Filter):
    """Adds `comment_id` and `task_id` to every record (from `extra=` or the current context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = log_context.get() or {}
        if not getattr(record, "comment_id", None):
            record.comment_id = context.get("comment_id") or ",".join(context.get("comment_ids", ())) or None
        if not getattr(record, "task_id", None):
            record.task_id = context.get("task_id") or _celery_task_id()
        return True


def _celery_task_id() -> str | None:
    try:
        from celery import current_task
    except ImportError:
        return None
    request = getattr(current_task, "request", None) if current_task else None
    return getattr(request, "id", None)


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Send the root logger's records to stderr in the configured format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s %(comment_id)s %(task_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        ))
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)-7s %(name)s [comment=%(comment_id)s task=%(task_id)s] %(message)s"
        ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
