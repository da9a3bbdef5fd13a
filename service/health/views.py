"""Liveness and readiness probes."""

from __future__ import annotations

import json

import redis
from flask import Blueprint, Response, jsonify
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from service.comments.models import PENDING, Comment
from service.extensions import db, redis_store
from service.metrics import QueueDepth, render
from service.scorer_status import read_scorer_states

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


def _database_check() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True}
    except SQLAlchemyError as exc:
        return {"ok": False, "error": type(exc).__name__}


def _redis_check() -> dict:
    try:
        redis_store.client.ping()
        return {"ok": True}
    except redis.RedisError as exc:
        return {"ok": False, "error": type(exc).__name__}


def _scorer_check() -> dict:
    try:
        workers = read_scorer_states(redis_store.client)
    except redis.RedisError:
        return {"ok": False, "state": "unknown", "workers": []}
    fallback = [w for w in workers if w["backend"] == "fallback"]
    state = "none" if not workers else "fallback" if fallback else "ok"
    # A fallback scorer still decides comments, so it degrades readiness without failing it.
    return {"ok": True, "state": state, "degraded": bool(fallback), "workers": workers}


@bp.get("/readyz")
def readyz():
    checks = {"database": _database_check(), "redis": _redis_check(), "scorer": _scorer_check()}
    ready = checks["database"]["ok"] and checks["redis"]["ok"]
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    return json.dumps(body), 200 if ready else 503, {"Content-Type": "application/json"}


@bp.get("/metrics")
def metrics():
    try:
        queued = float(redis_store.client.llen("celery"))
    except redis.RedisError:
        queued = None
    try:
        pending = float(db.session.scalar(select(func.count()).select_from(Comment).where(Comment.status == PENDING)))
    except SQLAlchemyError:
        pending = None
    return Response(render(QueueDepth(queued, pending)), content_type="text/plain; version=0.0.4; charset=utf-8")
