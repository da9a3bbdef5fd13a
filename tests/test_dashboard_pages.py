"""Dashboard pages through the Flask client: sign-in, redirects, tokens, audit filters."""

from __future__ import annotations

import re

import pytest

from service.accounts.operations import create_user, user_for_token

PASSWORD = "long enough password"


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def signed_in(client, db_session):
    create_user(db_session, "pages@news.example", PASSWORD, "moderator")
    db_session.commit()
    token = csrf_from(client.get("/dashboard/login").get_data(as_text=True))
    response = client.post("/dashboard/login", data={"email": "pages@news.example", "password": PASSWORD,
                                                      "csrf_token": token})
    assert response.status_code == 302
    return client


def test_pages_send_anonymous_visitors_to_sign_in(client):
    response = client.get("/dashboard/queue/flagged")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dashboard/login")


def test_wrong_password_is_refused(client, db_session):
    create_user(db_session, "someone@news.example", PASSWORD, "moderator")
    db_session.commit()
    token = csrf_from(client.get("/dashboard/login").get_data(as_text=True))
    response = client.post("/dashboard/login", data={"email": "someone@news.example", "password": "nope",
                                                      "csrf_token": token})
    assert response.status_code == 200
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/dashboard/queue/flagged").status_code == 302


def test_session_cookie_is_http_only_and_same_site(signed_in):
    cookie = signed_in.get_cookie("modqueue_session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_a_token_is_shown_once_and_can_be_revoked(signed_in, db_session):
    page = signed_in.get("/dashboard/tokens").get_data(as_text=True)
    created = signed_in.post("/dashboard/tokens", data={"name": "triage bot", "csrf_token": csrf_from(page)})
    secret = re.search(r'<code id="new-token">(mq_[^<]+)</code>', created.get_data(as_text=True)).group(1)
    assert user_for_token(db_session, secret).email == "pages@news.example"
    assert secret not in signed_in.get("/dashboard/tokens").get_data(as_text=True)

    page = signed_in.get("/dashboard/tokens").get_data(as_text=True)
    token_id = re.search(r'/dashboard/tokens/(\d+)/revoke', page).group(1)
    signed_in.post(f"/dashboard/tokens/{token_id}/revoke", data={"csrf_token": csrf_from(page)})

    db_session.expire_all()
    assert user_for_token(db_session, secret) is None


def test_unknown_queue_is_404_and_audit_page_renders(signed_in):
    assert signed_in.get("/dashboard/queue/everything").status_code == 404
    assert signed_in.get("/dashboard/audit?actor=auto").status_code == 200


def test_matched_words_are_highlighted_and_still_escaped():
    from service.comments.models import Comment
    from service.dashboard.views import highlighted

    comment = Comment(body="<b>you</b> 1d10t!", reasons=[{"code": "banned_word", "start": 11, "end": 16}])
    assert highlighted(comment) == [("<b>you</b> ", False), ("1d10t", True), ("!", False)]


def test_card_marks_the_words_without_interpreting_html(signed_in, db_session, site):
    from service.comments.models import Comment

    response = signed_in.application.test_client().post("/api/v1/comments", json={
        "site": site.public_key, "article": {"id": "h"}, "author": {"name": "H"}, "body": "<i>x</i> 1d10t"})
    comment = db_session.get(Comment, response.get_json()["id"])
    comment.status = "flagged"
    comment.reasons = [{"code": "banned_word", "attribute": "idiot", "start": 9, "end": 14, "text": "banned word: idiot"}]
    db_session.commit()
    from service.accounts.operations import assign_site, find_user

    assign_site(find_user(db_session, "pages@news.example"), site)
    db_session.commit()
    page = signed_in.get("/dashboard/queue/flagged").get_data(as_text=True)
    assert "&lt;i&gt;x&lt;/i&gt; <mark>1d10t</mark>" in page


def test_a_signed_in_moderator_can_still_post_through_the_public_api(signed_in, site):
    response = signed_in.post("/api/v1/comments", json={
        "site": site.public_key, "article": {"id": "demo"}, "author": {"name": "Mod"}, "body": "from the demo page"})
    assert response.status_code == 202
