"""Site stats on a constructed history with known answers."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from service.accounts.operations import create_user
from service.admin.stats import site_stats
from service.audit.models import StatusChange
from service.comments.models import Comment
from service.db import utcnow
from tests.admin.test_api import bearer


def add_comment(client, db_session, site, status):
    response = client.post("/api/v1/comments", json={"site": site.public_key, "article": {"id": "s"},
                                                     "author": {"name": "S"}, "body": status})
    comment = db_session.get(Comment, response.get_json()["id"])
    comment.status = status
    return comment


def test_outcomes_deciders_review_wait_and_throughput(client, db_session, site):
    create_user(db_session, "fast@news.example", "long enough password", "moderator")
    now = utcnow()
    published = add_comment(client, db_session, site, "published")
    rejected = add_comment(client, db_session, site, "rejected")
    approved = add_comment(client, db_session, site, "published")
    db_session.add_all([
        StatusChange(comment_id=published.id, actor="auto", from_status="pending", to_status="published",
                     created_at=now - timedelta(minutes=30)),
        StatusChange(comment_id=rejected.id, actor="auto", from_status="pending", to_status="flagged",
                     created_at=now - timedelta(minutes=20)),
        StatusChange(comment_id=rejected.id, actor="fast@news.example", from_status="flagged",
                     to_status="rejected", created_at=now - timedelta(minutes=10)),
        StatusChange(comment_id=approved.id, actor="auto", from_status="pending", to_status="flagged",
                     created_at=now - timedelta(minutes=20)),
        StatusChange(comment_id=approved.id, actor="fast@news.example", from_status="flagged",
                     to_status="published", created_at=now - timedelta(minutes=15)),
    ])
    db_session.commit()

    stats = site_stats(db_session, site.id, days=7, now=now)

    assert stats["comments_by_day"] == {published.created_at.date().isoformat(): {"published": 2, "rejected": 1}}
    assert stats["decided_by"] == {"policy": 3, "people": 2}
    assert (stats["review_wait_median_seconds"], stats["reviewed"]) == (450.0, 2)  # 10 and 5 minutes
    # Counted on the day of each action (UTC): run just after midnight, the two fall on different days.
    review_days = Counter((now - timedelta(minutes=minutes)).date().isoformat() for minutes in (10, 15))
    assert stats["moderator_throughput"] == {"fast@news.example": dict(review_days)}


def test_stats_api_and_page_are_for_admins(client, db_session, site):
    admin = bearer(db_session, "stats-admin@news.example", "admin")
    moderator = bearer(db_session, "stats-mod@news.example", "moderator")
    assert client.get(f"/api/v1/admin/sites/{site.public_key}/stats?days=7", headers=admin).status_code == 200
    assert client.get(f"/api/v1/admin/sites/{site.public_key}/stats", headers=moderator).status_code == 403


def test_stats_page_renders_for_a_signed_in_admin(client, db_session, site):
    import re

    create_user(db_session, "page-admin@news.example", "long enough password", "admin")
    db_session.commit()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard/login").get_data(as_text=True))
    client.post("/dashboard/login", data={"email": "page-admin@news.example", "password": "long enough password",
                                          "csrf_token": token.group(1)})
    add_comment(client, db_session, site, "published")
    db_session.commit()

    page = client.get(f"/admin/sites/{site.public_key}/stats").get_data(as_text=True)

    assert "Comments by day and outcome" in page and 'class="seg seg-published"' in page
