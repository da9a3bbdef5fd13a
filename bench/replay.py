"""Replay a candidate policy over 100,000 past comments of a site.

    python bench/replay.py [--comments 100000]

Fills a scratch Postgres database with decided comments (seven toxicity scores and spam each, a tenth of
them decided by a moderator), then times loading the history and replaying a candidate policy (lower
review thresholds) against the current one. The last line is a JSON object of the figures; the target is
the replay under 1 s.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta

import numpy as np
from _common import add_service_arguments, filled_database, insert_in_chunks

from service.accounts.operations import create_user
from service.audit.models import StatusChange
from service.comments.models import Article, Comment
from service.db import utcnow
from service.ids import new_id
from service.moderation.policy import DEFAULT_THRESHOLDS, SCORE_ATTRIBUTES, PolicyRules, Threshold
from service.moderation.replay import load_history, replay
from service.sites.operations import create_site, current_policy


def fill(sessions, count: int) -> int:
    rng = np.random.default_rng(5)
    with sessions.begin() as session:
        site = create_site(session, "replay bench", ["https://bench.example"])
        policy = current_policy(session, site.id)
        create_user(session, "replay-bench@example.org", "long enough password", "admin")
        article = Article(site_id=site.id, external_id="story")
        session.add(article)
        session.flush()
        values = rng.beta(0.6, 4.0, size=(count, len(SCORE_ATTRIBUTES)))
        now = utcnow()
        comments, changes = [], []
        for n in range(count):
            scores = {name: round(float(values[n, j]), 4) for j, name in enumerate(SCORE_ATTRIBUTES)}
            comment_id = new_id()
            comments.append({
                "id": comment_id, "site_id": site.id, "article_id": article.id, "author_name": "a",
                "author_key": "name:a", "body": "x", "status": "published", "honeypot_filled": False,
                "created_at": now - timedelta(seconds=count - n), "queued_at": now, "policy_id": policy.id,
                "scores": scores, "max_score": max(scores.values()), "reasons": [],
            })
            if n % 10 == 0:
                to_status = "rejected" if scores["toxicity"] > 0.3 else "published"
                changes.append({"comment_id": comment_id, "actor": "replay-bench@example.org",
                                "from_status": "flagged", "to_status": to_status, "reasons": [],
                                "created_at": now})
        insert_in_chunks(session, Comment, comments)
        insert_in_chunks(session, StatusChange, changes)
        return site.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=100_000)
    add_service_arguments(parser)
    args = parser.parse_args()
    with filled_database(args.postgres_url, fill, args.comments) as (_url, sessions, site_id):
        candidate = PolicyRules(thresholds={**DEFAULT_THRESHOLDS, "toxicity": Threshold(0.5, None),
                                            "insult": Threshold(0.6, None)})
        with sessions() as session:
            started = time.perf_counter()
            history = load_history(session, site_id)
            loaded = time.perf_counter() - started
        started = time.perf_counter()
        result = replay(candidate, PolicyRules(), history)
        replayed = time.perf_counter() - started
    print(f"{result.comments} comments: loading the history {loaded * 1000:.0f} ms, replaying {replayed * 1000:.1f} ms")
    print(f"outcomes {result.outcomes}; {result.changed} would change; against {result.moderated} moderator "
          f"decisions precision {result.precision}, recall {result.recall}, F1 {result.f1}")
    print(json.dumps({"comments": result.comments, "replay_ms": round(replayed * 1000, 1),
                      "load_history_ms": round(loaded * 1000), "total_ms": round((loaded + replayed) * 1000),
                      "changed": result.changed, "outcomes": result.outcomes, "f1": result.f1}))


if __name__ == "__main__":
    main()
