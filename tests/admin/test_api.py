"""Admin API: only admins; replay of a candidate; saving a new policy version with its diff."""

from __future__ import annotations

import pytest

from service.accounts.operations import create_api_token, create_user
from service.comments.models import Comment
from service.moderation.policy import PolicyRules


def bearer(db_session, email, role):
    user = create_user(db_session, email, "long enough password", role)
    _, secret = create_api_token(db_session, user, "t")
    db_session.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def admin(db_session):
    return bearer(db_session, "root@news.example", "admin")


def candidate(**toxicity) -> dict:
    rules = PolicyRules()
    thresholds = rules.thresholds_json()
    thresholds["toxicity"] = {"review_at": 0.8, "reject_at": None, **toxicity}
    return {"thresholds": thresholds, "premoderation": "flagged", "banned_words": ["idiot"], "suspect_words": []}


def with_scores(client, db_session, site, *toxicities):
    for n, toxicity in enumerate(toxicities):
        response = client.post("/api/v1/comments", json={"site": site.public_key, "article": {"id": "p"},
                                                         "author": {"name": f"A{n}"}, "body": f"b{n}"})
        comment = db_session.get(Comment, response.get_json()["id"])
        comment.status = "flagged" if toxicity >= 0.8 else "published"
        comment.scores = {"toxicity": toxicity}
    db_session.commit()


@pytest.mark.parametrize("method, path", [
    ("get", "/policy"), ("post", "/policy/replay"), ("post", "/policy"), ("get", "/policy/versions")])
def test_only_admins_reach_the_admin_api(client, db_session, site, method, path):
    moderator = bearer(db_session, "mod@news.example", "moderator")
    url = f"/api/v1/admin/sites/{site.public_key}{path}"
    assert getattr(client, method)(url, json=candidate()).status_code == 401
    assert getattr(client, method)(url, json=candidate(), headers=moderator).status_code == 403


def test_current_policy_with_score_distributions(client, db_session, site, admin):
    with_scores(client, db_session, site, 0.05, 0.5, 0.96)
    body = client.get(f"/api/v1/admin/sites/{site.public_key}/policy", headers=admin).get_json()
    assert body["version"] == 1
    assert sum(body["distributions"]["toxicity"]) == 3
    assert body["distributions"]["toxicity"][-1] == 1  # 0.96 falls in the last of 20 bins


def test_replay_shows_what_a_lower_threshold_would_do(client, db_session, site, admin):
    with_scores(client, db_session, site, 0.05, 0.75, 0.85)
    result = client.post(f"/api/v1/admin/sites/{site.public_key}/policy/replay", json=candidate(review_at=0.7),
                         headers=admin).get_json()
    assert result["outcomes"] == {"published": 1, "flagged": 2, "rejected": 0}
    assert result["changed"] == 1
    assert result["diff"] == ["toxicity review_at 0.80 → 0.70", "banned words + idiot"]


def test_saving_writes_the_next_version_with_a_readable_diff(client, db_session, site, admin):
    saved = client.post(f"/api/v1/admin/sites/{site.public_key}/policy", json=candidate(review_at=0.7),
                        headers=admin)
    history = client.get(f"/api/v1/admin/sites/{site.public_key}/policy/versions", headers=admin).get_json()

    assert saved.status_code == 201
    assert (saved.get_json()["version"], saved.get_json()["created_by"]) == (2, "root@news.example")
    assert [(v["version"], v["diff"]) for v in history["versions"]] == [
        (2, ["toxicity review_at 0.80 → 0.70", "banned words + idiot"]), (1, ["first version"])]


@pytest.mark.parametrize("change, field", [
    ({"review_at": 0.9, "reject_at": 0.5}, "thresholds.toxicity"),
    ({"review_at": 1.5}, "thresholds.toxicity.review_at"),
])
def test_invalid_candidates_are_422(client, site, admin, change, field):
    response = client.post(f"/api/v1/admin/sites/{site.public_key}/policy/replay", json=candidate(**change),
                           headers=admin)
    assert response.status_code == 422
    assert any(name.startswith(field) for name in response.get_json()["error"]["fields"])


def test_unknown_score_name_is_422(client, site, admin):
    body = candidate()
    body["thresholds"]["sarcasm"] = {"review_at": 0.5}
    assert client.post(f"/api/v1/admin/sites/{site.public_key}/policy", json=body, headers=admin).status_code == 422
