"""Request limits, counted in Redis with `limits` (the library under Flask-Limiter).

Posting a comment is checked by `PostingLimits`: every limit on the client's address and on the author,
in one Redis round trip. The other limited endpoints (reports, sign-in, the compatibility APIs) use
Flask-Limiter's decorators.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
import struct
import threading
import time
from collections.abc import Callable

import redis
from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from service.comments.models import author_key_for
from service.errors import APIError
from service.settings import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "modqueue:limits"
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def author_key() -> str:
    """The author a comment claims to be from (email, else name); the address when the body names none."""
    payload = request.get_json(silent=True) if request.is_json else None
    author = payload.get("author") if isinstance(payload, dict) else None
    if isinstance(author, dict) and isinstance(author.get("name"), str):
        email = author.get("email") if isinstance(author.get("email"), str) else None
        return "author:" + author_key_for(author["name"], email)
    return "address:" + get_remote_address()


def ip_limit() -> str:
    return current_app.config["MODQUEUE_SETTINGS"].rate_limit_ip


class PostingLimits:
    """Limits on posting comments per client address and per author, checked together.

    Counting is `limits`' sliding-window counter, its own Lua script and key names, so `limits` reads the
    same counters (Retry-After comes from its window statistics). Flask-Limiter would send one round trip
    per limit, four with the default settings, and spend as much CPU again on its own bookkeeping; here
    the scripts go to Redis as one pipeline, which carries the limits of every post this process counts
    at the same moment (`hit_many`, from `service.comments.admission`). As with Flask-Limiter, a limit
    that allowed the request has counted it even when another refused it.

    If Redis cannot be reached the comment is accepted: it is stored either way, and losing the limits
    for a moment is better than losing comments.
    """

    def __init__(self, storage_url: str, per_address: str, per_author: str):
        self.per_address = parse_many(per_address)
        self.per_author = parse_many(per_author)
        if storage_url.startswith(("redis://", "rediss://", "redis+unix://")):
            self.storage: RedisStorage | MemoryStorage = RedisStorage(
                storage_url, key_prefix=KEY_PREFIX, socket_connect_timeout=2, socket_timeout=2)
            client = self.storage.get_connection()
            # The script's SHA-1, computed here; Redis is first asked for it by the first comment.
            self._sha: str | None = client.register_script(RedisStorage.SCRIPT_ACQUIRE_SLIDING_WINDOW).sha
            self._kept: KeptConnection | None = KeptConnection(client.connection_pool, timeout=2)
        else:  # no Redis (an app built without one): this process's memory
            self.storage = MemoryStorage()
            self._sha = None
            self._kept = None
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self._warned_at = 0.0

    def _window_keys(self, item: RateLimitItem, *identifiers: str) -> list[str]:
        # The names `limits`' RedisStorage gives a sliding window's previous and current counters.
        current = f"{KEY_PREFIX}:{{{item.key_for(*identifiers)}}}"
        return [current + "/-1", current]

    def hit_many(self, clients: list[tuple[str, str]]) -> list[int | None]:
        """Count one comment for each (address, author) pair (`author`: `author_key()`), in one round trip;
        per pair, None if it may be posted, else the seconds until the first limit it went over lets the
        next one through."""
        checks = [[(item, ("posting-address", address)) for item in self.per_address]
                  + [(item, ("posting-author", author)) for item in self.per_author]
                  for address, author in clients]
        flat = [check for client_checks in checks for check in client_checks]
        try:
            if self._sha is None:
                allowed = [self.strategy.hit(item, *identifiers) for item, identifiers in flat]
            else:
                allowed = self._acquire_all(flat)
        except redis.RedisError as exc:
            self._warn(exc)
            return [None] * len(clients)
        results: list[int | None] = []
        position = 0
        for client_checks in checks:
            refused = next((check for check, ok in zip(client_checks, allowed[position:]) if not ok), None)
            results.append(None if refused is None else self._retry_after(*refused))
            position += len(client_checks)
        return results

    def _acquire_all(self, checks: list[tuple[RateLimitItem, tuple[str, str]]]) -> list:
        for _attempt in range(2):
            results = self._kept.execute([
                ("EVALSHA", self._sha, 2, *self._window_keys(item, *identifiers), item.amount, item.get_expiry(), 1)
                for item, identifiers in checks])
            if not any(isinstance(r, NoScriptError) for r in results):
                break
            # Redis restarted (it keeps no scripts): no script ran, so nothing was counted; load it, count.
            self._sha = self.storage.get_connection().script_load(RedisStorage.SCRIPT_ACQUIRE_SLIDING_WINDOW)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    def _retry_after(self, item: RateLimitItem, identifiers: tuple[str, str]) -> int:
        try:
            reset_at = self.strategy.get_window_stats(item, *identifiers).reset_time
        except redis.RedisError:
            return item.get_expiry()
        return max(1, math.ceil(reset_at - time.time()))

    def _warn(self, exc: Exception) -> None:
        if time.monotonic() - self._warned_at > 60:
            self._warned_at = time.monotonic()
            log.warning("posting limits not checked, Redis unreachable (%s); comments accepted meanwhile", exc)


class KeptConnection:
    """One Redis connection a process keeps for one kind of pipeline (the posting limits'), sent on without
    taking it from a pool.

    A post's limits are counted in the grouped call every other post of the moment waits on, and each
    system call on the way lets another thread take the GIL, which the call must then wait to get back.
    Taking a connection from redis-py's pool makes three (its check that nothing is left to read), and a
    socket with a timeout polls before each send and each read, two more: seven for one round trip, where
    this connection makes two (send, read). Its socket blocks, and the kernel times out a send or a read
    that takes longer than `timeout` seconds (`SO_SNDTIMEO`, `SO_RCVTIMEO`), which redis-py reports as a
    ConnectionError. A connection found dead (Redis restarted since its last use) is made again and the
    pipeline sent once more; a fresh one that fails raises.
    """

    def __init__(self, pool: redis.ConnectionPool, *, timeout: float):
        self._pool = pool
        self.timeout = timeout
        self._lock = threading.Lock()
        self._connection = None
        self._pid = os.getpid()

    def execute(self, commands: list[tuple]) -> list:
        """Each command's reply, in order (a command's own error, such as NoScriptError, as its reply)."""
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's socket is not this process's to use
                self._connection, self._pid = None, os.getpid()
            kept = self._connection is not None
            try:
                return self._send(commands)
            except RedisConnectionError:
                if not kept:
                    raise
                return self._send(commands)  # the kept connection had died: once more, on a new one

    def _send(self, commands: list[tuple]) -> list:
        connection = self._connection or self._connect()
        try:
            connection.send_packed_command(connection.pack_commands(commands), check_health=False)
            replies = []
            for _command in commands:
                try:
                    replies.append(connection.read_response())
                except ResponseError as exc:
                    replies.append(exc)
            return replies
        except BaseException:
            # A reply may be left half read: the connection is not used again.
            self._connection = None
            connection.disconnect()
            raise

    def _connect(self):
        connection = self._pool.connection_class(**self._pool.connection_kwargs)
        connection.connect()  # the pool's timeouts for connecting and for the handshake
        sock = connection._sock  # redis-py keeps no public handle on it
        limit = struct.pack("ll", int(self.timeout), int(self.timeout % 1 * 1_000_000))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
        sock.settimeout(None)
        self._connection = connection
        return connection


def refuse(retry_after: int) -> None:
    """Answer a post over the limits: 429, with Retry-After."""
    g.retry_after = str(retry_after)
    raise APIError(429, "rate_limited", "too many comments in a short time; try again later")


POSTING_ENDPOINT = "comments.create_comment"


def _skipped_when_posting(hook: Callable, passes_response: bool) -> Callable:
    """`hook` (a before-, after- or teardown-request function) for every request but a posted comment's; an
    after-request hook passes that one's response on untouched."""

    @functools.wraps(hook)
    def unless_posting(*args):
        if request.endpoint == POSTING_ENDPOINT:
            return args[0] if passes_response else None
        return hook(*args)

    return unless_posting


def init_rate_limits(app: Flask, settings: Settings) -> None:
    app.config.update(
        RATELIMIT_STORAGE_URI=settings.rate_limit_storage_url,
        # Two Redis counters per limit instead of a sorted set of every hit (moving-window).
        RATELIMIT_STRATEGY="sliding-window-counter",
        # No X-RateLimit-* headers: they cost a Redis round trip on every request. A refused request gets
        # Retry-After (service.errors).
        RATELIMIT_HEADERS_ENABLED=False,
        # If Redis is down, let requests through rather than fail them.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_KEY_PREFIX=KEY_PREFIX,
    )
    hook_lists = (app.before_request_funcs.setdefault(None, []), app.after_request_funcs.setdefault(None, []),
                  app.teardown_request_funcs.setdefault(None, []))
    earlier = [list(hooks) for hooks in hook_lists]
    limiter.init_app(app)
    # Flask-Limiter's hooks run on every request (find the limits that apply, count conditional deductions,
    # reset its context): for a posted comment, whose limits are PostingLimits', they would find nothing,
    # at 7% of the request's CPU. They are skipped for it.
    for n, hooks in enumerate(hook_lists):
        hooks[:] = [hook if hook in earlier[n] else _skipped_when_posting(hook, passes_response=n == 1)
                    for hook in hooks]

    app.extensions["modqueue.posting_limits"] = PostingLimits(
        settings.rate_limit_storage_url, settings.rate_limit_ip, settings.rate_limit_author)
