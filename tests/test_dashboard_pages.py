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
