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


def item_signals(item: ScoringInput) -> dict[str, float]:
    """The signals of the text and the author's history (traffic signals need Redis: the scorer adds them)."""
    return {**text_signals(item.body, item.honeypot_filled, item.deny_domains),
            **history_signals(item.prior_rejected, item.prior_published)}


class LearnedSpamScorer:
    backend = "spam-model"
    fallback_reason = None

    def __init__(self, traffic: TrafficSignals | None):
        self.traffic = traffic
        self.featurizer = model.Featurizer()

    def signals(self, items: Sequence[ScoringInput]) -> list[dict[str, float]]:
        rows = [item_signals(i) for i in items]
        observed = [n for n, i in enumerate(items) if i.observe_traffic]
        if self.traffic is not None and observed:
            contexts = [TrafficContext(i.site_id, i.comment_id, i.author_key, i.remote_addr, i.body, i.at)
                        for i in (items[n] for n in observed)]
            for n, traffic in zip(observed, self.traffic.observe_batch(contexts), strict=True):
                rows[n].update(traffic)
        return rows

    def score_batch(self, items: Sequence[ScoringInput], models: SpamModels) -> list[SpamResult]:
        if not items:
            return []
        signals = self.signals(items)
        rows = self.featurizer.transform([i.body for i in items], signals)
        scopes = sorted({GLOBAL_SCOPE, *(site_scope(i.site_id) for i in items)})
        loaded = models.for_scopes(scopes)
        global_version, global_model = loaded[GLOBAL_SCOPE]
        weights = {scope: model.combined_weights(global_model, site_model)
                   for scope, (_version, site_model) in loaded.items() if scope != GLOBAL_SCOPE}
        results = []
        for n, item in enumerate(items):
            scope = site_scope(item.site_id)
            row = rows[n]
            margin = float((row @ weights[scope])[0])
            results.append(SpamResult(
                score=float(model.probability(margin)),
                signals=signals[n],
                contributions=model.contributions(row, weights[scope]),
                version=f"global.{global_version}+site.{loaded[scope][0]}",
            ))
        return results
