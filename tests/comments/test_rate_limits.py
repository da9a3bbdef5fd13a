"""Posting limits per address and per author (429 with Retry-After, nothing stored); Flask-Limiter's limits on
reports, and its hooks kept off posted comments."""

from __future__ import annotations

import uuid

import pytest
from service import create_app
from service.comments.models import PUBLISHED, Comment


@pytest.fixture
def limited_client(settings, session_factory):
    # A Redis database of its own for the counters, so other tests' posts do not count.
    limited = settings.replace(rate_limit_ip="4/minute", rate_limit_author="2/minute",
                               redis_url="redis://127.0.0.1:6379/8")
    return create_app(limited, session_factory=session_factory).test_client()


def own_address() -> dict:
    """A client address no other test posts from (the address limit counts across tests)."""
    return {"REMOTE_ADDR": f"10.8.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"}


def comment(site, author: str) -> dict:
    return {"site": site.public_key, "article": {"id": "a"}, "author": {"name": author}, "body": "hello"}


def test_an_author_posting_too_fast_gets_429_with_retry_after(limited_client, site, new_comments):
    author = f"fast-{uuid.uuid4().hex[:6]}"
    address = own_address()
    accepted = [limited_client.post("/api/v1/comments", json=comment(site, author), environ_base=address)
                for _ in range(2)]
    refused = limited_client.post("/api/v1/comments", json=comment(site, author), environ_base=address)

    assert [a.status_code for a in accepted] == [202, 202]
    # No Retry-After (nor X-RateLimit-*, which would cost a Redis round trip each) on an accepted comment.
    assert not any(name.startswith(("Retry-After", "X-RateLimit")) for name in accepted[0].headers.keys())
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    assert new_comments() == 2


def test_one_address_is_limited_across_authors(limited_client, site, new_comments):
    address = own_address()
    codes = [
        limited_client.post("/api/v1/comments", json=comment(site, f"a{n}-{uuid.uuid4().hex[:6]}"),
                            environ_base=address).status_code
        for n in range(5)
    ]
    assert codes == [202, 202, 202, 202, 429]
    assert new_comments() == 4


def test_limits_fail_open_when_redis_is_down(settings, session_factory, site, db_session):
    app = create_app(settings.replace(rate_limit_author="1/minute", redis_url="redis://127.0.0.1:1/0"),
                     session_factory=session_factory)
    client = app.test_client()
    codes = [client.post("/api/v1/comments", json=comment(site, "same")).status_code for _ in range(3)]
    assert codes == [202, 202, 202]


def test_each_period_of_a_limit_counts(settings, session_factory, site, new_comments):
    # The default limits name two periods each ("5/minute;30/hour"): the longer one holds on its own.
    app = create_app(settings.replace(rate_limit_author="50/minute;2/hour", redis_url="redis://127.0.0.1:6379/8"),
                     session_factory=session_factory)
    author = f"hourly-{uuid.uuid4().hex[:6]}"
    client = app.test_client()
    codes = [client.post("/api/v1/comments", json=comment(site, author), environ_base=own_address()).status_code
             for _ in range(3)]
    assert codes == [202, 202, 429]
    assert new_comments() == 2


def test_limits_library_reads_the_counters_posting_keeps(limited_client, site):
    """Retry-After comes from `limits`' own window statistics, so the pipelined script must keep its counters
    under the names `limits` reads (a change in a `limits` release would show here)."""
    from limits import parse

    author = f"counted-{uuid.uuid4().hex[:6]}"
    limited_client.post("/api/v1/comments", json=comment(site, author), environ_base=own_address())
    posting = limited_client.application.extensions["modqueue.posting_limits"]
    stats = posting.strategy.get_window_stats(parse("2/minute"), "posting-author", f"author:name:{author}")
    assert stats.remaining == 1
    limited_client.post("/api/v1/comments", json=comment(site, author), environ_base=own_address())
    stats = posting.strategy.get_window_stats(parse("2/minute"), "posting-author", f"author:name:{author}")
    assert stats.remaining == 0


def test_limits_count_on_after_redis_forgets_its_scripts(limited_client, site, new_comments):
    # A restarted Redis keeps no Lua scripts: the first pipeline finds none, nothing is counted twice.
    import redis

    author = f"flushed-{uuid.uuid4().hex[:6]}"
    first = limited_client.post("/api/v1/comments", json=comment(site, author), environ_base=own_address())
    redis.Redis.from_url("redis://127.0.0.1:6379/8").script_flush()
    second = limited_client.post("/api/v1/comments", json=comment(site, author), environ_base=own_address())
    third = limited_client.post("/api/v1/comments", json=comment(site, author), environ_base=own_address())
    assert [first.status_code, second.status_code, third.status_code] == [202, 202, 429]
    assert new_comments() == 2


def test_reports_are_limited_per_address_by_flask_limiter(limited_client, site, db_session):
    comment_id = limited_client.post("/api/v1/comments", json=comment(site, f"reported-{uuid.uuid4().hex[:6]}"),
                                     environ_base=own_address()).get_json()["id"]
    db_session.get(Comment, comment_id).status = PUBLISHED
    db_session.commit()
    address = own_address()

    codes = [limited_client.post(f"/api/v1/comments/{comment_id}/reports", json={"reason": "spam"},
                                 environ_base=address).status_code for _ in range(5)]

    assert codes == [202, 202, 202, 202, 429]  # MODQUEUE_RATE_LIMIT_IP: 4/minute


def test_flask_limiter_looks_at_other_requests_but_not_at_posted_comments(limited_client, site, monkeypatch):
    """A comment's limits are PostingLimits': Flask-Limiter's per-request hooks are skipped for it."""
    from service.ratelimit import limiter

    looked_at = []
    identify = limiter.identify_request
    monkeypatch.setattr(limiter, "identify_request", lambda: looked_at.append(1) or identify())

    posted = limited_client.post("/api/v1/comments", json=comment(site, f"unlooked-{uuid.uuid4().hex[:6]}"),
                                environ_base=own_address())
    limiter_free = len(looked_at)
    read = limited_client.get(posted.headers["Location"])

    assert posted.status_code == 202 and limiter_free == 0
    assert read.status_code == 200 and len(looked_at) > 0


# The connection the posting limits keep (`KeptConnection`): two system calls a round trip, and what a
# pool would have handled for it: a connection the server dropped, a server that stops answering, a fork.

def kept_connection(url: str = "redis://127.0.0.1:6379/8", timeout: float = 2):
    import redis
    from service.ratelimit import KeptConnection

    return KeptConnection(redis.ConnectionPool.from_url(url), timeout=timeout)


def test_the_kept_connection_sends_on_a_blocking_socket_the_kernel_times_out():
    import socket
    import struct

    kept = kept_connection(timeout=1.5)
    assert kept.execute([("SET", "kept-probe", "1"), ("GET", "kept-probe")]) == [b"OK", b"1"]  # replies as sent
    sock = kept._connection._sock
    assert sock.gettimeout() is None  # no poll before each send and read
    assert struct.unpack("ll", sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)) == (1, 500_000)
    assert struct.unpack("ll", sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, 16)) == (1, 500_000)


def test_a_command_error_is_its_reply_and_the_connection_stays():
    from redis.exceptions import ResponseError

    kept = kept_connection()
    kept.execute([("SET", "kept-text", "a")])
    connection = kept._connection
    replies = kept.execute([("INCR", "kept-text"), ("GET", "kept-text")])
    assert isinstance(replies[0], ResponseError) and replies[1] == b"a"
    assert kept._connection is connection


def test_the_kept_connection_is_made_again_when_the_server_dropped_it():
    import redis

    kept = kept_connection()
    first_id = kept.execute([("CLIENT", "ID")])[0]
    redis.Redis.from_url("redis://127.0.0.1:6379/8").client_kill_filter(_id=first_id)  # as a Redis restart would

    replies = kept.execute([("INCR", "kept-counter"), ("CLIENT", "ID")])

    assert isinstance(replies[0], int) and replies[1] != first_id


def test_a_server_that_stops_answering_fails_the_call_after_the_timeout():
    """A listening socket nobody serves: the connection is made (the kernel's backlog), the pipeline is sent,
    and no reply comes. The call fails (the limits then let comments through) rather than waiting for ever."""
    import socket
    import time

    import redis

    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        # No handshake to wait on: RESP2, no client name or library details sent on connecting.
        kept = kept_connection(f"redis://127.0.0.1:{port}/0?protocol=2&lib_name=&lib_version=", timeout=0.3)
        kept._pool.connection_kwargs.update(lib_name=None, lib_version=None)
        began = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            kept.execute([("PING",)])
        waited = time.monotonic() - began
    assert kept._connection is None  # nothing half read is used again
    assert waited >= 0.3


def test_a_forked_child_makes_its_own_connection():
    import os

    kept = kept_connection()
    parent_id = kept.execute([("CLIENT", "ID")])[0]
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write_end, str(kept.execute([("CLIENT", "ID")])[0]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    child_id = int(os.read(read_end, 64))
    os.waitpid(child, 0)
    assert child_id != parent_id
    assert kept.execute([("CLIENT", "ID")])[0] == parent_id  # the parent's connection is untouched
