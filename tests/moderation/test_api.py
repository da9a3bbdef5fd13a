"""The moderation API: authentication, site scoping, queues, decisions and conflicts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.accounts.operations import assign_site, create_api_token, create_user
from service.audit.models import StatusChange
from service.comments.models import FLAGGED, PUBLISHED, REJECTED, Comment, Report
from service.sites.operations import create_site


@pytest.fixture
def other_site(db_session):
    created = create_site(db_session, "Other", ["https://other.example"])
    db_session.commit()
    return created


def bearer(db_session, email, role, *sites):
    user = create_user(db_session, email, "long enough password", role)
    for site in sites:
        assign_site(user, site)
    _, secret = create_api_token(db_session, user, "test")
    db_session.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def moderator(db_session, site):
    return bearer(db_session, "mod@news.example", "moderator", site)


@pytest.fixture
def admin(db_session):
    return bearer(db_session, "admin@news.example", "admin")


def held_comment(client, db_session, site, body="you are awful", status=FLAGGED):
    response = client.post("/api/v1/comments", json={
        "site": site.public_key, "article": {"id": "a"}, "author": {"name": "Troll"}, "body": body,
    })
    comment = db_session.get(Comment, response.get_json()["id"])
    comment.status = status
    comment.scores = {"toxicity": 0.91}
    comment.reasons = [{"code": "score", "text": "toxicity 0.91 ≥ review_at 0.80"}]
    db_session.commit()
    return comment.id


def decide(client, headers, comment_id, **body):
    return client.post(f"/api/v1/moderation/comments/{comment_id}/decision", json=body, headers=headers)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer mq_wrong"}, {"Authorization": "Basic abc"}])
def test_anonymous_or_bad_token_gets_401(client, headers):
    response = client.get("/api/v1/moderation/comments", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_flagged_queue_lists_comments_with_scores_and_reasons(client, db_session, site, moderator):
    comment_id = held_comment(client, db_session, site)

    body = client.get("/api/v1/moderation/comments", headers=moderator).get_json()

    assert body["status"] == "flagged"
    [item] = body["items"]
    assert item["id"] == comment_id
    assert item["scores"] == {"toxicity": 0.91}
    assert item["reasons"][0]["text"] == "toxicity 0.91 ≥ review_at 0.80"
    assert item["site"] == site.public_key


def test_moderator_of_one_site_neither_sees_nor_decides_another_sites_comments(
    client, db_session, site, other_site, moderator
):
    theirs = held_comment(client, db_session, other_site)

    listed = client.get("/api/v1/moderation/comments", headers=moderator).get_json()["items"]
    filtered = client.get(f"/api/v1/moderation/comments?site={other_site.public_key}", headers=moderator)
    decided = decide(client, moderator, theirs, action="approve")

    assert theirs not in [i["id"] for i in listed]
    assert filtered.status_code == 404
    assert decided.status_code == 404
    assert db_session.get(Comment, theirs).status == FLAGGED


def test_admin_sees_every_site(client, db_session, site, other_site, admin):
    ids = {held_comment(client, db_session, site), held_comment(client, db_session, other_site)}
    listed = client.get("/api/v1/moderation/comments", headers=admin).get_json()["items"]
    assert ids <= {i["id"] for i in listed}


def test_approve_publishes_and_writes_one_audit_record(client, db_session, site, moderator):
    comment_id = held_comment(client, db_session, site)

    response = decide(client, moderator, comment_id, action="approve", note="fair criticism")

    assert response.status_code == 200
    assert response.get_json() == {"id": comment_id, "status": PUBLISHED}
    change = db_session.scalars(select(StatusChange).where(StatusChange.comment_id == comment_id)).one()
    assert (change.actor, change.from_status, change.to_status, change.note) == (
        "mod@news.example", FLAGGED, PUBLISHED, "fair criticism")
    thread = client.get(f"/api/v1/sites/{site.public_key}/articles/a/comments").get_json()
    assert [c["id"] for c in thread["comments"]] == [comment_id]


def test_second_decision_on_the_same_comment_is_refused_with_who_decided(client, db_session, site, moderator, admin):
    comment_id = held_comment(client, db_session, site)

    first = decide(client, moderator, comment_id, action="approve", expected_status="flagged")
    second = decide(client, admin, comment_id, action="reject", expected_status="flagged")

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.get_json()["error"]["message"] == "already approved by mod@news.example"
    assert db_session.get(Comment, comment_id).status == PUBLISHED
    assert len(db_session.scalars(select(StatusChange).where(StatusChange.comment_id == comment_id)).all()) == 1


def test_take_down_needs_the_status_the_moderator_saw(client, db_session, site, moderator):
    comment_id = held_comment(client, db_session, site, status=PUBLISHED)

    blind = decide(client, moderator, comment_id, action="reject")
    seen = decide(client, moderator, comment_id, action="reject", reason="harassment", expected_status="published")
    restored = decide(client, moderator, comment_id, action="approve", expected_status="rejected")

    assert blind.status_code == 409
    assert seen.get_json()["status"] == REJECTED
    assert restored.get_json()["status"] == PUBLISHED


def test_invalid_decision_is_422(client, db_session, site, moderator):
    comment_id = held_comment(client, db_session, site)
    response = decide(client, moderator, comment_id, action="delete")
    assert response.status_code == 422
    assert "action" in response.get_json()["error"]["fields"]


def test_reported_queue_holds_published_comments_until_decided(client, db_session, site, moderator):
    comment_id = held_comment(client, db_session, site, status=PUBLISHED)
    client.post(f"/api/v1/comments/{comment_id}/reports", json={"reason": "abuse"})
    client.post(f"/api/v1/comments/{comment_id}/reports", json={"reason": "spam"})

    reported = client.get("/api/v1/moderation/comments?status=reported", headers=moderator).get_json()["items"]
    decide(client, moderator, comment_id, action="approve", expected_status="published")
    after = client.get("/api/v1/moderation/comments?status=reported", headers=moderator).get_json()["items"]

    assert [(i["id"], i["reports"]) for i in reported] == [(comment_id, 2)]
    assert after == []
    assert all(r.resolved_at for r in db_session.scalars(select(Report).where(Report.comment_id == comment_id)))


def test_queue_pages_by_cursor_newest_first(client, db_session, site, moderator):
    ids = [held_comment(client, db_session, site, body=f"held {n}") for n in range(5)]

    first = client.get("/api/v1/moderation/comments?limit=2", headers=moderator).get_json()
    second = client.get(f"/api/v1/moderation/comments?limit=2&cursor={first['next_cursor']}", headers=moderator).get_json()
    third = client.get(f"/api/v1/moderation/comments?limit=2&cursor={second['next_cursor']}", headers=moderator).get_json()

    seen = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert seen == sorted(ids, reverse=True)
    assert third["next_cursor"] is None


def test_revoked_token_stops_working(client, db_session, site):
    from service.accounts.operations import revoke_api_token

    user = create_user(db_session, "gone@news.example", "long enough password", "admin")
    token, secret = create_api_token(db_session, user, "old")
    db_session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/moderation/comments", headers=headers).status_code == 200

    revoke_api_token(db_session, token.id)
    db_session.commit()

    assert client.get("/api/v1/moderation/comments", headers=headers).status_code == 401


def _scored(db_session, comment_id, score, author=None):
    comment = db_session.get(Comment, comment_id)
    comment.max_score = score
    db_session.commit()


def test_queue_filters_by_article_author_and_score_and_sorts_by_score(client, db_session, site, moderator):
    ids = {}
    for n, score in enumerate([0.5, 0.99, 0.7, 0.85]):
        ids[score] = held_comment(client, db_session, site, body=f"held {n}")
        _scored(db_session, ids[score], score)
    other = client.post("/api/v1/comments", json={"site": site.public_key, "article": {"id": "b"},
                                                  "author": {"name": "Other", "email": "o@x.example"}, "body": "hm"})
    other_id = other.get_json()["id"]
    db_session.get(Comment, other_id).status = FLAGGED
    db_session.commit()

    def listed(**params):
        return [i["id"] for i in client.get("/api/v1/moderation/comments", query_string=params,
                                            headers=moderator).get_json()["items"]]

    first = client.get("/api/v1/moderation/comments", query_string={"sort": "score", "limit": 2},
                       headers=moderator).get_json()
    second = listed(sort="score", limit=2, cursor=first["next_cursor"])
    assert [i["id"] for i in first["items"]] + second == [ids[0.99], ids[0.85], ids[0.7], ids[0.5]]
    assert listed(min_score=0.8) == sorted([ids[0.99], ids[0.85]], reverse=True)
    assert listed(article="b") == [other_id]
    assert listed(author="O@X.example") == [other_id]
    assert client.get("/api/v1/moderation/comments?sort=loudest", headers=moderator).status_code == 422


def test_banning_and_lifting_an_authors_restriction(client, db_session, site, moderator):
    from service.moderation.operations import active_restrictions

    comment_id = held_comment(client, db_session, site)
    url = f"/api/v1/moderation/comments/{comment_id}/author-restriction"

    banned = client.post(url, json={"kind": "suspend", "days": 7, "reason": "harassment"}, headers=moderator)
    key = (site.id, db_session.get(Comment, comment_id).author_key)
    assert banned.status_code == 200 and banned.get_json()["kind"] == "suspend"
    assert active_restrictions(db_session, {key}) == {key: "suspend"}
    assert client.delete(url, headers=moderator).status_code == 200
    assert active_restrictions(db_session, {key}) == {}
    assert client.delete(url, headers=moderator).status_code == 404
    assert client.post(url, json={"kind": "exile"}, headers=moderator).status_code == 422
