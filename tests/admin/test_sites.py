"""Admins manage sites: create, edit origins, close a site or an article, rotate the key, assign moderators."""

from __future__ import annotations

from service.accounts.operations import find_user
from tests.admin.test_api import bearer


def comment(site_key, article="a"):
    return {"site": site_key, "article": {"id": article}, "author": {"name": "R"}, "body": "hello"}


def test_admin_creates_and_edits_a_site(client, db_session):
    admin = bearer(db_session, "sites@news.example", "admin")
    created = client.post("/api/v1/admin/sites", json={"name": "Gazette", "origins": ["https://gazette.example/"]},
                          headers=admin)
    key = created.get_json()["public_key"]
    edited = client.patch(f"/api/v1/admin/sites/{key}", json={"origins": ["https://gazette.example",
                                                                          "https://m.gazette.example"]},
                          headers=admin)

    assert created.status_code == 201
    assert edited.get_json()["origins"] == ["https://gazette.example", "https://m.gazette.example"]
    posted = client.post("/api/v1/comments", json=comment(key), headers={"Origin": "https://m.gazette.example"})
    assert posted.status_code == 202
    bad = client.post("/api/v1/admin/sites", json={"name": "X", "origins": ["ftp://x"]}, headers=admin)
    assert bad.status_code == 422


def test_closing_a_site_or_an_article_stops_new_comments(client, db_session, site):
    admin = bearer(db_session, "closer@news.example", "admin")
    client.post(f"/api/v1/admin/sites/{site.public_key}/articles/old-story/closed", json={"closed": True},
                headers=admin)

    on_closed = client.post("/api/v1/comments", json=comment(site.public_key, "old-story"))
    elsewhere = client.post("/api/v1/comments", json=comment(site.public_key, "new-story"))
    thread = client.get(f"/api/v1/sites/{site.public_key}/articles/old-story/comments").get_json()
    client.patch(f"/api/v1/admin/sites/{site.public_key}", json={"closed": True}, headers=admin)
    site_closed = client.post("/api/v1/comments", json=comment(site.public_key, "new-story"))

    assert (on_closed.status_code, on_closed.get_json()["error"]["code"]) == (403, "commenting_closed")
    assert elsewhere.status_code == 202
    assert thread["closed"] is True
    assert site_closed.status_code == 403


def test_rotating_the_key_retires_the_old_one(client, db_session, site):
    admin = bearer(db_session, "rotor@news.example", "admin")
    old = site.public_key
    new = client.post(f"/api/v1/admin/sites/{old}/rotate-key", headers=admin).get_json()["public_key"]

    assert new != old
    assert client.post("/api/v1/comments", json=comment(old)).status_code == 422
    assert client.post("/api/v1/comments", json=comment(new)).status_code == 202


def test_moderators_are_assigned_and_removed(client, db_session, site):
    from service.accounts.operations import create_user

    admin = bearer(db_session, "assigner@news.example", "admin")
    create_user(db_session, "m1@news.example", "long enough password", "moderator")
    create_user(db_session, "m2@news.example", "long enough password", "moderator")
    db_session.commit()
    url = f"/api/v1/admin/sites/{site.public_key}/moderators"

    client.put(url, json={"emails": ["m1@news.example", "m2@news.example"]}, headers=admin)
    response = client.put(url, json={"emails": ["m2@news.example"]}, headers=admin)

    assert response.get_json() == {"moderators": ["m2@news.example"]}
    db_session.expire_all()
    assert find_user(db_session, "m1@news.example").sites == []
    assert client.put(url, json={"emails": ["nobody@x.example"]}, headers=admin).status_code == 422
    moderator = bearer(db_session, "m3@news.example", "moderator")
    assert client.put(url, json={"emails": []}, headers=moderator).status_code == 403
