"""The scoring task: queued comment ids are collected into batches and scored together."""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time

import redis
from celery import shared_task, signals
from celery_batches import Batches
from sqlalchemy.exc import DBAPIError

from service.events import decision_event_type, publish_events
from service.logging_setup import log_context
from service.metrics import COMMENTS_DECIDED, DECISION_LATENCY, SCORING_BATCH_SECONDS, SCORING_BATCH_SIZE
from service.scorer_status import announce_scorer_state, withdraw_scorer_state
from service.settings import Settings
from workers.base import DatabaseTask
from workers.celery_app import SCORE_TASK, ids_per_message
from workers.pipeline import hold_unscorable, score_and_decide
from workers.scoring import ScorerSet, load_scorers
from workers.scoring.spam.store import CachedSpamModels

log = logging.getLogger(__name__)

_process: dict = {}


def _worker_name(pid: int | None = None) -> str:
    return f"{socket.gethostname()}:{pid or os.getpid()}"


class ScoringTask(DatabaseTask, Batches):
    abstract = True

    @property
    def flush_every(self) -> int:
        # Messages per batch: each names up to ids_per_message comments.
        return max(1, self.settings.batch_size // ids_per_message(self.settings.batch_size))

    @property
    def flush_interval(self) -> float:
        return self.settings.batch_interval_seconds

    @property
    def redis(self) -> redis.Redis:
        if "redis" not in _process:
            _process["redis"] = redis.Redis.from_url(self.settings.redis_client_url, socket_connect_timeout=3)
        return _process["redis"]

    def load_scorers(self) -> ScorerSet:
        return self.scorers

    def load_before_forking(self) -> None:
        """Load the scorers in the worker's main process, on one torch thread: with no OpenMP thread pool
        started, the pool processes forked from it may start their own."""
        if self.settings.toxicity_model != "fallback":
            import torch

            # What each pool process sets once forked: the configured count, else torch's default.
            _process["torch_threads"] = self.settings.torch_threads or torch.get_num_threads()
        self._load(self.settings.replace(torch_threads=1), "scorers loaded before forking the pool: %s")

    @property
    def scorers(self) -> ScorerSet:
        """The model, loaded once per worker process (or inherited from the main process)."""
        if "scorers" not in _process:
            self._load(self.settings, "scorers ready: %s")
            self._announce()
        return _process["scorers"]

    def _load(self, settings: Settings, message: str) -> None:
        _process["scorers"] = load_scorers(settings, self.redis)
        _process["spam_cache"] = CachedSpamModels()
        log.info(message, _process["scorers"].toxicity.source)

    def _announce(self) -> None:
        try:
            announce_scorer_state(self.redis, _worker_name(), _process["scorers"].state())
        except redis.RedisError:
            log.warning("could not announce the scorer state")

    def _decide(self, comment_ids: list[str], scorers: ScorerSet) -> list:
        """Score and decide the batch (filled up with other pending comments). If the scorers fail, each of
        the batch's own comments is tried alone, so one comment they cannot score holds up no other; that
        one is held for a moderator. Database errors propagate (the comments stay pending for the sweeper)."""
        try:
            return self.run_in_transaction(score_and_decide, comment_ids, scorers, _process["spam_cache"],
                                           self.settings.batch_size)
        except DBAPIError:
            raise
        except Exception:
            log.exception("scoring a batch of %d failed; scoring its comments one by one", len(comment_ids))
        decisions = []
        for comment_id in comment_ids:
            try:
                decisions += self.run_in_transaction(score_and_decide, [comment_id], scorers, _process["spam_cache"])
            except DBAPIError:
                raise
            except Exception:
                log.exception("the scorers failed on this comment; holding it for a moderator",
                              extra={"comment_id": comment_id})
                if (held := self.run_in_transaction(hold_unscorable, comment_id)) is not None:
                    decisions.append(held)
        return decisions


def named_comments(requests) -> dict[str, str]:
    """Comment id → the id of the message that named it. A message names one comment id (as the sweeper
    of earlier versions sent them) or a list of them (the web's publisher and the sweeper now)."""
    task_ids: dict[str, str] = {}
    for request in requests:
        named = request.args[0] if request.args else []
        for comment_id in named if isinstance(named, list) else [named]:
            task_ids.setdefault(str(comment_id), request.id)
    return task_ids


@shared_task(base=ScoringTask, bind=True, name=SCORE_TASK)
def score_comment(self: ScoringTask, requests) -> int:
    """Score and decide the comments named by a batch of queued messages."""
    # Each queued message is a task of its own; a batch has no id, so its lines name the first and a count.
    task_ids = named_comments(requests)
    comment_ids = list(task_ids)
    batch_id = f"{requests[0].id}+{len(requests) - 1}" if requests else None
    token = log_context.set({"task_id": batch_id, "comment_ids": comment_ids})
    try:
        scorers = self.scorers
        log.info("scoring batch of %d comments", len(comment_ids))
        started = time.perf_counter()
        scorers.last_timings = {}
        size = self.settings.batch_size
        decisions = []
        for start in range(0, len(comment_ids), size):  # many messages of many ids: a transaction per batch
            decisions += self._decide(comment_ids[start:start + size], scorers)
        SCORING_BATCH_SECONDS.observe(time.perf_counter() - started)
        SCORING_BATCH_SIZE.observe(len(comment_ids))
        publish_events(self.redis, [
            (decision_event_type(d.status), {"id": d.comment_id, "site": d.site_key, "status": d.status})
            for d in decisions])
        for decision in decisions:
            COMMENTS_DECIDED.labels(decision.site_key, decision.status, "policy").inc()
            DECISION_LATENCY.observe(decision.waited_seconds)
            log.info("decided %s", decision.status,
                     extra={"comment_id": decision.comment_id, "task_id": task_ids.get(decision.comment_id)})
        timings = scorers.last_timings
        log.info("batch of %d messages: %d comments decided in %.0f ms (toxicity %.0f ms, spam %.0f ms)",
                 len(requests), len(decisions), (time.perf_counter() - started) * 1000,
                 timings.get("toxicity_ms", 0), timings.get("spam_ms", 0))
        return len(decisions)
    finally:
        log_context.reset(token)


def _keep_announcing(task: ScoringTask, stop: threading.Event) -> None:
    while not stop.wait(60):
        task._announce()


@signals.worker_before_create_process.connect
def _load_model_before_forking(**_kwargs) -> None:
    """A prefork worker loads the model once, in its main process, before it forks its first pool process:
    the pool processes (and any that replace them) start with it loaded, all in the precision chosen once,
    and share its memory, which inference only reads (copy-on-write; about 0.45 GiB of BERT-base in int8
    held once instead of once per process)."""
    if "scorers" in _process:
        return
    score_comment._get_current_object().load_before_forking()
    gc.collect()
    gc.freeze()  # the collector then leaves the loaded objects alone, so it does not copy their pages


@signals.worker_process_init.connect
def _load_model_in_child(**_kwargs) -> None:
    """Ready the model as the pool process starts, so the first batch does not wait for it: the one the
    main process loaded, on this process's share of threads, or else (another pool) a load of its own."""
    task = score_comment._get_current_object()
    if "scorers" in _process:
        if "torch_threads" in _process:
            import torch

            torch.set_num_threads(_process["torch_threads"])
        log.info("scorers ready: %s", _process["scorers"].toxicity.source)
        task._announce()
    else:
        task.load_scorers()
    stop = threading.Event()
    _process["stop"] = stop
    threading.Thread(target=_keep_announcing, args=(task, stop), daemon=True).start()


@signals.worker_process_shutdown.connect
def _withdraw(pid=None, **_kwargs) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
    if "stop" in _process:
        _process["stop"].set()
    if "scorers" in _process:
        try:
            withdraw_scorer_state(score_comment._get_current_object().redis, _worker_name(pid))
        except redis.RedisError:
            pass
