"""Spam through the real worker: bursts of copies, learning from moderators, state kept across restarts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.accounts.operations import create_api_token, create_user
from service.moderation.policy import PolicyRules
from service.sites.models import Policy
from service.sites.operations import find_site
from service.spam.models import GLOBAL_SCOPE, SpamModelState
from tests.support.waiting import wait_until

pytestmark = pytest.mark.pipeline


def post_as(stack, author: str, body: str, ip: str) -> str:
    response = stack.client.post(
        "/api/v1/comments",
        json={"site": stack.site_key, "article": {"id": "story"}, "author": {"name": author}, "body": body},
        environ_base={"REMOTE_ADDR": ip},
    )
    assert response.status_code == 202
    return response.get_json()["id"]


def test_burst_of_the_same_link_spam_from_several_authors_gets_later_copies_held(stack):
    stack.start_worker()
    text = "Great deals today at https://deals.example/offer and https://deals.example/more"
    ids = [post_as(stack, f"author{n}", text, f"10.1.0.{n}") for n in range(7)]

    statuses = stack.wait_decided(ids)
    comments = stack.comments(ids)

    assert statuses[ids[0]] == "published"
    assert all(statuses[i] in ("flagged", "rejected") for i in ids[4:]), statuses
    assert comments[ids[-1]].scores["spam"] > comments[ids[0]].scores["spam"]
    reasons = [r["text"] for r in comments[ids[-1]].reasons]
    assert "spam signal: same text posted by other authors" in reasons


def _hold_everything(stack) -> None:
    """Pre-moderate the site so no comment changes an author's history; only the model can move a score."""
    with stack.sessions.begin() as session:
        site = find_site(session, stack.site_key)
        rules = PolicyRules(premoderation="all")
        session.add(Policy(site_id=site.id, version=2, thresholds=rules.thresholds_json(), premoderation="all",
                           created_by="test"))


def _moderator_token(stack) -> dict:
    with stack.sessions.begin() as session:
        user = create_user(session, f"mod-{stack.site_key[-6:]}@example.org", "long enough password", "admin")
        _, secret = create_api_token(session, user, "pipeline test")
    return {"Authorization": f"Bearer {secret}"}


def _global_version(stack) -> int:
    with stack.sessions() as session:
        return session.scalar(select(func.coalesce(func.max(SpamModelState.version), 0))
                              .where(SpamModelState.scope == GLOBAL_SCOPE))


def test_moderators_rejecting_spam_raise_a_similar_comment_and_the_model_survives_a_restart(stack):
    _hold_everything(stack)
    headers = _moderator_token(stack)
    worker = stack.start_worker("first")
    probe = "Earn money from home with our crypto trading signals, message me on telegram"

    before_id = post_as(stack, "probe", probe, "10.2.0.1")
    stack.wait_decided([before_id])
    before = stack.comments([before_id])[before_id].scores["spam"]

    training = [
        "Make money fast with crypto trading signals, contact me on telegram",
        "Crypto signals that earn money daily, message our telegram group",
        "Earn from home trading crypto, our signals group on telegram is free",
        "Telegram crypto trading group: money every day from home",
    ]
    ids = [post_as(stack, f"spammer{n}", body, f"10.3.0.{n}") for n, body in enumerate(training)]
    stack.wait_decided(ids)
    start_version = _global_version(stack)
    for comment_id in ids:
        response = stack.client.post(f"/api/v1/moderation/comments/{comment_id}/decision",
                                     json={"action": "reject", "reason": "spam"}, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
    wait_until(lambda: _global_version(stack) >= start_version + len(ids), 30, 0.2, message="labels learned")

    after_id = post_as(stack, "probe", probe, "10.2.0.2")
    stack.wait_decided([after_id])
    after = stack.comments([after_id])[after_id].scores["spam"]
    assert after > before + 0.1, (before, after)

    worker.stop()
    stack.start_worker("second")
    restarted_id = post_as(stack, "probe", probe, "10.2.0.3")
    stack.wait_decided([restarted_id])
    scored = stack.comments([after_id, restarted_id])
    # The new worker reads the learned state from the database: same model versions, and the score stays
    # up (higher still: the previous probe was rejected, which adds the prior-rejection signal).
    assert scored[restarted_id].score_sources["spam"] == scored[after_id].score_sources["spam"]
    assert scored[restarted_id].score_sources["spam"].startswith(f"spam-model/global.{start_version + len(ids)}+")
    assert scored[restarted_id].scores["spam"] >= after
