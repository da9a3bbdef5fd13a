"""Generated payloads: the API answers 202 or a JSON 4xx, never a 5xx, and a refusal stores nothing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from service.comments.models import Comment

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


def comment_payloads(site_key: str):
    text = st.text(max_size=120)
    return st.fixed_dictionaries(
        {},
        optional={
            "site": st.sampled_from([site_key, "site_unknown"]) | json_values,
            "article": st.fixed_dictionaries({"id": text}, optional={"url": text, "title": text}) | json_values,
            "author": st.fixed_dictionaries({"name": text}, optional={"email": text}) | json_values,
            "body": text | json_values,
            "parent_id": text | json_values,
            "honeypot": text,
        },
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_payloads_never_cause_a_server_error(client, site, db_session, data):
    before = db_session.scalar(select(func.count()).select_from(Comment))
    body = data.draw(comment_payloads(site.public_key) | json_values)

    response = client.post("/api/v1/comments", json=body)

    assert response.status_code < 500, response.get_data(as_text=True)
    after = db_session.scalar(select(func.count()).select_from(Comment))
    if response.status_code == 202:
        assert after == before + 1
    else:
        assert 400 <= response.status_code < 500
        assert set(response.get_json()["error"]) == {"code", "message", "fields"}
        assert after == before


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_bodies_to_the_moderation_and_admin_apis_never_cause_a_server_error(client, site, db_session,
                                                                                       data):
    from service.accounts.operations import create_api_token, create_user, find_user

    user = find_user(db_session, "fuzz-admin@news.example") or create_user(
        db_session, "fuzz-admin@news.example", "long enough password", "admin")
    _, secret = create_api_token(db_session, user, "fuzz")
    db_session.commit()
    comment = client.post("/api/v1/comments", json={"site": site.public_key, "article": {"id": "f"},
                                                    "author": {"name": "F"}, "body": "fuzz"}).get_json()["id"]
    path = data.draw(st.sampled_from([
        f"/api/v1/moderation/comments/{comment}/decision", f"/api/v1/moderation/comments/{comment}/author-restriction",
        f"/api/v1/admin/sites/{site.public_key}/policy/replay", f"/api/v1/admin/sites/{site.public_key}",
        f"/api/v1/admin/sites/{site.public_key}/moderators", f"/api/v1/comments/{comment}/reports",
    ]))
    body = data.draw(json_values | st.fixed_dictionaries({}, optional={
        "action": st.sampled_from(["approve", "reject"]) | json_values, "reason": json_values,
        "note": json_values, "expected_status": json_values, "kind": json_values, "days": json_values,
        "thresholds": json_values, "premoderation": json_values, "banned_words": json_values,
        "name": json_values, "origins": json_values, "closed": json_values, "emails": json_values}))
    method = client.patch if path.endswith(site.public_key) else client.put if path.endswith("moderators") else client.post

    response = method(path, json=body, headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code < 500, (path, body, response.get_data(as_text=True))
