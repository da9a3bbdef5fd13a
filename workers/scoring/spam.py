"""A first spam score from local signals; the honeypot alone is decisive."""

from __future__ import annotations

import re
from typing import Sequence

from workers.scoring.base import ScoringInput

_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)


class SignalSpamScorer:
    backend = "signals"
    model_version = "1"
    fallback_reason = None

    @property
    def source(self) -> str:
        return f"{self.backend}/{self.model_version}"

    def score_one(self, item: ScoringInput) -> float:
        if item.honeypot_filled:
            return 1.0
        links = len(_LINK.findall(item.body))
        return min(0.9, 0.3 * links)

    def score_batch(self, items: Sequence[ScoringInput]) -> list[dict[str, float]]:
        return [{"spam": self.score_one(item)} for item in items]
