"""Keys and secrets of the compatibility APIs: managed by admins, checked, rate-limited per key, counted."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from service import create_app
from service.compat.credentials import create_api_key
from tests.admin.test_api import bearer
from tests.support.processes import ROOT

BLOG = "https://news.example"


@pytest.fixture
def admin(db_session):
    return bearer(db_session, "root@news.example", "admin")


def _credentials(client, site, headers):
    return client.get(f"/api/v1/admin/sites/{site.public_key}/credentials", headers=headers).get_json()["credentials"]


def test_admins_create_list_and_revoke_keys(client, site, admin):
    created = client.post(f"/api/v1/admin/sites/{site.public_key}/credentials", headers=admin,
                          json={"kind": "api_key", "name": "WordPress"})
    assert created.status_code == 201
    key = created.get_json()["secret"]
    assert key.startswith("mqk_") and len(key) > 40

    listed = _credentials(client, site, admin)
    assert [(c["kind"], c["name"], c["hint"]) for c in listed] == [("api_key", "WordPress", key[:8] + "…")]
    assert key not in str(listed)
    assert client.post("/1.1/verify-key", data={"api_key": key, "blog": BLOG}).get_data(as_text=True) == "valid"

    revoked = client.delete(f"/api/v1/admin/sites/{site.public_key}/credentials/{listed[0]['id']}", headers=admin)
    assert revoked.status_code == 204
    assert client.post("/1.1/verify-key", data={"api_key": key, "blog": BLOG}).get_data(as_text=True) == "invalid"
    assert _credentials(client, site, admin)[0]["revoked_at"] is not None
    again = client.delete(f"/api/v1/admin/sites/{site.public_key}/credentials/{listed[0]['id']}", headers=admin)
    assert again.status_code == 404


def test_coral_secrets_are_pasted_or_made(client, site, admin):
    url = f"/api/v1/admin/sites/{site.public_key}/credentials"
    pasted = client.post(url, headers=admin, json={"kind": "coral_secret", "name": "coral", "secret": "s" * 32})
    made = client.post(url, headers=admin, json={"kind": "coral_secret", "name": "coral 2"})
    short = client.post(url, headers=admin, json={"kind": "coral_secret", "name": "c", "secret": "short"})
    key_with_secret = client.post(url, headers=admin, json={"kind": "api_key", "name": "k", "secret": "x" * 20})

    assert pasted.status_code == 201 and pasted.get_json()["secret"] == "s" * 32
    assert made.status_code == 201 and len(made.get_json()["secret"]) > 30
    assert short.status_code == 422 and key_with_secret.status_code == 422


def test_only_admins_manage_credentials(client, db_session, site):
    moderator = bearer(db_session, "mod@news.example", "moderator")
    url = f"/api/v1/admin/sites/{site.public_key}/credentials"

    assert client.get(url).status_code == 401
    assert client.get(url, headers=moderator).status_code == 403
    assert client.post(url, headers=moderator, json={"kind": "api_key", "name": "x"}).status_code == 403


def test_the_site_page_lists_credentials_without_secrets(client, db_session, site):
    from service.accounts.operations import create_user

    create_user(db_session, "boss@news.example", "long enough password", "admin")
    _, key = create_api_key(db_session, site, "Akismet plugin")
    db_session.commit()
    login = client.get("/dashboard/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.get_data(as_text=True)).group(1)
    client.post("/dashboard/login", data={"email": "boss@news.example", "password": "long enough password",
                                          "csrf_token": token})

    page = client.get(f"/admin/sites/{site.public_key}").get_data(as_text=True)

    assert "Akismet plugin" in page and key[:8] in page and key not in page
    assert f"compat/coral/phase/{site.public_key}" in page


@pytest.mark.parametrize("query, headers, status, reason", [
    ("", {}, 403, "API_KEY_MISSING"),
    ("?key=mqk_wrong", {}, 400, "API_KEY_INVALID"),
])
def test_perspective_key_errors_have_googles_shape(client, query, headers, status, reason):
    response = client.post(f"/v1alpha1/comments:analyze{query}", headers=headers,
                           json={"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}})

    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == status and error["details"][0]["reason"] == reason
    assert error["status"] == ("PERMISSION_DENIED" if status == 403 else "INVALID_ARGUMENT")


@pytest.mark.parametrize("body, message", [
    ("not json", "Invalid JSON payload"),
    ({"comment": {"text": "   "}, "requestedAttributes": {"TOXICITY": {}}}, "Comment must be non-empty."),
    ({"comment": {"text": "x" * 20_481}, "requestedAttributes": {"TOXICITY": {}}}, "Comment text too long"),
    ({"comment": {"text": "hi"}, "requestedAttributes": {}}, "requestedAttributes must name"),
    ({"comment": {"text": "hi", "type": "HTML"}, "requestedAttributes": {"TOXICITY": {}}}, "PLAIN_TEXT"),
    ({"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 2}}}, "scoreThreshold"),
])
def test_malformed_perspective_requests_are_invalid_arguments(client, db_session, site, body, message):
    _, key = create_api_key(db_session, site, "p")
    db_session.commit()
    kwargs = {"data": body, "content_type": "application/json"} if isinstance(body, str) else {"json": body}
    response = client.post("/v1alpha1/comments:analyze", headers={"X-Goog-Api-Key": key}, **kwargs)

    assert response.status_code == 400
    assert message in response.get_json()["error"]["message"]


@pytest.mark.parametrize("score", [{"summaryScore": [1]}, {"summaryScore": "high"}, {"summaryScore": {}}, 0.9])
def test_malformed_suggested_scores_are_invalid_arguments(client, db_session, site, score):
    _, key = create_api_key(db_session, site, "s")
    db_session.commit()
    response = client.post(f"/v1alpha1/comments:suggestscore?key={key}",
                           json={"comment": {"text": "hi"}, "attributeScores": {"SPAM": score}})

    assert response.status_code == 400
    assert "summaryScore.value must be a number" in response.get_json()["error"]["message"]


def test_coral_without_a_configured_secret_is_refused(client, site):
    response = client.post(f"/compat/coral/phase/{site.public_key}", data=b"{}",
                           headers={"X-Coral-Signature": "sha256=00", "Content-Type": "application/json"})

    assert response.status_code == 401 and response.get_json()["error"]["code"] == "no_signing_secret"


def test_calls_are_limited_per_key_and_counted(settings, session_factory, db_session, site):
    app = create_app(settings.replace(rate_limit_compat="3/minute"), session_factory=session_factory)
    client = app.test_client()
    _, first = create_api_key(db_session, site, "first")
    _, second = create_api_key(db_session, site, "second")
    db_session.commit()

    answers = [client.post("/1.1/verify-key", data={"api_key": first, "blog": BLOG}) for _ in range(4)]
    other = client.post("/compat/akismet/1.1/verify-key", data={"api_key": second, "blog": BLOG})
    perspective = [client.post(f"/v1alpha1/comments:analyze?key={second}", json={}) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].headers["Retry-After"]
    assert other.get_data(as_text=True) == "valid"
    assert perspective[-1].status_code == 429
    assert perspective[-1].get_json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert re.search(r'modqueue_compat_requests_total\{api="akismet",endpoint="verify-key",outcome="ok"\} [1-9]',
                     metrics)
    assert re.search(r'modqueue_compat_requests_total\{api="akismet",endpoint="akismet.verify_key",'
                     r'outcome="rate_limited"\} [1-9]', metrics)


def test_cli_manages_keys_and_coral_secrets(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MODQUEUE_")}
    env.update(MODQUEUE_INSTANCE_PATH=str(tmp_path), PYTHONWARNINGS="ignore")

    def run(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "service.cli", *args], env=env, cwd=ROOT, input=stdin,
                              capture_output=True, text=True, timeout=120)

    run("db", "upgrade")
    site_key = run("site", "create", "Gazette", "--origin", "https://gazette.example").stdout.strip()
    key = run("site", "api-key", site_key, "--name", "plugin")
    secret = run("site", "coral-secret", site_key, "--secret-stdin", stdin="coral-signing-secret-123\n")
    revoked = run("site", "revoke-credential", site_key, "1")
    missing = run("site", "api-key", "site_nope", "--name", "x")

    assert key.returncode == 0 and re.fullmatch(r"key 1: mqk_[\w-]+\n", key.stdout)
    assert secret.returncode == 0 and secret.stdout == "secret 2: coral-signing-secret-123\n"
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert missing.returncode == 1 and "no such site" in missing.stderr


def test_an_unreachable_queue_is_a_clear_503_for_each_api(settings, session_factory, db_session, site):
    import hashlib
    import hmac
    import json

    from service.compat.credentials import add_coral_secret

    app = create_app(settings.replace(redis_url="redis://127.0.0.1:1/0"), session_factory=session_factory)
    client = app.test_client()
    _, key = create_api_key(db_session, site, "k")
    _, secret = add_coral_secret(db_session, site, "coral", "s" * 32)
    db_session.commit()
    body = json.dumps({"comment": {"body": "hello"}, "author": {"id": "a", "role": "COMMENTER"}}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    perspective = client.post(f"/v1alpha1/comments:analyze?key={key}",
                              json={"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}})
    akismet = client.post("/1.1/comment-check", data={"api_key": key, "blog": BLOG, "user_ip": "192.0.2.1",
                                                      "comment_content": "hi"})
    coral = client.post(f"/compat/coral/phase/{site.public_key}", data=body,
                        headers={"X-Coral-Signature": signature, "Content-Type": "application/json"})

    assert perspective.status_code == 503 and perspective.get_json()["error"]["status"] == "UNAVAILABLE"
    assert akismet.status_code == 503 and "unavailable" in akismet.get_data(as_text=True)
    assert coral.status_code == 503 and coral.get_json()["error"]["code"] == "unavailable"
