"""Synchronous scoring for the compatibility APIs: batched like comments, answered through Redis."""

from __future__ import annotations

import json
import logging
import time

from celery import shared_task

from service.metrics import ANALYSIS_BATCH_SIZE
from workers.base import DatabaseTask
from workers.celery_app import ANALYZE_TASK, LEARN_TEXT_TASK
from workers.pipeline import SessionSpamModels
from workers.scoring.base import ScoringInput
from workers.scoring.spam.learning import learn_from_text
from workers.scoring.spam.model import Featurizer
from workers.tasks.scoring import ScoringTask, _process

log = logging.getLogger(__name__)

REPLY_TTL_SECONDS = 30


class AnalysisTask(ScoringTask):
    abstract = True

    @property
    def flush_every(self) -> int:
        # A message carries one request's text: a batch takes up to batch_size of them (or those that came
        # within the interval), not the comment messages' count.
        return max(1, self.settings.batch_size)

    @property
    def flush_interval(self) -> float:
        return self.settings.analysis_batch_interval_seconds


def _spam_input(site_id: int, text: str, context: dict, key: str, at: float) -> ScoringInput:
    return ScoringInput(
        body=text + ("\n" + context["extra_text"] if context.get("extra_text") else ""),
        honeypot_filled=bool(context.get("honeypot_filled")),
        site_id=site_id,
        comment_id=key,
        author_key=context.get("author_key") or key,
        remote_addr=context.get("remote_addr"),
        at=at,
        # No history is known for these authors: neither "new" nor "rejected before".
        prior_rejected=0,
        prior_published=1,
        deny_domains=frozenset(context.get("deny_domains") or ()),
        observe_traffic=bool(context.get("observe_traffic")),
    )


def _score_spam(task: AnalysisTask, live: list[tuple[str, dict]], now: float) -> dict[str, dict]:
    """Spam scores for the requests that asked; traffic windows count only the ones marked as comments."""
    asked = [(key, _spam_input(request["site_id"], request["texts"][0], request["spam"], key, now))
             for key, request in live if request.get("spam") is not None]
    if not asked:
        return {}

    def work(session):
        models = SessionSpamModels(session, _process["spam_cache"])
        results = task.scorers.spam.score_batch([item for _, item in asked], models)
        return {key: {"score": r.score, "signals": r.signals, "contributions": r.contributions, "version": r.version}
                for (key, _), r in zip(asked, results, strict=True)}

    return task.run_in_transaction(work)


@shared_task(base=AnalysisTask, bind=True, name=ANALYZE_TASK)
def analyze_texts(self: AnalysisTask, requests) -> int:
    """Score every waiting request of the batch in one model call and push each answer to its reply key."""
    now = time.time()
    live = [(r.args[0], r.args[2]) for r in requests if r.args and len(r.args) == 3 and r.args[1] >= now]
    if len(live) < len(requests):
        log.info("dropped %d analysis requests past their deadline", len(requests) - len(live))
    if not live:
        return 0
    scorers = self.scorers
    texts = [text for _, request in live for text in (request["texts"] if request.get("toxicity", True) else [])]
    toxicity = scorers.toxicity.score_batch([ScoringInput(body=t) for t in texts]) if texts else []
    spam = _score_spam(self, live, now)
    labels = sorted(toxicity[0]) if toxicity else []
    pipe = self.redis.pipeline(transaction=False)
    offset = 0
    for key, request in live:
        count = len(request["texts"]) if request.get("toxicity", True) else 0
        sources = {"toxicity": scorers.toxicity.source}
        if key in spam:
            sources["spam"] = f"{scorers.spam.backend}/{spam[key]['version']}"
        answer = {"toxicity": toxicity[offset:offset + count], "labels": labels, "spam": spam.get(key),
                  "sources": sources, "batch_size": len(live)}
        offset += count
        pipe.rpush(key, json.dumps(answer))
        pipe.expire(key, REPLY_TTL_SECONDS)
    pipe.execute()
    ANALYSIS_BATCH_SIZE.observe(len(live))
    log.info("analysis batch: %d requests, %d texts", len(live), len(texts))
    return len(live)


_featurizer: list[Featurizer] = []


@shared_task(base=DatabaseTask, bind=True, name=LEARN_TEXT_TASK)
def learn_spam_text(self: DatabaseTask, site_id: int, text: str, is_spam: bool, source: str, context: dict) -> bool:
    """Teach the site's spam model a text labelled through Akismet's submit-spam/ham or Perspective."""
    if not _featurizer:
        _featurizer.append(Featurizer())
    item = _spam_input(site_id, text, context, "", time.time())
    learned = self.run_in_transaction(learn_from_text, site_id, item, bool(is_spam), source, _featurizer[0])
    log.info("spam model %s from %s label (%s)", "updated" if learned else "unchanged",
             "spam" if is_spam else "ham", source)
    return learned
