"""The offline toxicity scorer used when Detoxify cannot load: alt-profanity-check's linear model.

It knows offensive language only, so it produces `toxicity` and nothing else.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Sequence

from workers.scoring.base import ScoringInput


class ProfanityCheckScorer:
    backend = "fallback"

    def __init__(self, reason: str | None = None):
        from profanity_check import predict_prob

        self._predict_prob = predict_prob
        self.model_version = f"alt-profanity-check@{version('alt-profanity-check')}"
        self.fallback_reason = reason

    @property
    def source(self) -> str:
        return f"{self.backend}/{self.model_version}"

    def score_batch(self, items: Sequence[ScoringInput]) -> list[dict[str, float]]:
        if not items:
            return []
        probabilities = self._predict_prob([item.body for item in items])
        return [{"toxicity": float(p)} for p in probabilities]
