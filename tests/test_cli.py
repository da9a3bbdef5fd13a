"""The `modqueue` command: migrations, sites, users, and `modqueue dev` running the whole loop."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import select

from service.accounts.models import User
from service.accounts.operations import check_password
from service.db import make_engine, make_session_factory
from service.sites.models import Site
from tests.support.processes import ROOT, RunningProcess
from tests.support.waiting import wait_until


def modqueue(args: list[str], env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args], env=env, cwd=ROOT, input=stdin,
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def sqlite_env(tmp_path, monkeypatch):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MODQUEUE_")}
    env.update(MODQUEUE_INSTANCE_PATH=str(tmp_path), PYTHONWARNINGS="ignore")
    return env


def _session(tmp_path):
    return make_session_factory(make_engine(f"sqlite:///{tmp_path / 'modqueue.db'}"))()


def test_db_upgrade_site_create_and_user_create(sqlite_env, tmp_path):
    assert modqueue(["db", "upgrade"], sqlite_env).returncode == 0

    created = modqueue(["site", "create", "Gazette", "--origin", "https://gazette.example/"], sqlite_env)
    user = modqueue(["user", "create", "Mod@Gazette.example", "--role", "moderator", "--password-stdin"],
                    sqlite_env, stdin="correct horse battery\n")

    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert re.fullmatch(r"site_[\w-]+", key)
    assert user.returncode == 0, user.stderr
    with _session(tmp_path) as session:
        site = session.scalar(select(Site).where(Site.public_key == key))
        assert (site.name, site.origin_urls) == ("Gazette", ["https://gazette.example"])
        account = session.scalar(select(User).where(User.email == "mod@gazette.example"))
        assert account.role == "moderator"
        assert check_password(account, "correct horse battery")
        assert not check_password(account, "wrong password")


def test_cli_errors_are_clear(sqlite_env):
    modqueue(["db", "upgrade"], sqlite_env)

    bad_origin = modqueue(["site", "create", "X", "--origin", "ftp://nope"], sqlite_env)
    short_password = modqueue(["user", "create", "a@b.example", "--role", "admin", "--password-stdin"],
                              sqlite_env, stdin="short\n")

    assert bad_origin.returncode == 2 and "not an http(s) origin" in bad_origin.stderr
    assert short_password.returncode == 1 and "at least 10 characters" in short_password.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_dev_stack_runs_the_loop_with_sqlite_and_embedded_redis_and_stops_on_ctrl_c(sqlite_env, tmp_path):
    port = _free_port()
    sqlite_env["MODQUEUE_TOXICITY_MODEL"] = "fallback"
    dev = RunningProcess([sys.executable, "-m", "service.cli", "dev", "--port", str(port)], sqlite_env,
                         tmp_path / "dev.log")
    try:
        dev.wait_for_log("Press Ctrl-C to stop.", timeout=60)
        site_key = re.search(r"demo site\s+key (\S+)", dev.log).group(1)
        assert re.search(r"dashboard\s+\S+/dashboard/\s+\(admin@example.com / \S+\)", dev.log)
        assert "(embedded)" in dev.log
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ready(base), 60, 0.5, message="dev stack ready")

        ids = {}
        for label, text in [("clean", "Lovely write-up, thank you."), ("abusive", "Shut up you fucking moron")]:
            response = httpx.post(f"{base}/api/v1/comments", json={
                "site": site_key, "article": {"id": "hello"}, "author": {"name": "Ada"}, "body": text,
            }, headers={"Origin": base})
            assert response.status_code == 202, response.text
            ids[label] = response.json()["id"]

        def decided():
            statuses = {k: httpx.get(f"{base}/api/v1/comments/{v}").json()["status"] for k, v in ids.items()}
            return statuses if "pending" not in statuses.values() else None

        assert wait_until(decided, 60, 0.3, message="dev stack decisions") == {
            "clean": "published", "abusive": "flagged"
        }
        demo = httpx.get(f"{base}/demo")
        assert demo.status_code == 200 and f'data-site="{site_key}"' in demo.text
        children = [p for p in dev.tree()[1:]]
        assert len(children) >= 4  # web, worker, beat and the embedded redis-server (plus their children)
    finally:
        returncode = dev.stop(signal.SIGINT, timeout=30)
    assert returncode == 0, dev.log[-2000:]
    assert all(not p.is_running() or p.status() == "zombie" for p in children)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_token_create_and_revoke_and_site_assignment(sqlite_env, tmp_path):
    modqueue(["db", "upgrade"], sqlite_env)
    key = modqueue(["site", "create", "G", "--origin", "https://g.example"], sqlite_env).stdout.strip()
    modqueue(["user", "create", "m@g.example", "--role", "moderator", "--password-stdin"], sqlite_env,
             stdin="long enough password\n")

    assigned = modqueue(["site", "assign", key, "m@g.example"], sqlite_env)
    created = modqueue(["token", "create", "m@g.example", "--name", "bot"], sqlite_env)
    token_id, secret = re.fullmatch(r"token (\d+): (mq_\S+)\n", created.stdout).groups()
    revoked = modqueue(["token", "revoke", token_id], sqlite_env)
    again = modqueue(["token", "revoke", token_id], sqlite_env)

    assert assigned.returncode == 0 and created.returncode == 0 and revoked.returncode == 0
    assert again.returncode == 1 and "no such active token" in again.stderr
    from service.accounts.operations import find_user, user_for_token

    with _session(tmp_path) as session:
        assert [s.public_key for s in find_user(session, "m@g.example").sites] == [key]
        assert user_for_token(session, secret) is None
