"""Moderation events on Redis pub/sub (`comment.flagged`, `comment.decided`), sent after commit."""

from __future__ import annotations

import json
import logging

import redis

CHANNEL = "modqueue:events"
#: The events of a comment's new status: held for review, or otherwise decided.
FLAGGED_EVENT, DECIDED_EVENT = DECISION_EVENTS = ("comment.flagged", "comment.decided")
log = logging.getLogger(__name__)


def decision_event_type(status: str) -> str:
    """The event of a comment's new status, as the worker publishes it."""
    return FLAGGED_EVENT if status == "flagged" else DECIDED_EVENT


def publish_event(client: redis.Redis, event_type: str, **payload) -> None:
    """Publish one event."""
    publish_events(client, [(event_type, payload)])


def publish_events(client: redis.Redis, events: list[tuple[str, dict]]) -> None:
    """Publish events in one round trip (a pipeline). Losing them only delays a dashboard refresh, so
    failures are logged, not raised."""
    if not events:
        return
    try:
        pipe = client.pipeline(transaction=False)
        for event_type, payload in events:
            pipe.publish(CHANNEL, json.dumps({"type": event_type, **payload}))
        pipe.execute()
    except redis.RedisError:
        log.warning("could not publish %d events", len(events))
