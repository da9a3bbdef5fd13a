"""Time the dashboard's queue page with 10,000 flagged comments waiting.

    python bench/queue_page.py [--comments 10000] [--requests 60]

Fills a scratch Postgres database with flagged comments (with scores and reasons, over 50 articles and
500 authors), signs a moderator in, and times GET /dashboard/queue/flagged in-process (server time, no
network): newest first, sorted by score, and a later page by cursor. Prints median and p95 per view; the
last line is a JSON object of the figures. Target: median under 200 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import timedelta

from _common import add_service_arguments, filled_database, insert_in_chunks, percentile

from service import create_app
from service.accounts.operations import create_user
from service.comments.models import Article, Comment
from service.db import utcnow
from service.ids import new_id
from service.settings import Settings
from service.sites.operations import create_site, current_policy


def fill(sessions, count: int) -> str:
    rng = random.Random(3)
    with sessions.begin() as session:
        site = create_site(session, "bench", ["https://bench.example"])
        policy = current_policy(session, site.id)
        create_user(session, "bench-mod@example.org", "long enough password", "admin")
        articles = [Article(site_id=site.id, external_id=f"story-{n}", url=f"https://bench.example/{n}",
                            title=f"Story {n}") for n in range(50)]
        session.add_all(articles)
        session.flush()
        now = utcnow()
        rows = []
        for n in range(count):
            toxicity = round(rng.uniform(0.8, 1.0), 4)
            author = f"reader {rng.randrange(500)}"
            rows.append({
                "id": new_id(), "site_id": site.id, "article_id": rng.choice(articles).id,
                "author_name": author, "author_key": f"name:{author}", "body": f"Held comment {n} " * 8,
                "status": "flagged", "honeypot_filled": False, "created_at": now - timedelta(seconds=count - n),
                "queued_at": now, "decided_at": now, "policy_id": policy.id, "max_score": toxicity,
                "scores": {"toxicity": toxicity, "insult": round(toxicity * 0.9, 4), "spam": 0.05},
                "score_sources": {"toxicity": "bench"},
                "reasons": [{"code": "score", "text": f"toxicity {toxicity:.2f} ≥ review_at 0.80"}],
            })
        insert_in_chunks(session, Comment, rows)
        return site.public_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=60)
    add_service_arguments(parser)
    args = parser.parse_args()
    with filled_database(args.postgres_url, fill, args.comments) as (url, sessions, _site_key):
        settings = Settings.from_env({}).replace(database_url=url, redis_url=args.redis_url, secret_key="bench",
                                                 secure_cookies=False)
        app = create_app(settings, session_factory=sessions)
        client = app.test_client()
        form = client.get("/dashboard/login").get_data(as_text=True)
        token = form.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/dashboard/login", data={"email": "bench-mod@example.org", "password": "long enough password",
                                               "csrf_token": token})
        first = client.get("/dashboard/queue/flagged")
        assert first.status_code == 200 and first.data.count(b'class="card"') == 50, first.status_code
        cursor = first.get_data(as_text=True).split("cursor=")[1].split("&")[0].split('"')[0]
        views = {"newest": "/dashboard/queue/flagged", "by_score": "/dashboard/queue/flagged?sort=score",
                 "later_page": f"/dashboard/queue/flagged?cursor={cursor}"}
        figures = {}
        for name, path in views.items():
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200
            figures[name] = {"median_ms": round(percentile(times, 0.5) * 1000, 1),
                             "p95_ms": round(percentile(times, 0.95) * 1000, 1)}
            print(f"{name:>10}: median {figures[name]['median_ms']} ms, p95 {figures[name]['p95_ms']} ms "
                  f"({args.requests} requests, {args.comments} flagged comments)")
    print(json.dumps({"flagged_comments": args.comments, "page_size": 50,
                      **{f"{view}_{k}": v for view, f in figures.items() for k, v in f.items()}}))


if __name__ == "__main__":
    main()
