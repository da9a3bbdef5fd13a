"""Ingest A/B: two (or more) checkouts of modqueue serving at once, driven in alternating rounds.

    python bench/ingest_ab.py OLD_CHECKOUT NEW_CHECKOUT [--rounds 10] [--seconds 3] [--clients 16]

e.g. `git worktree add /tmp/before HEAD~1` and then `python bench/ingest_ab.py /tmp/before .`. On a noisy
machine the bare app of bench/ingest.py moves by a fifth between runs, and so does a single ratio; a change
to the request path is better judged here: every checkout's `modqueue web` (same gunicorn settings as
bench/ingest.py, this virtual environment's packages, the checkout's own `service` and `workers`) runs
against one scratch database and Redis for the whole run, and the rounds alternate between them (the order
flips every round), so each round of one is beside a round of the other in time. Prints each checkout's
requests/s per round, the median, p50 and p99, and each round's ratio to the first checkout's.

The last line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import redis
from _common import ROOT, add_service_arguments, percentile, scratch_database
from ingest import Target, drive, free_port, wait_listening

from service.db import make_engine, make_session_factory
from service.sites.operations import create_site


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkouts", nargs="+", type=Path, help="modqueue checkouts; the first is the baseline")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3, help="length of each round")
    parser.add_argument("--rounds", type=int, default=10)
    add_service_arguments(parser)
    args = parser.parse_args()
    checkouts = [path.resolve() for path in args.checkouts]
    for path in checkouts:
        if not (path / "service" / "__init__.py").is_file():
            parser.error(f"{path} is not a modqueue checkout")
    database_url, drop = scratch_database(args.postgres_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        target = Target(create_site(session, "bench", ["https://bench.example"]).public_key)
    engine.dispose()
    rounds: dict[Path, list[dict]] = {path: [] for path in checkouts}
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as running:
        ports = {}
        for n, path in enumerate(checkouts):
            env = {k: v for k, v in os.environ.items() if not k.startswith("MODQUEUE_")}
            env.update(MODQUEUE_DATABASE_URL=database_url, MODQUEUE_REDIS_URL=args.redis_url,
                       MODQUEUE_SECRET_KEY="bench", MODQUEUE_RATE_LIMIT_IP="10000000/minute",
                       MODQUEUE_RATE_LIMIT_AUTHOR="10000000/minute", PYTHONPATH=str(path))
            ports[path] = port = free_port()
            command = [sys.executable, "-c", "from service.cli import main; main()", "web", "--host", "127.0.0.1",
                       "--port", str(port), "--workers", "2"]
            log = running.enter_context(open(Path(folder) / f"{n}.log", "wb"))
            server = subprocess.Popen(command, env=env, cwd=path, stdout=log, stderr=subprocess.STDOUT)
            running.callback(server.wait)
            running.callback(server.terminate)
        for path, port in ports.items():
            wait_listening(port)
            drive(port, target, args.clients, 1)  # warm: imports, pools, the site and article caches
        for n in range(args.rounds):
            for path in checkouts if n % 2 == 0 else checkouts[::-1]:
                result = drive(ports[path], target, args.clients, args.seconds)
                rounds[path].append(result)
                print(f"round {n + 1} {path}: {result['rps']:8.1f} req/s", flush=True)
    drop()
    figures = []
    baseline = [r["rps"] for r in rounds[checkouts[0]]]
    for path in checkouts:
        rates = [r["rps"] for r in rounds[path]]
        latencies = [value for r in rounds[path] for value in r["latencies"]]
        paired = [rate / base for rate, base in zip(rates, baseline)]
        figures.append({"checkout": str(path), "rps": round(statistics.median(rates), 1),
                        "rps_rounds": [round(rate, 1) for rate in rates],
                        "vs_first_median_of_rounds": round(statistics.median(paired), 3),
                        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
                        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
                        "errors": sum(r["errors"] for r in rounds[path])})
        print(f"{path}: {figures[-1]['rps']:.1f} req/s (median of {args.rounds}), round by round "
              f"{figures[-1]['vs_first_median_of_rounds']:.3f}× the first checkout, p50 {figures[-1]['p50_ms']} ms, "
              f"p99 {figures[-1]['p99_ms']} ms, errors {figures[-1]['errors']}")
    print(json.dumps({"clients": args.clients, "seconds": args.seconds, "rounds": args.rounds,
                      "root": str(ROOT), "checkouts": figures}))


if __name__ == "__main__":
    main()
