"""Run it like production: the compose file's commands, metrics, JSON logs and graceful shutdown."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.pipeline.test_faults import assert_decided_exactly_once, queued_ids
from tests.support.processes import ROOT, modqueue_env
from tests.support.waiting import wait_until

pytestmark = pytest.mark.pipeline
MODQUEUE = str(Path(sys.executable).parent / "modqueue")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def compose_command(service: str, port: int | None = None) -> list[str]:
    """The command docker-compose.yml runs for a service (the web port swapped for a free one)."""
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][service]["command"]
    assert command[0] == "modqueue"
    command = [MODQUEUE, *command[1:]]
    if port is not None:
        command[command.index("--port") + 1] = str(port)
    return command


def metric(text: str, name: str, **labels) -> float:
    """Sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match:
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(match.group(2))
    return total


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=3)
    except httpx.HTTPError:
        return None


def test_compose_commands_run_the_stack_and_metrics_count_what_happened(stack):
    web_port, metrics_port = free_port(), free_port()
    env = {"MODQUEUE_LOG_FORMAT": "json", "MODQUEUE_WORKER_METRICS_PORT": str(metrics_port)}
    migrate = subprocess.run(compose_command("migrate"), env=modqueue_env(stack.settings, **env), cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    # Warnings shown for the web (the tests' processes hide them): gevent warns if it patches too late.
    web = stack.start_process("web", compose_command("web", web_port), **env, PYTHONWARNINGS="default")
    worker = stack.start_process("worker", compose_command("worker"), **env)
    stack.start_process("beat", compose_command("beat"), **env)
    base = f"http://127.0.0.1:{web_port}"
    wait_until(lambda: (r := _get(f"{base}/readyz")) is not None and r.status_code == 200, 60, 0.5, "web ready")
    wait_until(lambda: _get(f"http://127.0.0.1:{metrics_port}/metrics"), 90, 0.5, message="worker metrics")

    ids = []
    for body in ("Thanks for this.", "You are a fucking idiot", "Well argued."):
        response = httpx.post(f"{base}/api/v1/comments", json={
            "site": stack.site_key, "article": {"id": "ops"}, "author": {"name": "Ops"}, "body": body})
        assert response.status_code == 202
        ids.append(response.json()["id"])
    statuses = stack.wait_decided(ids)

    web_metrics = httpx.get(f"{base}/metrics").text
    worker_metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    assert metric(web_metrics, "modqueue_comments_received_total", site=stack.site_key) == 3
    assert metric(web_metrics, "modqueue_scoring_ids_published_total", outcome="sent") == 3
    assert metric(web_metrics, "modqueue_pending_comments") >= 0
    assert "modqueue_queue_depth" in web_metrics
    assert metric(worker_metrics, "modqueue_comments_decided_total", site=stack.site_key, decided_by="policy") == 3
    assert metric(worker_metrics, "modqueue_comments_decided_total", site=stack.site_key, outcome="flagged") == 1
    assert metric(worker_metrics, "modqueue_post_to_decision_seconds_count") >= 3
    assert metric(worker_metrics, "modqueue_scoring_batch_size_sum") >= 3
    assert sorted(statuses.values()) == ["flagged", "published", "published"]

    decided_lines = [json.loads(line) for line in worker.log.splitlines()
                     if line.startswith("{") and '"decided ' in line]
    assert {line["comment_id"] for line in decided_lines} == set(ids)
    assert all(line["task_id"] for line in decided_lines)
    # The web's gevent workers wait on Postgres through gevent's poll: psycopg's C wait would hold up every
    # other request of the worker; and nothing was imported before gevent patched the worker.
    web_lines = [json.loads(line) for line in web.log.splitlines() if line.startswith("{")]
    assert [line["message"] for line in web_lines if "database waits" in line["message"]] == [
        "database waits: psycopg wait_poll (gevent)"] * 2  # one line per worker process
    assert "MonkeyPatchWarning" not in web.log

    web.stop(signal.SIGTERM)
    assert web.popen.returncode == 0


def test_sigterm_to_a_worker_mid_batch_finishes_the_batch_and_hands_back_the_rest(stack):
    ids = [stack.post(f"rolling deploy comment {n}")["id"] for n in range(10)]
    worker = stack.start_worker("leaving", module="tests.support.slow_worker",
                                MODQUEUE_TEST_SCORING_DELAY="2", MODQUEUE_BATCH_SIZE="4")
    wait_until(lambda: "scoring batch of" in worker.log, 60, 0.05, message="a batch in flight")

    assert worker.stop(signal.SIGTERM, timeout=60) == 0
    finished = sum(int(n) for n in re.findall(r"(\d+) comments decided", worker.log))
    assert finished >= 4, worker.log[-2000:]

    # No beat runs here: what the leaving worker had not started must have gone back to the queue.
    stack.start_worker("arriving", MODQUEUE_BATCH_SIZE="4")
    assert_decided_exactly_once(stack, ids)


def test_a_web_process_stopping_queues_the_comments_it_accepted_first(stack):
    """After a round trip the publisher holds accepted ids for MODQUEUE_PUBLISH_LINGER_SECONDS (here far
    longer than the test); SIGTERM must make the web process send them before it exits, with no sweeper
    running."""
    port = free_port()
    web = stack.start_process("web", compose_command("web", port), MODQUEUE_PUBLISH_LINGER_SECONDS="30")
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: (r := _get(f"{base}/readyz")) is not None and r.status_code == 200, 60, 0.5, "web ready")
    ids = []
    for n in range(6):
        response = httpx.post(f"{base}/api/v1/comments", json={
            "site": stack.site_key, "article": {"id": "leaving"}, "author": {"name": f"Ops {n}"}, "body": f"last {n}"})
        assert response.status_code == 202
        ids.append(response.json()["id"])
    # An id after a quiet spell goes at once: the first of each of the web's two processes; the rest wait.
    held = set(ids) - queued_ids(stack)
    assert len(held) >= len(ids) - 2, "published before the linger was over"

    web.stop(signal.SIGTERM)

    assert web.popen.returncode == 0
    assert queued_ids(stack) == set(ids)
