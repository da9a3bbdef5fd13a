"""Coral's external moderation phase: signed requests in Coral's shape, answered from the site's policy."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from service.moderation.policy import PolicyRules
from service.sites.models import Policy
from service.sites.operations import current_policy, find_site
from tests.support.compat import new_coral_secret

pytestmark = pytest.mark.pipeline

TOXIC = "Shut up you fucking moron"
CLEAN = "Thanks, this was a clear and useful explainer."
FLAG_TOXIC = {"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}
FLAG_SPAM = {"actionType": "FLAG", "reason": "COMMENT_DETECTED_SPAM"}


@pytest.fixture(scope="module")
def coral(module_stack):
    module_stack.start_worker("coral").wait_for_log("scorers ready")
    return module_stack, new_coral_secret(module_stack)


def coral_body(text: str, *, parent: str | None = None, role: str = "COMMENTER", action: str = "NEW") -> bytes:
    """Serialized the way Coral serializes it (two-space indented JSON)."""
    return json.dumps({
        "action": action,
        "comment": {"body": text, "parentID": parent},
        "author": {"id": "user-42", "role": role},
        "story": {"id": "story-7", "url": "https://news.example/story-7"},
        "site": {"id": "coral-site-1"},
        "tenantID": "tenant-1",
        "tenantDomain": "comments.news.example",
    }, indent=2).encode()


def sign(body: bytes, *secrets: str) -> str:
    return ",".join("sha256=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)


def send(stack, body: bytes, signature: str | None, site_key: str | None = None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Coral-Signature"] = signature
    return stack.client.post(f"/compat/coral/phase/{site_key or stack.site_key}", data=body, headers=headers)


def test_a_clean_comment_gets_no_decision(coral):
    stack, secret = coral
    body = coral_body(CLEAN)
    response = send(stack, body, sign(body, secret))

    assert response.status_code == 204 and response.data == b""


def test_a_toxic_comment_is_withheld_and_flagged_as_toxic(coral):
    stack, secret = coral
    body = coral_body(TOXIC)
    response = send(stack, body, sign(body, secret))

    assert response.status_code == 200
    assert response.get_json() == {"status": "SYSTEM_WITHHELD", "actions": [FLAG_TOXIC]}


def test_replies_are_judged_like_comments(coral):
    stack, secret = coral
    toxic_reply, clean_reply = coral_body(TOXIC, parent="comment-1"), coral_body(CLEAN, parent="comment-1")

    assert send(stack, toxic_reply, sign(toxic_reply, secret)).get_json()["actions"] == [FLAG_TOXIC]
    assert send(stack, clean_reply, sign(clean_reply, secret)).status_code == 204


def test_html_bodies_are_scored_as_text(coral):
    stack, secret = coral
    body = coral_body("<p>Shut up you <b>fucking</b> moron</p>", action="EDIT")

    assert send(stack, body, sign(body, secret)).get_json()["status"] == "SYSTEM_WITHHELD"


def test_link_spam_is_flagged_as_spam(coral):
    stack, secret = coral
    text = ("BUY CHEAP PILLS NOW!!! Visit http://bit.ly/xyz and http://cheap-pills.example/buy, call +1 555 123 "
            "4567, email sales@pills.example")
    body = coral_body(text)
    response = send(stack, body, sign(body, secret))

    assert response.status_code == 200
    assert FLAG_SPAM in response.get_json()["actions"]


def test_staff_are_not_moderated(coral):
    stack, secret = coral
    body = coral_body(TOXIC, role="MODERATOR")

    assert send(stack, body, sign(body, secret)).status_code == 204


@pytest.mark.parametrize("signature", [None, "", "sha256=" + "0" * 64, "sha1=abc", "sha256="])
def test_missing_or_wrong_signatures_are_refused(coral, signature):
    stack, _ = coral
    response = send(stack, coral_body(TOXIC), signature)

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] in ("missing_signature", "invalid_signature")


def test_a_signature_of_another_body_is_refused(coral):
    stack, secret = coral
    response = send(stack, coral_body(TOXIC), sign(coral_body(CLEAN), secret))

    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_signature"


def test_any_of_several_signatures_may_match_while_secrets_rotate(coral):
    stack, secret = coral
    body = coral_body(TOXIC)

    assert send(stack, body, sign(body, "an old secret no longer here", secret)).status_code == 200


def test_unknown_site_and_malformed_requests(coral):
    stack, secret = coral
    not_json = b"{not json"
    no_author = json.dumps({"comment": {"body": "hi"}}).encode()

    assert send(stack, coral_body(CLEAN), "sha256=00", site_key="mq_unknownsitekey000000").status_code == 404
    assert send(stack, not_json, sign(not_json, secret)).status_code == 400
    assert send(stack, no_author, sign(no_author, secret)).status_code == 400


def test_premoderation_answers_premod(coral):
    stack, secret = coral
    with stack.sessions.begin() as session:
        site = find_site(session, stack.site_key)
        before = current_policy(session, site.id)
        session.add(Policy(site_id=site.id, version=before.version + 1, premoderation="all",
                           thresholds=PolicyRules().thresholds_json(), word_lists=before.word_lists,
                           created_by="test"))
    body = coral_body(CLEAN)
    try:
        assert send(stack, body, sign(body, secret)).get_json() == {"status": "PREMOD", "actions": []}
    finally:
        with stack.sessions.begin() as session:
            session.add(Policy(site_id=site.id, version=before.version + 2, premoderation=before.premoderation,
                               thresholds=before.thresholds, word_lists=before.word_lists, created_by="test"))
