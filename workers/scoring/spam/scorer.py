"""The `spam` score: signals plus the learned model, for a batch of comments at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from workers.scoring.base import ScoringInput
from workers.scoring.spam import model
from workers.scoring.spam.signals import TrafficContext, TrafficSignals, history_signals, text_signals

from service.spam.models import GLOBAL_SCOPE, site_scope


class SpamModels(Protocol):
    def for_scopes(self, scopes: list[str]) -> Mapping[str, tuple[int, model.OnlineLogit]]:
        ...


@dataclass(frozen=True)
class SpamResult:
    score: float
    signals: dict[str, float]
    # Log-odds each signal (and the wording) added; the policy lists the large ones as reasons.
    contributions: dict[str, float]
    version: str


class LearnedSpamScorer:
    backend = "spam-model"
    fallback_reason = None

    def __init__(self, traffic: TrafficSignals | None):
        self.traffic = traffic
        self.featurizer = model.Featurizer()

    def signals(self, items: Sequence[ScoringInput]) -> list[dict[str, float]]:
        rows = [
            {**text_signals(i.body, i.honeypot_filled, i.deny_domains), **history_signals(i.prior_rejected, i.prior_published)}
            for i in items
        ]
        if self.traffic is not None:
            contexts = [TrafficContext(i.site_id, i.comment_id, i.author_key, i.remote_addr, i.body, i.at) for i in items]
            for row, traffic in zip(rows, self.traffic.observe_batch(contexts)):
                row.update(traffic)
        return rows

    def score_batch(self, items: Sequence[ScoringInput], models: SpamModels) -> list[SpamResult]:
        if not items:
            return []
        signals = self.signals(items)
        rows = self.featurizer.transform([i.body for i in items], signals)
        scopes = sorted({GLOBAL_SCOPE, *(site_scope(i.site_id) for i in items)})
        loaded = models.for_scopes(scopes)
        global_version, global_model = loaded[GLOBAL_SCOPE]
        results = []
        for n, item in enumerate(items):
            site_version, site_model = loaded[site_scope(item.site_id)]
            row = rows[n]
            margin = float(model.margins(row, global_model, site_model)[0])
            results.append(SpamResult(
                score=float(model.probability(margin)),
                signals=signals[n],
                contributions=model.contributions(row, global_model, site_model),
                version=f"global.{global_version}+site.{site_version}",
            ))
        return results
