"""Failures lose no comment and decide none twice: killed workers, a wiped Redis, retried requests."""

from __future__ import annotations

import base64
import json
import sys
from collections import Counter

import pytest

from tests.support.waiting import wait_until
from workers.celery_app import SCORE_TASK

pytestmark = pytest.mark.pipeline


def assert_decided_exactly_once(stack, ids):
    statuses = stack.wait_decided(ids, timeout=90)
    assert set(statuses) == set(ids)
    per_comment = Counter(change.comment_id for change in stack.audit(ids))
    assert per_comment == Counter({comment_id: 1 for comment_id in ids})


def queued_ids(stack) -> set[str]:
    """The comment ids named by the scoring messages waiting in Redis."""
    named = set()
    for raw in stack.redis.lrange("celery", 0, -1):
        body = json.loads(base64.b64decode(json.loads(raw)["body"]))
        first = body[0][0]
        named.update(first if isinstance(first, list) else [first])
    return named


def start_beat(stack, **env):
    return stack.start_process(
        "beat",
        [sys.executable, "-m", "celery", "-A", "workers.main", "beat", "--loglevel", "INFO",
         "--schedule", str(stack.tmp_path / "beat-schedule")],
        **env,
    )


def test_worker_killed_mid_batch_loses_nothing_and_decides_nothing_twice(stack):
    """Unacknowledged messages come back after the visibility timeout; a message Redis lost in the
    kill (popped but not yet recorded as unacknowledged) is re-queued by the sweeper, as in production."""
    ids = [stack.post(f"comment number {n} about the article")["id"] for n in range(12)]
    slow = stack.start_worker(
        "slow",
        module="tests.support.slow_worker",
        MODQUEUE_TEST_SCORING_DELAY="1.5",
        MODQUEUE_BATCH_SIZE="4",
        MODQUEUE_VISIBILITY_TIMEOUT_SECONDS="3",
    )
    # Let the first batch of 4 be decided, then kill the worker (and its pool child) while the next one is
    # scoring (each takes 1.5 s). The web's publisher may have named all 12 in one message.
    wait_until(lambda: any(s != "pending" for s in stack.statuses(ids).values()), 60, 0.05,
               message="first batch decided")
    slow.kill_hard()
    first = stack.statuses(ids)
    assert 0 < sum(s != "pending" for s in first.values()) < len(ids)

    recovery = {"MODQUEUE_VISIBILITY_TIMEOUT_SECONDS": "3", "MODQUEUE_BATCH_SIZE": "4",
                "MODQUEUE_SWEEP_AFTER_SECONDS": "10", "MODQUEUE_SWEEP_INTERVAL_SECONDS": "2"}
    stack.start_worker("replacement", **recovery)
    start_beat(stack, **recovery)

    assert_decided_exactly_once(stack, ids)


def test_redis_wiped_with_comments_queued_is_recovered_by_the_sweeper(stack):
    ids = [stack.post(f"queued while no worker runs {n}")["id"] for n in range(5)]
    # The web process publishes after the response, a few milliseconds later; wait until the queue holds
    # all five (in one message or several), so the flush below is sure to lose them.
    wait_until(lambda: queued_ids(stack) == set(ids), 10, 0.02, message="all five queued")
    stack.redis.flushdb()  # what a restart of a Redis that keeps nothing on disk does to the queue
    assert stack.redis.llen("celery") == 0

    env = {"MODQUEUE_SWEEP_AFTER_SECONDS": "2", "MODQUEUE_SWEEP_INTERVAL_SECONDS": "1"}
    stack.start_worker(**env)
    start_beat(stack, **env)

    assert_decided_exactly_once(stack, ids)


def test_same_post_twice_with_one_idempotency_key_is_one_comment_decided_once(stack):
    stack.start_worker()
    headers = {"Idempotency-Key": "client-retry-42"}

    first = stack.post("A fair point, well made.", headers=headers)
    second = stack.post("A fair point, well made.", headers=headers)

    assert first["id"] == second["id"]
    assert_decided_exactly_once(stack, [first["id"]])
    third = stack.post("A fair point, well made.", headers=headers)
    assert third == {"id": first["id"], "status": "published"}


def test_duplicate_messages_for_one_comment_decide_it_once(stack):
    comment_id = stack.post("Duplicated in the queue")["id"]
    celery = stack.client.application.extensions["modqueue.celery"]
    for _ in range(3):
        celery.send_task(SCORE_TASK, args=[comment_id])
    stack.start_worker()

    assert_decided_exactly_once(stack, [comment_id])


def test_a_comment_the_scorers_fail_on_is_held_and_holds_up_no_other(stack):
    ids = [stack.post(f"ordinary comment {n} on the budget")["id"] for n in range(5)]
    poison = stack.post("this one is POISON for the model")["id"]
    ids += [stack.post(f"later comment {n} on the budget")["id"] for n in range(5)]
    worker = stack.start_worker("poisoned", module="tests.support.poison_worker")

    assert_decided_exactly_once(stack, ids + [poison])
    held = stack.comments([poison])[poison]
    assert held.status == "flagged"
    assert [r["code"] for r in held.reasons] == ["scoring_failed"]
    others = stack.statuses(ids)
    assert all(status in ("published", "flagged") for status in others.values())
    assert all(stack.comments([i])[i].scores for i in ids)
    assert "the scorers failed on this comment; holding it for a moderator" in worker.log
