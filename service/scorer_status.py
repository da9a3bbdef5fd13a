"""Workers announce which scorer they run in Redis, so /readyz and the dashboard can say so."""

from __future__ import annotations

import json

import redis

KEY_PREFIX = "modqueue:scorer:"
TTL_SECONDS = 180


def announce_scorer_state(client: redis.Redis, worker: str, state: dict) -> None:
    client.set(KEY_PREFIX + worker, json.dumps({"worker": worker, **state}), ex=TTL_SECONDS)


def withdraw_scorer_state(client: redis.Redis, worker: str) -> None:
    client.delete(KEY_PREFIX + worker)


def read_scorer_states(client: redis.Redis) -> list[dict]:
    keys = sorted(client.scan_iter(match=KEY_PREFIX + "*", count=100))
    return [json.loads(raw) for raw in client.mget(keys) if raw] if keys else []
