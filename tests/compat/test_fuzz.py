"""Generated requests to the compatibility APIs: a 4xx in the API's own error shape, never a 500.

No worker runs here and the wait is short, so a request that passes validation ends in a 504: what
matters is that nothing a client sends crashes the handler.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import create_app
from service.compat.credentials import add_coral_secret, create_api_key
from tests.comments.test_api_fuzz import json_values

ATTRIBUTE_NAMES = (st.sampled_from(["TOXICITY", "SPAM", "INSULT", "PROFANITY", "FLIRTATION", "NOPE"])
                   | st.text(max_size=12))


@pytest.fixture
def quick(settings, session_factory, db_session, site):
    app = create_app(settings.replace(analysis_timeout_seconds=0.01, redis_url="redis://127.0.0.1:6379/10"),
                     session_factory=session_factory)
    _, key = create_api_key(db_session, site, "fuzz")
    _, secret = add_coral_secret(db_session, site, "fuzz", "f" * 32)
    db_session.commit()
    yield app.test_client(), key, secret, site
    redis.Redis.from_url("redis://127.0.0.1:6379/10").flushdb()  # the requests no worker took


def perspective_bodies():
    options = st.fixed_dictionaries({}, optional={"scoreType": st.sampled_from(["PROBABILITY", "X"]) | json_values,
                                                  "scoreThreshold": st.floats() | json_values})
    return st.fixed_dictionaries({}, optional={
        "comment": st.fixed_dictionaries({}, optional={"text": st.text(max_size=60) | json_values,
                                                       "type": st.sampled_from(["PLAIN_TEXT", "HTML"]) | json_values})
        | json_values,
        "requestedAttributes": st.dictionaries(ATTRIBUTE_NAMES, options | json_values, max_size=3) | json_values,
        "attributeScores": st.dictionaries(ATTRIBUTE_NAMES, json_values, max_size=2) | json_values,
        "languages": st.lists(st.text(max_size=5), max_size=2) | json_values,
        "spanAnnotations": json_values, "doNotStore": json_values, "clientToken": json_values,
    })


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_perspective_never_fails_with_a_500(quick, data):
    client, key, _, _ = quick
    body = data.draw(perspective_bodies() | json_values)
    path = data.draw(st.sampled_from(["comments:analyze", "comments:suggestscore"]))

    response = client.post(f"/v1alpha1/{path}?key={key}", json=body)

    assert response.status_code < 500 or response.status_code in (503, 504), response.get_data(as_text=True)
    if response.status_code >= 400:
        error = response.get_json()["error"]
        assert error["code"] == response.status_code and error["status"] and error["message"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values | st.fixed_dictionaries({}, optional={
    "action": json_values | st.sampled_from(["NEW", "EDIT"]),
    "comment": st.fixed_dictionaries({}, optional={"body": st.text(max_size=60) | json_values,
                                                   "parentID": json_values}) | json_values,
    "author": st.fixed_dictionaries({}, optional={"id": st.text(max_size=8) | json_values,
                                                  "role": st.sampled_from(["COMMENTER", "STAFF"]) | json_values})
    | json_values,
    "story": json_values}))
def test_coral_never_fails_with_a_500(quick, body):
    client, _, secret, site = quick
    raw = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()

    response = client.post(f"/compat/coral/phase/{site.public_key}", data=raw,
                           headers={"X-Coral-Signature": signature, "Content-Type": "application/json"})

    assert response.status_code in (204, 400, 503, 504), response.get_data(as_text=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(st.sampled_from(["api_key", "blog", "user_ip", "comment_content", "comment_author",
                                               "comment_author_url", "honeypot_field_name", "is_test", "user_role"]),
                              st.text(max_size=40).filter(lambda v: "\x00" not in v), max_size=9))
def test_akismet_never_fails_with_a_500(quick, fields):
    client, key, _, _ = quick
    fields = {"api_key": key, "blog": "https://news.example", **fields}

    for endpoint in ("verify-key", "comment-check", "submit-ham"):
        response = client.post(f"/1.1/{endpoint}", data=fields)
        assert response.status_code in (200, 400, 503), (endpoint, response.get_data(as_text=True))
