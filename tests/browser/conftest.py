"""Headless Chromium (Debian's, driven by Playwright) against a real modqueue web process and worker."""

from __future__ import annotations

import functools
import http.server
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from playwright.sync_api import sync_playwright

from service.db import make_session_factory
from service.sites.operations import create_site
from tests.support.processes import RunningProcess, modqueue_env, start_worker
from tests.support.waiting import wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]
MODQUEUE = str(Path(sys.executable).parent / "modqueue")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_folder(folder: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    """A static file server for host pages, on an origin of its own."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Live:
    settings: object
    sessions: object
    base: str
    host_origin: str
    other_origin: str
    site_key: str
    tmp: Path
    processes: list = field(default_factory=list)
    worker: RunningProcess | None = None
    workers_started: int = 0

    def ensure_worker(self) -> None:
        if self.worker is None:
            self.workers_started += 1
            self.worker = start_worker(self.settings, self.tmp / f"worker-{self.workers_started}.log")
            self.processes.append(self.worker)

    def stop_worker(self) -> None:
        """Stop scoring, so a comment posted now stays pending until `ensure_worker`."""
        if self.worker is not None:
            self.worker.stop()
            self.processes.remove(self.worker)
            self.worker = None

    def host_page(self, name: str, body: str, site_key: str | None = None, article: str = "story-1",
                  head: str = "") -> str:
        (self.tmp / "host" / name).write_text(
            f"<!doctype html><html><head><meta charset='utf-8'>{head}</head><body>{body}"
            f"<div id='modqueue-thread' data-site='{site_key or self.site_key}' data-article-id='{article}'></div>"
            f"<script src='{self.base}/embed.js' async></script></body></html>"
        )
        return name


@pytest.fixture(scope="module")
def live(settings, engine, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    (tmp / "host").mkdir()
    private = settings.replace(redis_url="redis://127.0.0.1:6379/9")
    with redis.Redis.from_url(private.redis_url) as client:
        client.flushdb()
    host_server, host_port = serve_folder(tmp / "host")
    other_server, other_port = serve_folder(tmp / "host")
    host_origin, other_origin = f"http://127.0.0.1:{host_port}", f"http://localhost:{other_port}"
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        site_key = create_site(session, f"Browser {tmp.name}", [host_origin]).public_key
    port = free_port()
    web = RunningProcess(
        [MODQUEUE, "web", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        modqueue_env(private, MODQUEUE_RATE_LIMIT_AUTHOR="3/minute", MODQUEUE_RATE_LIMIT_IP="1000/minute",
                     MODQUEUE_SECURE_COOKIES="false"),
        tmp / "web.log",
    )
    web.wait_for_log("Booting worker")
    live = Live(private, sessions, f"http://127.0.0.1:{port}", host_origin, other_origin, site_key, tmp, [web])
    wait_until(lambda: _up(live.base), 30, 0.2, message="web up")
    yield live
    for process in live.processes:
        process.stop()
    for server in (host_server, other_server):
        server.shutdown()
        server.server_close()


def _up(base: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def context(browser):
    ctx = browser.new_context()
    yield ctx
    ctx.close()
