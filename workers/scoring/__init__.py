"""Choose the scorers a worker process runs, once per process."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from service.settings import Settings
from workers.scoring.base import Scorer, ScoringInput

log = logging.getLogger(__name__)


@dataclass
class ScorerSet:
    toxicity: Scorer
    spam: Scorer

    def score(self, items: Sequence[ScoringInput]) -> list[tuple[dict[str, float], dict[str, str]]]:
        """Scores and, per score, the backend that produced it; one model call per scorer."""
        toxicity = self.toxicity.score_batch(items)
        spam = self.spam.score_batch(items)
        results = []
        for tox, sp in zip(toxicity, spam):
            sources = {name: self.toxicity.source for name in tox} | {name: self.spam.source for name in sp}
            results.append(({**tox, **sp}, sources))
        return results

    def state(self) -> dict:
        return {
            "backend": self.toxicity.backend,
            "model": self.toxicity.model_version,
            "fallback_reason": self.toxicity.fallback_reason,
        }


def load_toxicity_scorer(settings: Settings) -> Scorer:
    """Detoxify as configured; if it cannot load, the offline fallback, announced loudly."""
    from workers.scoring.fallback import ProfanityCheckScorer

    if settings.toxicity_model == "fallback":
        return ProfanityCheckScorer(reason="MODQUEUE_TOXICITY_MODEL=fallback")
    try:
        from workers.scoring.detoxify_backend import DetoxifyScorer

        scorer = DetoxifyScorer(settings.toxicity_model, settings.detoxify_checkpoint, settings.torch_threads)
        log.info("toxicity scorer loaded: %s", scorer.source)
        return scorer
    except Exception as exc:  # no network, missing or corrupt checkpoint, missing tokenizer files
        reason = f"Detoxify '{settings.toxicity_model}' could not load: {type(exc).__name__}: {exc}"
        log.error("FALLING BACK to the offline profanity scorer. %s", reason)
        return ProfanityCheckScorer(reason=reason[:500])


def load_scorers(settings: Settings) -> ScorerSet:
    from workers.scoring.spam import SignalSpamScorer

    return ScorerSet(toxicity=load_toxicity_scorer(settings), spam=SignalSpamScorer())
