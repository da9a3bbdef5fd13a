"""Choose the scorers a worker process runs, once per process."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Sequence

import redis

from service.settings import Settings
from workers.scoring.base import ScoringInput, ToxicityScorer
from workers.scoring.spam.scorer import LearnedSpamScorer, SpamModels

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreResult:
    scores: dict[str, float]
    # Which backend produced each score, e.g. {"toxicity": "detoxify/original@…", "spam": "spam-model/…"}.
    sources: dict[str, str]
    signals: dict[str, float]
    spam_contributions: dict[str, float]


@dataclass
class ScorerSet:
    toxicity: ToxicityScorer
    spam: LearnedSpamScorer
    #: How long the last batch took in each scorer (for the worker's log).
    last_timings: dict[str, float] = field(default_factory=dict)

    def score(self, items: Sequence[ScoringInput], spam_models: SpamModels) -> list[ScoreResult]:
        """All scores for a batch: one toxicity model call and one spam model pass."""
        started = time.perf_counter()
        toxicity = self.toxicity.score_batch(items)
        scored = time.perf_counter()
        spam = self.spam.score_batch(items, spam_models)
        self.last_timings = {"toxicity_ms": (scored - started) * 1000, "spam_ms": (time.perf_counter() - scored) * 1000}
        results = []
        for tox, sp in zip(toxicity, spam, strict=True):
            sources = {name: self.toxicity.source for name in tox}
            sources["spam"] = f"{self.spam.backend}/{sp.version}"
            results.append(ScoreResult({**tox, "spam": sp.score}, sources, sp.signals, sp.contributions))
        return results

    def state(self) -> dict:
        return {
            "backend": self.toxicity.backend,
            "model": self.toxicity.model_version,
            "fallback_reason": self.toxicity.fallback_reason,
            # Below fp32 (bf16, int8): the largest score difference from fp32 measured on load.
            "fp32_difference": getattr(self.toxicity, "fp32_difference", None),
            # Where `auto` timed two precisions on load (bf16 and int8, or fp32 and int8): each one's probe
            # pass in milliseconds.
            "precision_timings_ms": getattr(self.toxicity, "precision_timings", None),
        }


def load_toxicity_scorer(settings: Settings) -> ToxicityScorer:
    """Detoxify as configured; if it cannot load, the offline fallback, announced loudly."""
    from workers.scoring.fallback import ProfanityCheckScorer

    if settings.toxicity_model == "fallback":
        return ProfanityCheckScorer(reason="MODQUEUE_TOXICITY_MODEL=fallback")
    try:
        from workers.scoring.detoxify_backend import DetoxifyScorer

        scorer = DetoxifyScorer(settings.toxicity_model, settings.detoxify_checkpoint, settings.torch_threads,
                                precision=settings.torch_precision, device=settings.torch_device)
        log.info("toxicity scorer loaded: %s", scorer.source)
        return scorer
    except Exception as exc:  # no network, missing or corrupt checkpoint, missing tokenizer files
        reason = f"Detoxify '{settings.toxicity_model}' could not load: {type(exc).__name__}: {exc}"
        log.error("FALLING BACK to the offline profanity scorer. %s", reason)
        return ProfanityCheckScorer(reason=reason[:500])


def load_scorers(settings: Settings, redis_client: redis.Redis | None) -> ScorerSet:
    from workers.scoring.spam.signals import TrafficSignals

    traffic = TrafficSignals(redis_client) if redis_client is not None else None
    return ScorerSet(toxicity=load_toxicity_scorer(settings), spam=LearnedSpamScorer(traffic))
