"""The one place that reads the MODQUEUE_* environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

TOXICITY_MODELS = ("original", "unbiased", "multilingual", "original-small", "unbiased-small", "fallback")
DEFAULT_INSTANCE_PATH = Path.cwd() / "instance"


class SettingsError(ValueError):
    """An environment variable holds a value modqueue cannot use."""


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = environ.get(name) or default
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Typed, read-only configuration; build it with `Settings.from_env()`."""

    database_url: str
    redis_url: str | None
    secret_key: str
    toxicity_model: str = "original"
    detoxify_checkpoint: str | None = None
    instance_path: Path = field(default=DEFAULT_INSTANCE_PATH)
    # Comments still pending this long after they were last queued are queued again by the sweeper.
    sweep_after_seconds: int = 60
    sweep_interval_seconds: float = 30.0
    # Unacknowledged messages return to the queue after this long; longer than any batch takes.
    visibility_timeout_seconds: int = 300
    # Comments per batch, one model call in one pool process. 32 rather than 64: a burst then spreads
    # over the pool's processes (192 comments: six batches, three each, rather than three, two in one
    # process while the other idles). A core that is never idle scores 5-8% more in batches of 64.
    batch_size: int = 32
    batch_interval_seconds: float = 0.2
    torch_threads: int = 0
    #: Inference precision: auto (bf16 where the hardware has it natively, else int8 on a CPU with VNNI, else
    #: int8 on an AVX2 CPU where it times clearly faster than fp32 as the model loads, else fp32), fp32, bf16
    #: or int8 (CPU).
    torch_precision: str = "auto"
    torch_device: str = "cpu"
    max_body_chars: int = 10_000
    #: Database connections each web process keeps open. More requests in flight than this open and close
    #: extra connections per request (up to twice as many again), which costs more than the request.
    db_pool_size: int = 10
    #: The least time between a web process's publisher's round trips: ids that come sooner after one wait
    #: for the rest of it and go together; an id after a quiet spell goes at once. A round trip's messages
    #: cost the web process about as much CPU as the rest of accepting a comment when they carry one or two
    #: ids (py-spy: 7-10% of its time at 10 ms); at 50 ms a busy process sends many ids per message.
    publish_linger_seconds: float = 0.05
    log_format: str = "text"
    #: Send the session cookie over HTTPS only (turn off only for plain-HTTP development).
    secure_cookies: bool = True
    #: Posting limits (Flask-Limiter syntax), per client address and per author.
    rate_limit_ip: str = "10/minute;100/hour"
    rate_limit_author: str = "5/minute;30/hour"
    #: The worker's main process serves Prometheus metrics on this port (0: off).
    worker_metrics_port: int = 9808
    #: Perspective, Akismet and Coral calls wait this long for a worker's scores, then answer 503/504.
    analysis_timeout_seconds: float = 3.0
    #: Analysis requests arriving within this interval are scored in one batch.
    analysis_batch_interval_seconds: float = 0.02
    #: Calls per API key (or Coral site) to the compatibility APIs (Flask-Limiter syntax).
    rate_limit_compat: str = "600/minute"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read the environment, applying defaults and type conversion."""
        env = os.environ if environ is None else environ
        instance_path = Path(env.get("MODQUEUE_INSTANCE_PATH") or DEFAULT_INSTANCE_PATH)
        toxicity_model = env.get("MODQUEUE_TOXICITY_MODEL") or "original"
        if toxicity_model not in TOXICITY_MODELS:
            raise SettingsError(f"MODQUEUE_TOXICITY_MODEL must be one of {', '.join(TOXICITY_MODELS)}")
        log_format = env.get("MODQUEUE_LOG_FORMAT") or "text"
        if log_format not in ("text", "json"):
            raise SettingsError("MODQUEUE_LOG_FORMAT must be 'text' or 'json'")
        return cls(
            database_url=env.get("MODQUEUE_DATABASE_URL") or f"sqlite:///{instance_path / 'modqueue.db'}",
            redis_url=env.get("MODQUEUE_REDIS_URL") or None,
            secret_key=env.get("MODQUEUE_SECRET_KEY") or secrets.token_urlsafe(32),
            toxicity_model=toxicity_model,
            detoxify_checkpoint=env.get("MODQUEUE_DETOXIFY_CHECKPOINT") or None,
            instance_path=instance_path,
            sweep_after_seconds=_int(env, "MODQUEUE_SWEEP_AFTER_SECONDS", 60),
            sweep_interval_seconds=_float(env, "MODQUEUE_SWEEP_INTERVAL_SECONDS", 30.0),
            visibility_timeout_seconds=_int(env, "MODQUEUE_VISIBILITY_TIMEOUT_SECONDS", 300),
            batch_size=_int(env, "MODQUEUE_BATCH_SIZE", 32),
            batch_interval_seconds=_float(env, "MODQUEUE_BATCH_INTERVAL_SECONDS", 0.2),
            torch_threads=_int(env, "MODQUEUE_TORCH_THREADS", 0),
            torch_precision=_choice(env, "MODQUEUE_TORCH_PRECISION", ("auto", "fp32", "bf16", "int8"), "auto"),
            torch_device=env.get("MODQUEUE_TORCH_DEVICE") or "cpu",
            max_body_chars=_int(env, "MODQUEUE_MAX_BODY_CHARS", 10_000),
            db_pool_size=_int(env, "MODQUEUE_DB_POOL_SIZE", 10),
            publish_linger_seconds=_float(env, "MODQUEUE_PUBLISH_LINGER_SECONDS", 0.05),
            log_format=log_format,
            worker_metrics_port=_int(env, "MODQUEUE_WORKER_METRICS_PORT", 9808),
            secure_cookies=(env.get("MODQUEUE_SECURE_COOKIES") or "true").lower() not in ("0", "false", "no"),
            rate_limit_ip=env.get("MODQUEUE_RATE_LIMIT_IP") or "10/minute;100/hour",
            rate_limit_author=env.get("MODQUEUE_RATE_LIMIT_AUTHOR") or "5/minute;30/hour",
            analysis_timeout_seconds=_float(env, "MODQUEUE_ANALYSIS_TIMEOUT_SECONDS", 3.0),
            analysis_batch_interval_seconds=_float(env, "MODQUEUE_ANALYSIS_BATCH_INTERVAL_SECONDS", 0.02),
            rate_limit_compat=env.get("MODQUEUE_RATE_LIMIT_COMPAT") or "600/minute",
        )

    def replace(self, **changes) -> "Settings":
        """Return a copy with some values changed (tests, the dev runner)."""
        return replace(self, **changes)

    @property
    def redis_client_url(self) -> str:
        """The Redis URL in redis-py's spelling (`unix://` for a socket)."""
        url = self._require_redis()
        return "unix://" + url.removeprefix("redis+socket://") if url.startswith("redis+socket://") else url

    @property
    def rate_limit_storage_url(self) -> str:
        """Where Flask-Limiter keeps its counters: this Redis, or memory when there is none."""
        if not self.redis_url:
            return "memory://"
        url = self.redis_client_url
        return "redis+unix://" + url.removeprefix("unix://") if url.startswith("unix://") else url

    @property
    def broker_url(self) -> str:
        """The Redis URL in kombu's spelling (`redis+socket://` for a socket)."""
        url = self._require_redis()
        return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url

    def _require_redis(self) -> str:
        if not self.redis_url:
            raise SettingsError("MODQUEUE_REDIS_URL is not set (only `modqueue dev` starts an embedded Redis)")
        return self.redis_url
