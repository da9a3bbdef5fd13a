"""The public comments API: accepting, reading, threading and reporting comments."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from service.comments.models import FLAGGED, PUBLISHED, Comment, Report
from tests.conftest import SITE_ORIGIN


def payload(site_, **changes) -> dict:
    body = {
        "site": site_.public_key,
        "article": {"id": "story-1", "url": "https://news.example/story-1", "title": "A story"},
        "author": {"name": "Ada", "email": "ada@example.org"},
        "body": "Thoughtful piece, thank you.",
    }
    body.update(changes)
    return body


def post(client, data, **headers):
    return client.post("/api/v1/comments", json=data, headers=headers)


def test_post_accepts_comment_as_pending_with_location(client, site, db_session):
    response = post(client, payload(site))

    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "pending"
    assert response.headers["Location"] == f"/api/v1/comments/{body['id']}"
    stored = db_session.get(Comment, body["id"])
    assert (stored.status, stored.body, stored.author_name) == ("pending", "Thoughtful piece, thank you.", "Ada")
    assert stored.article.external_id == "story-1"


def test_get_comment_returns_public_fields_without_email(client, site):
    comment_id = post(client, payload(site)).get_json()["id"]

    body = client.get(f"/api/v1/comments/{comment_id}").get_json()

    assert body == {
        "id": comment_id,
        "status": "pending",
        "body": "Thoughtful piece, thank you.",
        "author": {"name": "Ada"},
        "article_id": "story-1",
        "parent_id": None,
        "created_at": body["created_at"],
    }


def test_unknown_comment_is_404_json(client):
    response = client.get("/api/v1/comments/nope")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def _publish(db_session, *ids, status=PUBLISHED):
    for comment_id in ids:
        db_session.get(Comment, comment_id).status = status
    db_session.commit()


def test_article_comments_lists_only_published_comments_threaded(client, site, db_session):
    root = post(client, payload(site, body="root")).get_json()["id"]
    reply = post(client, payload(site, body="reply", parent_id=root)).get_json()["id"]
    held = post(client, payload(site, body="HELD-BODY")).get_json()["id"]
    orphan = post(client, payload(site, body="reply to held", parent_id=held)).get_json()["id"]
    _publish(db_session, root, reply, orphan)
    _publish(db_session, held, status=FLAGGED)

    body = client.get(f"/api/v1/sites/{site.public_key}/articles/story-1/comments").get_json()

    assert body["count"] == 3
    assert [c["id"] for c in body["comments"]] == [root, orphan]
    assert [r["id"] for r in body["comments"][0]["replies"]] == [reply]
    assert "HELD-BODY" not in json.dumps(body)


def test_article_comments_of_unknown_site_is_404(client):
    assert client.get("/api/v1/sites/site_nope/articles/a/comments").status_code == 404


def test_same_idempotency_key_returns_the_same_comment_once(client, site, db_session, new_comments):
    first = post(client, payload(site), **{"Idempotency-Key": "retry-123"})
    second = post(client, payload(site), **{"Idempotency-Key": "retry-123"})

    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] == second.get_json()["id"]
    assert new_comments() == 1


def test_idempotency_key_reused_for_a_different_comment_is_refused(client, site, db_session, new_comments):
    post(client, payload(site), **{"Idempotency-Key": "k1"})
    response = post(client, payload(site, body="something else"), **{"Idempotency-Key": "k1"})

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"
    assert new_comments() == 1


def test_reply_to_a_comment_of_another_article_is_refused(client, site, db_session, new_comments):
    other = post(client, payload(site, article={"id": "story-2"})).get_json()["id"]

    response = post(client, payload(site, parent_id=other))

    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"parent_id": "no such comment on this article"}
    assert new_comments() == 1


def test_filled_honeypot_is_accepted_quietly_and_marked(client, site, db_session):
    response = post(client, payload(site, honeypot="http://cheap-pills.example"))

    assert response.status_code == 202
    assert db_session.get(Comment, response.get_json()["id"]).honeypot_filled is True


def test_body_is_stored_as_plain_text_exactly(client, site, db_session):
    text = '<script>alert("x")</script> & <b>bold</b>\r\nsecond line'
    comment_id = post(client, payload(site, body=text)).get_json()["id"]

    assert db_session.get(Comment, comment_id).body == '<script>alert("x")</script> & <b>bold</b>\nsecond line'
    assert client.get(f"/api/v1/comments/{comment_id}").get_json()["body"].startswith("<script>")


@pytest.mark.parametrize(
    "change, field",
    [
        ({"body": ""}, "body"),
        ({"body": "   \n  "}, "body"),
        ({"body": 42}, "body"),
        ({"body": "x" * 10_001}, "body"),
        ({"body": "bell \x07 here"}, "body"),
        ({"body": "nul \x00 here"}, "body"),
        ({"author": {"name": ""}}, "author.name"),
        ({"author": {"name": "A" * 81}}, "author.name"),
        ({"author": {"name": "tab\tname"}}, "author.name"),
        ({"author": {"name": "Ada", "email": "not-an-email"}}, "author.email"),
        ({"author": "Ada"}, "author"),
        ({"article": {"id": ""}}, "article.id"),
        ({"article": {"id": "a", "url": "javascript:alert(1)"}}, "article.url"),
        ({"article": {"id": ["a"]}}, "article.id"),
        ({"site": 7}, "site"),
        ({"parent_id": 5}, "parent_id"),
    ],
)
def test_invalid_fields_get_422_naming_the_field_and_store_nothing(client, site, db_session, change, field, new_comments):
    response = post(client, payload(site, **change))

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert field in error["fields"], error
    assert new_comments() == 0


@pytest.mark.parametrize("missing", ["site", "article", "author", "body"])
def test_missing_required_field_is_named(client, site, db_session, missing, new_comments):
    data = payload(site)
    del data[missing]

    response = post(client, data)

    assert response.status_code == 422
    assert missing in response.get_json()["error"]["fields"]
    assert new_comments() == 0


def test_lone_surrogate_in_raw_json_is_refused(client, site, db_session, new_comments):
    raw = json.dumps(payload(site, body="PLACEHOLDER")).replace("PLACEHOLDER", "bad \\ud800 char")

    response = client.post("/api/v1/comments", data=raw, content_type="application/json")

    assert response.status_code == 422
    assert "body" in response.get_json()["error"]["fields"]
    assert new_comments() == 0


@pytest.mark.parametrize(
    "data, content_type, status, code",
    [
        ("{not json", "application/json", 400, "malformed_json"),
        ("[1, 2]", "application/json", 400, "malformed_json"),
        ("null", "application/json", 400, "malformed_json"),
        (b"\xff\xfe{}", "application/json", 400, "malformed_json"),
        ("site=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("x" * (200 * 1024), "application/json", 413, "request_entity_too_large"),
    ],
)
def test_unparseable_requests_get_clear_4xx(client, db_session, data, content_type, status, code, new_comments):
    response = client.post("/api/v1/comments", data=data, content_type=content_type)

    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert new_comments() == 0


def test_unknown_site_is_refused(client, site, db_session, new_comments):
    response = post(client, payload(site, site="site_does_not_exist"))

    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"site": "no site has this key"}
    assert new_comments() == 0


def test_bad_idempotency_key_is_refused(client, site, db_session, new_comments):
    response = post(client, payload(site), **{"Idempotency-Key": "has space"})
    assert response.status_code == 400
    assert new_comments() == 0


def test_browser_post_from_a_configured_origin_gets_cors_headers(client, site):
    response = post(client, payload(site), Origin=SITE_ORIGIN)

    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
    assert "Location" in response.headers["Access-Control-Expose-Headers"]


def test_browser_post_from_another_origin_is_refused_without_cors_headers(client, site, db_session, new_comments):
    response = post(client, payload(site), Origin="https://evil.example")

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert new_comments() == 0


def test_preflight_is_answered_only_for_known_origins(client, site):
    headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = client.options("/api/v1/comments", headers={"Origin": SITE_ORIGIN, **headers})
    refused = client.options("/api/v1/comments", headers={"Origin": "https://evil.example", **headers})

    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
    assert "Idempotency-Key" in allowed.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_report_on_published_comment_is_recorded_without_changing_status(client, site, db_session):
    comment_id = post(client, payload(site)).get_json()["id"]
    _publish(db_session, comment_id)

    response = client.post(f"/api/v1/comments/{comment_id}/reports", json={"reason": "spam", "note": "ad"})

    assert response.status_code == 202
    report = db_session.scalars(select(Report).where(Report.comment_id == comment_id)).one()
    assert (report.reason, report.note) == ("spam", "ad")
    assert db_session.get(Comment, comment_id).status == PUBLISHED


def test_report_with_unknown_reason_is_422(client, site, db_session):
    comment_id = post(client, payload(site)).get_json()["id"]
    _publish(db_session, comment_id)

    response = client.post(f"/api/v1/comments/{comment_id}/reports", json={"reason": "boring"})

    assert response.status_code == 422
    assert "reason" in response.get_json()["error"]["fields"]


def test_report_on_pending_comment_is_409(client, site):
    comment_id = post(client, payload(site)).get_json()["id"]
    response = client.post(f"/api/v1/comments/{comment_id}/reports", json={"reason": "spam"})
    assert response.status_code == 409


@pytest.mark.parametrize("field_change, field", [
    ({"site": "site_\x00"}, "site"),
    ({"parent_id": "\x00"}, "parent_id"),
    ({"author": {"name": "A", "email": "a\x00@b.example"}}, "author.email"),
])
def test_nul_characters_anywhere_in_the_json_are_a_422_naming_the_field(client, site, new_comments,
                                                                        field_change, field):
    response = post(client, payload(site, **field_change))
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]
    assert new_comments() == 0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32-le"])
def test_a_nul_in_a_body_sent_in_utf_16_or_32_is_found_too(client, site, new_comments, encoding):
    # JSON may come in UTF-16 or 32; the escape \u0000 then is not the bytes a UTF-8 body would hold.
    body = json.dumps(payload(site, parent_id="\x00")).encode(encoding)
    response = client.post("/api/v1/comments", data=body, content_type="application/json")
    assert response.status_code == 422
    assert "parent_id" in response.get_json()["error"]["fields"]
    assert new_comments() == 0


@pytest.mark.parametrize("url", [
    "/api/v1/comments/%00", "/api/v1/sites/site_x/articles/%00/comments", "/api/v1/sites/%00/articles/a/comments",
    "/api/v1/moderation/comments?site=%00", "/dashboard/audit?actor=%00", "/dashboard/login?next=%00",
])
def test_nul_characters_in_urls_are_a_400(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_characters"


def test_nul_characters_in_forms_are_a_400(client):
    response = client.post("/dashboard/login", data={"email": "a\x00@b.example", "password": "x"})
    assert response.status_code == 400
