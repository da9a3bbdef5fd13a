"""Evaluate the spam scorer on labelled comments, as moderators would teach it.

    python bench/spam_eval.py --data ../shared/data/youtube-spam

Each CSV file (COMMENT_ID, AUTHOR, DATE, CONTENT, label) is treated as one site. Two evaluations:

- prequential: all comments in time order; each is scored first, then its label is revealed to the
  model as a moderator's decision (what a live site sees, cold start included);
- leave-one-file-out: the model learns from three files, then scores the fourth, a site it has never
  seen, without learning from it.

The scorer is the worker's (`LearnedSpamScorer`: text signals, traffic signals in Redis, the online model
with its global prior and per-site part); only the model states live in memory instead of the database.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import redis
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.moderation.policy import DEFAULT_THRESHOLDS  # noqa: E402
from service.spam.models import GLOBAL_SCOPE, site_scope  # noqa: E402
from workers.scoring.base import ScoringInput  # noqa: E402
from workers.scoring.spam import model  # noqa: E402
from workers.scoring.spam.scorer import LearnedSpamScorer  # noqa: E402
from workers.scoring.spam.signals import TrafficSignals  # noqa: E402


@dataclass(frozen=True)
class Labelled:
    site_id: int
    comment_id: str
    author: str
    body: str
    at: float
    is_spam: bool


def load(folder: Path) -> list[Labelled]:
    """Every file's comments; a comment without a date takes its file's previous one (file order kept)."""
    rows = []
    for site_id, path in enumerate(sorted(folder.glob("*.csv")), start=1):
        last = 0.0
        with open(path, encoding="utf-8", newline="") as handle:
            for order, record in enumerate(csv.DictReader(handle)):
                try:
                    last = datetime.fromisoformat(record["DATE"].strip()[:19]).timestamp()
                except ValueError:
                    pass
                rows.append((last, site_id, order, Labelled(site_id, record["COMMENT_ID"], record["AUTHOR"],
                                                          record["CONTENT"], last, record["label"].strip() == "1")))
    return [row for *_key, row in sorted(rows, key=lambda r: r[:3])]


class MemoryModels:
    """The model states of a run, held in memory (the worker keeps them in the database)."""

    def __init__(self) -> None:
        self.states = {GLOBAL_SCOPE: model.OnlineLogit.with_priors()}

    def state(self, scope: str) -> model.OnlineLogit:
        return self.states.setdefault(scope, model.OnlineLogit.empty())

    def for_scopes(self, scopes):
        return {scope: (0, self.state(scope)) for scope in scopes}

    def learn(self, featurizer: model.Featurizer, item: Labelled, signals: dict) -> None:
        row = featurizer.transform([item.body], [signals])
        model.learn(row, item.is_spam, self.state(GLOBAL_SCOPE), self.state(site_scope(item.site_id)))


def score(scorer: LearnedSpamScorer, models: MemoryModels, item: Labelled):
    scoring_input = ScoringInput(body=item.body, site_id=item.site_id, comment_id=item.comment_id,
                                 author_key=f"name:{item.author.lower()}", at=item.at)
    return scorer.score_batch([scoring_input], models)[0]


def stream(scorer, models, items, learn: bool) -> list[float]:
    scores = []
    for item in items:
        result = score(scorer, models, item)
        scores.append(result.score)
        if learn:
            models.learn(scorer.featurizer, item, result.signals)
    return scores


def figures(labels: list[bool], scores: list[float], threshold: float) -> dict:
    predicted = [s >= threshold for s in scores]
    return {
        "auc": round(roc_auc_score(labels, scores), 4),
        "f1": round(f1_score(labels, predicted, zero_division=0), 4),
        "precision": round(precision_score(labels, predicted, zero_division=0), 4),
        "recall": round(recall_score(labels, predicted, zero_division=0), 4),
    }


def fresh_traffic(url: str | None) -> TrafficSignals | None:
    if url is None:
        return None
    client = redis.Redis.from_url(url)
    client.flushdb()
    return TrafficSignals(client, prefix="bench:spam")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder of labelled CSV files")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10",
                        help="a Redis database this run may flush (traffic signals)")
    parser.add_argument("--no-traffic", action="store_true", help="leave out the Redis traffic signals")
    args = parser.parse_args()
    redis_url = None if args.no_traffic else args.redis_url
    items = load(args.data)
    reject_at = DEFAULT_THRESHOLDS["spam"].reject_at
    review_at = DEFAULT_THRESHOLDS["spam"].review_at
    labels = [i.is_spam for i in items]
    print(f"{len(items)} comments, {sum(labels)} spam, {len({i.site_id for i in items})} sites")

    scores = stream(LearnedSpamScorer(fresh_traffic(redis_url)), MemoryModels(), items, learn=True)
    prequential = {"reject_at": figures(labels, scores, reject_at), "review_at": figures(labels, scores, review_at)}
    per_site = {}
    for site_id in sorted({i.site_id for i in items}):
        picked = [(lab, s) for lab, s, i in zip(labels, scores, items) if i.site_id == site_id]
        per_site[site_id] = round(roc_auc_score([p[0] for p in picked], [p[1] for p in picked]), 4)
    print(f"prequential: AUC {prequential['reject_at']['auc']}  per site {per_site}")
    for name, threshold in (("reject_at", reject_at), ("review_at", review_at)):
        f = prequential[name]
        print(f"  at {name} {threshold}: F1 {f['f1']}  precision {f['precision']}  recall {f['recall']}")

    held_out = {}
    for site_id in sorted({i.site_id for i in items}):
        scorer, models = LearnedSpamScorer(fresh_traffic(redis_url)), MemoryModels()
        stream(scorer, models, [i for i in items if i.site_id != site_id], learn=True)
        test = [i for i in items if i.site_id == site_id]
        test_scores = stream(scorer, models, test, learn=False)
        held_out[site_id] = figures([i.is_spam for i in test], test_scores, review_at)
        print(f"leave-one-file-out, site {site_id} unseen: AUC {held_out[site_id]['auc']}  "
              f"F1@review_at {held_out[site_id]['f1']}")
    lofo_auc = round(float(np.mean([h["auc"] for h in held_out.values()])), 4)
    print(f"leave-one-file-out mean AUC {lofo_auc}")
    print(json.dumps({
        "prequential_auc": prequential["reject_at"]["auc"],
        "f1": prequential["reject_at"]["f1"],
        "precision": prequential["reject_at"]["precision"],
        "recall": prequential["reject_at"]["recall"],
        "reject_at": reject_at,
        "review_at_f1": prequential["review_at"]["f1"],
        "review_at_precision": prequential["review_at"]["precision"],
        "review_at_recall": prequential["review_at"]["recall"],
        "per_site_prequential_auc": per_site,
        "leave_one_file_out_auc": {k: v["auc"] for k, v in held_out.items()},
        "leave_one_file_out_mean_auc": lofo_auc,
        "traffic_signals": redis_url is not None,
        "comments": len(items),
    }))


if __name__ == "__main__":
    main()
