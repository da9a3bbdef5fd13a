"""POST → Redis → real Celery worker → policy → decision, against real Postgres and Redis."""

from __future__ import annotations

import json
import os
import re
import signal
import sys

import pytest
from detoxify import Detoxify

from service.moderation.policy import PolicyRules, apply_policy
from service.scorer_status import read_scorer_states
from tests.support.waiting import wait_until

pytestmark = pytest.mark.pipeline


def test_worker_publishes_clean_comment_and_flags_abusive_one(stack):
    events = stack.redis.pubsub()
    events.subscribe("modqueue:events")
    stack.start_worker()

    clean = stack.post("Interesting analysis, thanks for writing it.")["id"]
    abusive = stack.post("You are a fucking idiot and everyone hates you.")["id"]

    assert stack.wait_decided([clean, abusive]) == {clean: "published", abusive: "flagged"}
    flagged = stack.comments([abusive])[abusive]
    assert flagged.reasons[0]["attribute"] == "toxicity"
    assert flagged.reasons[0]["text"].startswith("toxicity 1.00 ≥ review_at 0.80")
    assert flagged.score_sources["toxicity"].startswith("fallback/alt-profanity-check@")
    audit = sorted((a.comment_id, a.actor, a.from_status, a.to_status, a.policy_version) for a in stack.audit([clean, abusive]))
    assert audit == sorted([(clean, "auto", "pending", "published", 1), (abusive, "auto", "pending", "flagged", 1)])

    def flagged_event():
        message = events.get_message(timeout=0.2)
        return message and message["type"] == "message" and json.loads(message["data"])["id"] == abusive and message

    event = json.loads(wait_until(flagged_event, 10, 0, message="comment.flagged event")["data"])
    assert event == {"type": "comment.flagged", "id": abusive, "site": stack.site_key, "status": "flagged"}
    thread = stack.client.get(f"/api/v1/sites/{stack.site_key}/articles/story/comments").get_json()
    assert [c["id"] for c in thread["comments"]] == [clean]


def test_readyz_reports_the_fallback_scorer_loudly(stack):
    stack.start_worker()
    stack.wait_decided([stack.post("hello there")["id"]])

    body = stack.client.get("/readyz").get_json()

    assert body["status"] == "ready"
    assert body["checks"]["scorer"]["state"] == "fallback"
    assert body["checks"]["scorer"]["degraded"] is True
    assert "MODQUEUE_TOXICITY_MODEL=fallback" in body["checks"]["scorer"]["workers"][0]["fallback_reason"]


def test_worker_scores_queued_comments_in_batches_with_detoxify_checkpoint(stack, tiny_checkpoint):
    bodies = ["you are an idiot", "nice article thanks", "thanks", "stupid", "an article", "you are nice"]
    ids = [stack.post(body)["id"] for body in bodies]
    worker = stack.start_worker(
        "detoxify", MODQUEUE_TOXICITY_MODEL="original", MODQUEUE_DETOXIFY_CHECKPOINT=str(tiny_checkpoint),
        MODQUEUE_TORCH_PRECISION="fp32",
    )

    stack.wait_decided(ids)

    reference = Detoxify(checkpoint=str(tiny_checkpoint))
    rules = PolicyRules()
    for body, comment in zip(bodies, (stack.comments(ids)[i] for i in ids)):
        expected = reference.predict(body)
        assert comment.scores.keys() - {"spam"} == expected.keys()
        for name, value in expected.items():
            assert comment.scores[name] == pytest.approx(value, abs=1e-4)
            assert comment.score_sources[name].startswith("detoxify/original@detoxify-test-")
        assert comment.status == apply_policy(rules, comment.scores).status
    batch_sizes = [int(n) for n in re.findall(r"(\d+) comments decided", worker.log)]
    assert sum(batch_sizes) == len(ids)
    assert max(batch_sizes) > 1, f"comments were scored one by one: {batch_sizes}"
    assert "FALLING BACK" not in worker.log


def test_the_pool_shares_the_model_its_main_process_loaded_before_forking(stack, tiny_checkpoint):
    worker = stack.start_process("pool", [
        sys.executable, "-m", "celery", "-A", "workers.main", "worker", "--concurrency", "2", "--loglevel", "INFO",
        "--without-mingle", "--without-gossip", "-n", "test-pool@%h",
    ], MODQUEUE_TOXICITY_MODEL="original", MODQUEUE_DETOXIFY_CHECKPOINT=str(tiny_checkpoint),
        MODQUEUE_TORCH_PRECISION="fp32", MODQUEUE_TORCH_THREADS="1")
    worker.wait_for_log("ready.")

    def announcing_pids() -> set[int]:
        return {int(state["worker"].rpartition(":")[2]) for state in read_scorer_states(stack.redis)}

    children = {p.pid for p in worker.tree()[1:]}
    assert wait_until(lambda: announcing_pids() == children and len(children) == 2, 30, 0.2, "both children announced")
    ids = [stack.post(body)["id"] for body in ("you are an idiot", "nice article thanks", "thanks")]
    assert set(stack.wait_decided(ids)) == set(ids)
    # Loaded once, in the main process (which announces nothing: it scores nothing); each child was ready at once.
    assert worker.log.count("toxicity scorer loaded") == 1
    assert worker.log.count("scorers loaded before forking the pool") == 1
    assert worker.log.count("scorers ready: detoxify/original@detoxify-test-") == 2

    # A pool process that dies is replaced by a fork of the main process: ready with the model, not reloading.
    os.kill(min(children), signal.SIGKILL)
    wait_until(lambda: worker.log.count("scorers ready: detoxify/") == 3, 30, 0.2, "a replacement child ready")
    assert worker.log.count("toxicity scorer loaded") == 1
    replacement = {p.pid for p in worker.tree()[1:]} - children
    assert wait_until(lambda: replacement and replacement <= announcing_pids(), 30, 0.2, "replacement announced")
    later = stack.post("another comment for the rebuilt pool")["id"]
    assert set(stack.wait_decided([later])) == {later}


def test_a_banned_author_is_rejected_and_a_suspended_one_held_by_the_worker(stack):
    from service.accounts.operations import create_api_token, create_user

    with stack.sessions.begin() as session:
        user = create_user(session, f"ban-{stack.site_key[-6:]}@example.org", "long enough password", "admin")
        _, secret = create_api_token(session, user, "test")
    headers = {"Authorization": f"Bearer {secret}"}
    stack.start_worker()
    first = stack.post("Harmless words", author={"name": "Repeat Offender"})["id"]
    other = stack.post("Also harmless", author={"name": "Sometimes Rude"})["id"]
    stack.wait_decided([first, other])
    for comment_id, kind in ((first, "ban"), (other, "suspend")):
        response = stack.client.post(f"/api/v1/moderation/comments/{comment_id}/author-restriction",
                                     json={"kind": kind, "days": 3}, headers=headers)
        assert response.status_code == 200

    banned = stack.post("Harmless again", author={"name": "Repeat Offender"})["id"]
    suspended = stack.post("Harmless again", author={"name": "Sometimes Rude"})["id"]

    assert stack.wait_decided([banned, suspended]) == {banned: "rejected", suspended: "flagged"}
    assert stack.comments([banned])[banned].reasons[0]["text"] == "author banned on this site"


def test_a_comment_after_a_policy_change_is_decided_by_the_new_version(stack):
    from service.accounts.operations import create_api_token, create_user
    from service.moderation.policy import PolicyRules

    with stack.sessions.begin() as session:
        user = create_user(session, f"policy-{stack.site_key[-6:]}@example.org", "long enough password", "admin")
        _, secret = create_api_token(session, user, "test")
    thresholds = PolicyRules().thresholds_json()
    thresholds["toxicity"] = {"review_at": 0.0, "reject_at": None}
    saved = stack.client.post(f"/api/v1/admin/sites/{stack.site_key}/policy",
                              json={"thresholds": thresholds, "premoderation": "flagged"},
                              headers={"Authorization": f"Bearer {secret}"})
    assert saved.status_code == 201
    stack.start_worker()

    comment_id = stack.post("A perfectly polite remark.")["id"]

    assert stack.wait_decided([comment_id]) == {comment_id: "flagged"}
    [change] = stack.audit([comment_id])
    assert change.policy_version == 2
