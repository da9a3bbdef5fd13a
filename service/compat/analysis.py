"""Ask the workers to score text and wait for the answer: the web process never loads a model.

The request goes to the workers' analysis queue as a Celery message naming a Redis reply key and a
deadline; a worker collects such messages into one batch, scores them in one model call and pushes each
answer to its reply key, where the web process waits on BLPOP until the deadline.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass

import redis
from flask import current_app

from service.extensions import task_queue
from workers.celery_app import ANALYSIS_QUEUE, ANALYZE_TASK

log = logging.getLogger(__name__)

REPLY_PREFIX = "modqueue:analysis:reply:"


class AnalysisUnavailable(Exception):
    """The queue could not be reached: nothing was asked."""


class AnalysisTimeout(Exception):
    """No worker answered before the deadline."""


@dataclass(frozen=True)
class SpamContext:
    """What a spam check knows beyond the text (Akismet and Coral send some of it)."""

    author_key: str = ""
    remote_addr: str | None = None
    honeypot_filled: bool = False
    # Extra text the spam signals look at but the toxicity model does not (e.g. the author's URL).
    extra_text: str = ""
    # Count this text in the site's traffic windows (velocity, copies): real comments only.
    observe_traffic: bool = False
    deny_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnalysisRequest:
    site_id: int
    # texts[0] is the whole text; more entries are spans of it scored separately.
    texts: list[str]
    toxicity: bool = True
    spam: SpamContext | None = None


@dataclass
class AnalysisResult:
    toxicity: list[dict[str, float]]
    labels: list[str]
    spam: dict | None
    sources: dict[str, str]
    batch_size: int


def _blocking_client() -> redis.Redis:
    """A client for BLPOP, whose socket timeout outlasts the longest wait."""
    client = current_app.extensions.get("modqueue.redis_blocking")
    if client is None:
        settings = current_app.config["MODQUEUE_SETTINGS"]
        client = redis.Redis.from_url(settings.redis_client_url, socket_connect_timeout=2,
                                      socket_timeout=settings.analysis_timeout_seconds + 5)
        current_app.extensions["modqueue.redis_blocking"] = client
    return client


def analyze(request: AnalysisRequest, timeout: float | None = None) -> AnalysisResult:
    """Score `request` on a worker; raise AnalysisUnavailable or AnalysisTimeout when that cannot happen."""
    settings = current_app.config["MODQUEUE_SETTINGS"]
    timeout = settings.analysis_timeout_seconds if timeout is None else timeout
    reply_key = REPLY_PREFIX + uuid.uuid4().hex
    deadline = time.time() + timeout
    try:
        # A short retry policy fails fast when Redis is down (retry=False makes kombu wait about 6 s).
        task_queue.celery.send_task(ANALYZE_TASK, args=[reply_key, deadline, asdict(request)], queue=ANALYSIS_QUEUE,
                                    retry=True, retry_policy={"max_retries": 1, "interval_start": 0,
                                                              "interval_step": 0.1, "interval_max": 0.1})
    except Exception as exc:
        log.warning("analysis queue unavailable: %s", exc)
        raise AnalysisUnavailable(str(exc)) from exc
    client = _blocking_client()
    try:
        answer = client.blpop([reply_key], timeout=max(0.01, timeout))
    except redis.RedisError as exc:
        raise AnalysisUnavailable(str(exc)) from exc
    finally:
        try:
            client.delete(reply_key)
        except redis.RedisError:
            pass
    if answer is None:
        raise AnalysisTimeout(f"no worker answered within {timeout:g} s")
    data = json.loads(answer[1])
    return AnalysisResult(
        toxicity=data["toxicity"], labels=data["labels"], spam=data.get("spam"), sources=data["sources"],
        batch_size=data["batch_size"],
    )


def enqueue_text_label(site_id: int, text: str, is_spam: bool, source: str, spam: SpamContext) -> bool:
    """Teach the site's spam model one labelled text (learned once per text and label)."""
    return task_queue.enqueue_text_learning(site_id, text, is_spam, source, asdict(spam))
