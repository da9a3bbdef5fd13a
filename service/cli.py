"""The `modqueue` command: development stack, migrations, sites, users and production processes."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from service.settings import Settings


def _settings() -> Settings:
    return Settings.from_env()


def _metrics_dir(kind: str) -> None:
    """Give this process group an empty folder for its Prometheus multiprocess files."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=f"modqueue-{kind}-metrics-")


@click.group()
def main() -> None:
    """Self-hosted comment moderation."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to MODQUEUE_DATABASE_URL."""
    from service.migrations import upgrade

    settings = _settings()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    click.echo("database is up to date")


@main.group()
def site() -> None:
    """Sites that embed the widget."""


@site.command("create")
@click.argument("name")
@click.option("--origin", "origins", multiple=True, required=True, help="An origin allowed to post, e.g. https://news.example")
def site_create(name: str, origins: tuple[str, ...]) -> None:
    """Create a site and print its public key."""
    from service.db import make_engine, make_session_factory
    from service.sites.operations import InvalidOrigin, create_site

    sessions = make_session_factory(make_engine(_settings().database_url))
    try:
        with sessions.begin() as session:
            created = create_site(session, name, list(origins))
            key = created.public_key
    except InvalidOrigin as exc:
        raise click.BadParameter(str(exc), param_hint="--origin") from None
    click.echo(key)


def _sessions():
    from service.db import make_engine, make_session_factory

    return make_session_factory(make_engine(_settings().database_url))


@site.command("assign")
@click.argument("site_key")
@click.argument("email")
def site_assign(site_key: str, email: str) -> None:
    """Let a moderator moderate a site."""
    from service.accounts.operations import assign_site, find_user
    from service.sites.operations import find_site

    with _sessions().begin() as session:
        found_site, found_user = find_site(session, site_key), find_user(session, email)
        if found_site is None or found_user is None:
            raise click.ClickException("no such site" if found_site is None else "no such user")
        assign_site(found_user, found_site)
    click.echo(f"{email} moderates {site_key}")


def _site_or_fail(session, site_key: str):
    from service.sites.operations import find_site

    found = find_site(session, site_key)
    if found is None:
        raise click.ClickException("no such site")
    return found


@site.command("api-key")
@click.argument("site_key")
@click.option("--name", required=True, help="What the key is for, e.g. 'WordPress Akismet plugin'.")
def site_api_key(site_key: str, name: str) -> None:
    """Create a secret API key for Perspective and Akismet clients of a site (shown only once)."""
    from service.compat.credentials import create_api_key

    with _sessions().begin() as session:
        created, key = create_api_key(session, _site_or_fail(session, site_key), name, created_by="cli")
        click.echo(f"key {created.id}: {key}")


@site.command("coral-secret")
@click.argument("site_key")
@click.option("--name", default="coral", show_default=True)
@click.option("--secret-stdin", is_flag=True, help="Read Coral's signing secret from stdin (else one is made).")
def site_coral_secret(site_key: str, name: str, secret_stdin: bool) -> None:
    """Add the signing secret of a Coral external moderation phase for a site."""
    from service.compat.credentials import CredentialError, add_coral_secret

    given = sys.stdin.readline().strip() if secret_stdin else None
    try:
        with _sessions().begin() as session:
            created, secret = add_coral_secret(session, _site_or_fail(session, site_key), name, given,
                                               created_by="cli")
            click.echo(f"secret {created.id}: {secret}")
    except CredentialError as exc:
        raise click.ClickException(str(exc)) from None


@site.command("revoke-credential")
@click.argument("site_key")
@click.argument("credential_id", type=int)
def site_revoke_credential(site_key: str, credential_id: int) -> None:
    """Revoke an API key or Coral secret by its number."""
    from service.compat.credentials import revoke_credential

    with _sessions().begin() as session:
        if not revoke_credential(session, _site_or_fail(session, site_key), credential_id):
            raise click.ClickException("no such active credential")
    click.echo(f"credential {credential_id} revoked")


@main.group()
def token() -> None:
    """Bearer tokens for moderation API clients."""


@token.command("create")
@click.argument("email")
@click.option("--name", default="api client", show_default=True, help="What the token is for.")
def token_create(email: str, name: str) -> None:
    """Create a token for an account and print it (it is shown only once)."""
    from service.accounts.operations import create_api_token, find_user

    with _sessions().begin() as session:
        account = find_user(session, email)
        if account is None:
            raise click.ClickException("no such user")
        created, secret = create_api_token(session, account, name)
        click.echo(f"token {created.id}: {secret}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token by its number."""
    from service.accounts.operations import revoke_api_token

    with _sessions().begin() as session:
        if not revoke_api_token(session, token_id):
            raise click.ClickException("no such active token")
    click.echo(f"token {token_id} revoked")


@main.group()
def user() -> None:
    """Moderator and admin accounts."""


@user.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "moderator"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_create(email: str, role: str, password_stdin: bool) -> None:
    """Create an account; the password is read from stdin or prompted for."""
    from service.accounts.operations import AccountError, create_user
    from service.db import make_engine, make_session_factory

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    sessions = make_session_factory(make_engine(_settings().database_url))
    try:
        with sessions.begin() as session:
            create_user(session, email, password, role)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {role} {email.strip().lower()}")


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--connections", default=1000, show_default=True, type=int,
              help="requests in progress per worker, open dashboards' event streams included")
def web(host: str, port: int, workers: int, connections: int) -> None:
    """Run the web app under gunicorn; SIGTERM finishes requests in flight (up to 30 s) before exiting."""
    # Each worker serves its requests as gevent greenlets: a request waiting on Postgres or Redis lets the
    # others run. With a thread per request (gthread), every round trip ended in a wait to take the GIL back
    # behind the process's other requests: bench/RESULTS.md, machine P.
    _metrics_dir("web")
    os.execvp(
        sys.executable,
        [sys.executable, "-m", "gunicorn", "service:create_app()", "--bind", f"{host}:{port}",
         "--workers", str(workers), "--worker-class", "gevent", "--worker-connections", str(connections),
         "--graceful-timeout", "30", "--access-logfile", "-",
         # By its path: importing it as `service.gunicorn_conf` would import the whole app into gunicorn's
         # master, before each worker's gevent patches the standard library that the app's modules hold on to.
         "--config", str(Path(__file__).with_name("gunicorn_conf.py"))],
    )


@main.command()
@click.option("--concurrency", default=None, type=int, help="pool processes (default: one per core)")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--queues", "-Q", default=None,
              help="queues to consume (default: all; e.g. modqueue.analysis for a worker that answers only "
                   "Perspective/Akismet/Coral calls)")
def worker(concurrency: int | None, loglevel: str, queues: str | None) -> None:
    """Run a Celery worker; SIGTERM finishes the batch in flight and hands queued messages back."""
    _metrics_dir("worker")
    if not os.environ.get("MODQUEUE_TORCH_THREADS"):
        # One pool process per core by default; each gets its share of the cores, not all of them.
        processes = concurrency or os.cpu_count() or 1
        os.environ["MODQUEUE_TORCH_THREADS"] = str(max(1, (os.cpu_count() or 1) // processes))
    args = [sys.executable, "-m", "celery", "-A", "workers.main", "worker", "--loglevel", loglevel]
    if concurrency:
        args += ["--concurrency", str(concurrency)]
    if queues:
        args += ["--queues", queues]
    os.execvp(sys.executable, args)


@main.command()
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run Celery beat (the periodic sweeper); run exactly one."""
    settings = _settings()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    schedule = settings.instance_path / "celerybeat-schedule"
    os.execvp(
        sys.executable,
        [sys.executable, "-m", "celery", "-A", "workers.main", "beat", "--loglevel", loglevel,
         "--schedule", str(schedule)],
    )


@main.command()
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
def dev(port: int, host: str) -> None:
    """Run the whole stack on this machine: SQLite, embedded Redis, web, worker and beat."""
    from service.devstack import run_dev_stack

    run_dev_stack(host, port)


if __name__ == "__main__":
    main()
