"""Ingest: modqueue's POST /api/v1/comments under gunicorn vs a bare Flask app, same server settings.

    python bench/ingest.py [--clients 16] [--seconds 5] [--rounds 5] [--isso-python PATH]

Starts modqueue (`modqueue web`, against Postgres and Redis, no worker) and `bench/bare_app.py` (a POST
handler that only parses JSON and returns 202) under identical gunicorn settings, then drives each with the
same closed-loop load: N client threads, each on a keep-alive connection, posting comments back to back,
in rounds that alternate between the two. Prints requests/s (median of the rounds), p50 and p99 latency
and errors for each, and the ratio. The load generator is one
Python process on the same machine; it can cap the bare app's rate, which flatters the ratio, so read
the absolute figures too.

With --isso-python (the Python of a virtual environment holding `isso` and `gunicorn`, e.g. made with
`python -m venv /tmp/isso && /tmp/isso/bin/pip install isso gunicorn`: Isso pins a stack of its own), Isso,
a peer comment server, takes the same load in the same rounds under the same gunicorn settings: POST
/new?uri=… to a thread of four, with moderation on (comments wait, as modqueue's do) and its posting
guard off (modqueue's limits are raised out of the way too); it stores comments in SQLite.

The last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis
from _common import ROOT, add_service_arguments, percentile, scratch_database

from service.db import make_engine, make_session_factory
from service.gunicorn_conf import access_log_format
from service.sites.operations import create_site

# The server settings `modqueue web --workers 2` runs with (service/cli.py), access log included.
GUNICORN = ["--workers", "2", "--worker-class", "gevent", "--worker-connections", "1000", "--graceful-timeout", "30",
            "--access-logfile", "-", "--access-logformat", access_log_format]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port}")


class Target:
    """How the load generator posts a comment to one server: its path, its body and the answers it accepts.
    This one: modqueue's POST /api/v1/comments (the bare app takes the same)."""

    accepted = (202,)

    def __init__(self, site_key: str):
        self.site_key = site_key

    def path_for(self, client: int) -> str:
        return "/api/v1/comments"

    def body(self, client: int, sent: int) -> str:
        return json.dumps({"site": self.site_key, "article": {"id": f"story-{client % 4}"},
                           "author": {"name": f"reader {client}-{sent}"},
                           "body": f"Comment {sent} from client {client}."})


class IssoTarget(Target):
    """Isso's POST /new: the thread in the query string, a title so that Isso need not fetch the page."""

    accepted = (201, 202)

    def __init__(self):
        super().__init__(site_key="")  # Isso has one site

    def path_for(self, client: int) -> str:
        return f"/new?uri=%2Fstory-{client % 4}"

    def body(self, client: int, sent: int) -> str:
        return json.dumps({"author": f"reader {client}-{sent}", "text": f"Comment {sent} from client {client}.",
                           "title": f"Story {client % 4}"})


def drive(port: int, target: Target, clients: int, seconds: float, warmup: float = 1.0) -> dict:
    """Closed-loop load; latencies and errors counted after the warm-up."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    def client(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, failed, sent = [], 0, 0
        path = target.path_for(n)
        while (now := time.monotonic()) < stop_at:
            body = target.body(n, sent)
            sent += 1
            began = time.perf_counter()
            try:
                connection.request("POST", path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                ok = response.status in target.accepted
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            elapsed = time.perf_counter() - began
            if now >= measure_from:
                mine.append(elapsed)
                failed += not ok
        connection.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"rps": len(latencies) / seconds, "latencies": latencies, "errors": errors[0]}


def summary(rounds: list[dict]) -> dict:
    """Median requests/s over the rounds; latency percentiles over every request of every round."""
    latencies = [value for r in rounds for value in r["latencies"]]
    return {"rps": round(statistics.median(r["rps"] for r in rounds), 1),
            "rps_rounds": [round(r["rps"], 1) for r in rounds],
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "errors": sum(r["errors"] for r in rounds), "requests": len(latencies)}


def isso_settings(folder: Path) -> Path:
    """Isso's configuration: its SQLite file in `folder`, comments held for moderation, no posting guard.
    Its site address is one nothing answers at, so its start-up check fails at once rather than waiting."""
    path = folder / "isso.cfg"
    path.write_text(f"[general]\ndbpath = {folder / 'isso.db'}\nhost = http://127.0.0.1:9/\n"
                    "[moderation]\nenabled = true\n[guard]\nenabled = false\n")
    return path


def serve(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5, help="length of each round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--isso-python", type=Path, default=None,
                        help="a Python with isso and gunicorn installed: Isso takes the same load too")
    add_service_arguments(parser)
    args = parser.parse_args()
    database_url, drop = scratch_database(args.postgres_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        site_key = create_site(session, "bench", ["https://bench.example"]).public_key
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODQUEUE_")}
    env.update(MODQUEUE_DATABASE_URL=database_url, MODQUEUE_REDIS_URL=args.redis_url, MODQUEUE_SECRET_KEY="bench",
               MODQUEUE_RATE_LIMIT_IP="10000000/minute", MODQUEUE_RATE_LIMIT_AUTHOR="10000000/minute",
               PYTHONPATH=f"{ROOT}:{ROOT / 'bench'}")
    targets = {"bare_flask": Target(site_key), "modqueue": Target(site_key)}
    if args.isso_python:
        targets["isso"] = IssoTarget()
    rounds: dict[str, list[dict]] = {name: [] for name in targets}
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as running:
        commands = {
            "bare_flask": [sys.executable, "-m", "gunicorn", "bare_app:app", *GUNICORN],
            "modqueue": [str(Path(sys.executable).parent / "modqueue"), "web", "--host", "127.0.0.1",
                         "--workers", "2"],
        }
        if args.isso_python:
            commands["isso"] = [str(args.isso_python), "-m", "gunicorn", "isso.run:application", *GUNICORN]
        ports = {}
        for name, command in commands.items():
            ports[name] = port = free_port()
            command = command + (["--port", str(port)] if name == "modqueue" else ["--bind", f"127.0.0.1:{port}"])
            server_env = env
            if name == "isso":
                server_env = {**env, "ISSO_SETTINGS": str(isso_settings(Path(folder)))}
            process = serve(command, server_env, Path(folder) / f"{name}.log")
            running.callback(process.wait, 30)
            running.callback(process.terminate)
            wait_listening(port)
        # Rounds alternate the order of the servers, so drift in the machine's speed (other tenants, the
        # database's background writes) falls on all alike; the figures are medians over the rounds.
        for n in range(args.rounds):
            for name in (list(targets) if n % 2 == 0 else list(reversed(targets))):
                rounds[name].append(drive(ports[name], targets[name], args.clients, args.seconds))
                print(f"round {n + 1} {name:>10}: {rounds[name][-1]['rps']:8.1f} req/s", flush=True)
    results = {name: summary(r) for name, r in rounds.items()}
    for name, r in results.items():
        print(f"{name:>10}: {r['rps']:8.1f} req/s (median of {args.rounds})  p50 {r['p50_ms']:6.2f} ms  "
              f"p99 {r['p99_ms']:6.2f} ms  errors {r['errors']}")
    drop()
    redis.Redis.from_url(args.redis_url).flushdb()
    ratio = results["modqueue"]["rps"] / results["bare_flask"]["rps"]
    print(f"modqueue / bare Flask throughput: {ratio:.2f} (target ≥ 0.4); p99 target < 50 ms at "
          f"{args.clients} clients")
    figures = {"clients": args.clients, "seconds": args.seconds, "rounds": args.rounds,
               **{f"{k}_{m}": v for k, r in results.items() for m, v in r.items()},
               "throughput_ratio": round(ratio, 3)}
    if "isso" in results:
        figures["modqueue_vs_isso"] = round(results["modqueue"]["rps"] / results["isso"]["rps"], 3)
        print(f"modqueue / Isso throughput: {figures['modqueue_vs_isso']:.2f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
