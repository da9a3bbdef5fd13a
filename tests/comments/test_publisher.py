"""The web process's scoring publisher: every id handed to it is sent, many per round trip, and a broker
that is down costs the request nothing (the sweeper queues what could not be sent)."""

from __future__ import annotations

import logging
import threading
import time

from prometheus_client import CollectorRegistry, Counter

from service.publisher import BatchPublisher


class Recorder:
    """A `send` that records its calls and, while `fail` is set, raises like an unreachable broker."""

    def __init__(self, delay: float = 0.0):
        self.calls: list[list[str]] = []
        self.fail = False
        self.delay = delay

    def __call__(self, ids: list[str]) -> None:
        time.sleep(self.delay)
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.calls.append(list(ids))

    @property
    def sent(self) -> list[str]:
        return [i for call in self.calls for i in call]


def test_every_id_is_sent_once_in_fewer_round_trips_than_ids():
    send = Recorder(delay=0.005)
    publisher = BatchPublisher(send, linger=0.005)

    def submit(prefix: str) -> None:
        for n in range(50):
            assert publisher.submit(f"{prefix}-{n}")

    threads = [threading.Thread(target=submit, args=(f"t{k}",)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert publisher.flush(5)

    assert sorted(send.sent) == sorted(f"t{k}-{n}" for k in range(8) for n in range(50))
    assert len(send.calls) < 400 / 4


def wait_for_calls(send: Recorder, n: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while len(send.calls) < n:
        assert time.monotonic() < deadline, f"{n} round trips expected, {send.calls} made"
        time.sleep(0.002)


def test_a_lone_id_after_a_quiet_spell_is_sent_at_once():
    send = Recorder()
    publisher = BatchPublisher(send, linger=2.0)
    started = time.monotonic()
    publisher.submit("only")

    wait_for_calls(send, 1)  # no flush(), which would cut any linger short
    assert send.calls == [["only"]]
    assert time.monotonic() - started < 1.0


def test_ids_soon_after_a_round_trip_wait_out_its_linger_and_go_together():
    send = Recorder()
    publisher = BatchPublisher(send, linger=0.5)
    publisher.submit("first")
    wait_for_calls(send, 1)
    sent_first = time.monotonic()
    publisher.submit("second")
    publisher.submit("third")

    wait_for_calls(send, 2)
    waited = time.monotonic() - sent_first
    assert send.calls == [["first"], ["second", "third"]]
    assert 0.4 <= waited < 2.0, waited


def test_an_unreachable_broker_is_retried_then_left_to_the_sweeper(caplog):
    send = Recorder()
    send.fail = True
    counter = Counter("published", "ids by outcome", ["outcome"], registry=CollectorRegistry())
    publisher = BatchPublisher(send, linger=0, attempts=3, retry_delay=0.01, counter=counter)

    with caplog.at_level(logging.WARNING, logger="service.publisher"):
        started = time.monotonic()
        assert publisher.submit("lost-1")  # the request does not wait for the broker
        assert time.monotonic() - started < 0.05
        assert publisher.flush(5)
    assert send.calls == []
    assert "1 comments left for the sweeper" in caplog.text

    send.fail = False  # the broker is back: later ids go through
    publisher.submit("later")
    assert publisher.flush(5)
    assert send.sent == ["later"]
    assert counter.labels("left_for_sweeper")._value.get() == 1 and counter.labels("sent")._value.get() == 1


def test_a_full_buffer_refuses_more_ids_instead_of_growing():
    gate = threading.Event()
    send = Recorder()

    def blocked(ids):
        gate.wait(5)
        send(ids)

    publisher = BatchPublisher(blocked, linger=0, max_pending=3, max_batch=1)
    results = [publisher.submit(f"c{n}") for n in range(6)]
    gate.set()
    assert publisher.flush(5)

    # One id is in flight once the thread takes it; the buffer holds three more, the rest are refused.
    assert results.count(False) >= 2
    assert sorted(send.sent) == sorted(f"c{n}" for n, ok in enumerate(results) if ok)


def test_a_process_s_first_concurrent_posts_share_one_publisher_and_one_celery_app(app):
    from service.extensions import task_queue
    from service.publisher import _publishers

    before = len(_publishers)
    start = threading.Barrier(16)
    seen: list[tuple[int, int]] = []

    def first_post() -> None:
        with app.app_context():
            start.wait()
            seen.append((id(task_queue.scoring_publisher), id(task_queue.celery)))

    threads = [threading.Thread(target=first_post) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 16 and len(set(seen)) == 1
    assert len(_publishers) == before + 1  # one publisher made (each made one holds a thread once used)
