"""Scoring throughput: per-comment model calls vs batched forward passes vs the real worker path.

    python bench/scoring.py [--device cpu|cuda] [--precision auto|fp32|bf16|int8] [--comments 192] [--threads 2]
                            [--worker-processes 2] [--batch-size 32] [--rounds 3]

Builds a Detoxify-format checkpoint with BERT-base dimensions (random weights: the compute of Detoxify's
`original`) and compares, in one run (in rounds, each measuring all three back to back; the medians are
compared, since a shared machine's speed drifts):

  (a) one `Detoxify.predict` call per comment (fp32, as Detoxify does it);
  (b) raw batched forward passes: tokenised, all sorted by length together, cut into passes as the worker
      cuts a batch and padded per pass, in the precision the worker uses (and in fp32, for reference);
  (c) the real path end to end: POST to the Flask app (real Postgres and Redis) → a real `celery worker`
      process → decision written (the bench learns of it from the event the worker publishes after its
      commit, as the dashboard does); throughput for a burst, once a batch per pool process has warmed
      the worker, then POST→decision latency p50/p99 while posting at half that throughput.

Also prints the worker processes' peak RSS (with the model's loading, and while scoring), the memory they
hold after the burst (RSS, and what each holds alone: the pool processes share the model their main
process loaded before forking), and how far the
worker's precision strays from fp32: the largest score difference and how many default-policy decisions
change (with random weights every score sits near 0.5, next to the 0.5 review thresholds, so that count is
a worst case). Needs Postgres and Redis (MODQUEUE_BENCH_POSTGRES_URL, MODQUEUE_BENCH_REDIS_URL). The last
line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis
from _common import ROOT, add_service_arguments, bert_base_checkpoint, comments, percentile, scratch_database
from sqlalchemy import select

from service import create_app
from service.comments.models import PENDING, Comment
from service.db import make_engine, make_session_factory
from service.events import CHANNEL as EVENTS_CHANNEL, DECISION_EVENTS
from service.moderation.policy import PolicyRules, apply_policy
from service.scorer_status import read_scorer_states
from service.settings import Settings
from service.sites.operations import create_site
from workers.scoring.base import ScoringInput
from workers.scoring.detoxify_backend import SUB_BATCH, DetoxifyScorer


def per_comment(model, texts: list[str]) -> float:
    """(a): one `Detoxify.predict` call per comment, with a Detoxify loaded once (and warmed up)."""
    model.predict(texts[0])
    started = time.perf_counter()
    for text in texts:
        model.predict(text)
    return len(texts) / (time.perf_counter() - started)


def raw_batched(scorer: DetoxifyScorer, texts: list[str]) -> float:
    """Forward passes only: tokenise, sort all the texts by length, cut into passes as the worker cuts a
    batch (`DetoxifyScorer.passes`), pad each pass, model, sigmoid."""
    import torch

    encoded = scorer.tokenizer(texts, truncation=True, max_length=scorer.max_length)
    features = sorted(([{k: encoded[k][i] for k in encoded} for i in range(len(texts))]),
                      key=lambda f: len(f["input_ids"]))
    passes = scorer.passes([len(f["input_ids"]) for f in features])
    with torch.inference_mode():
        scorer._forward(features[:SUB_BATCH])
        started = time.perf_counter()
        for run in passes:
            scorer._forward(features[run.start:run.stop])
    return len(texts) / (time.perf_counter() - started)


def worker_batches(scorer: DetoxifyScorer, texts: list[str], batch_size: int) -> float:
    """The worker's model call alone (tokenise, sort and pad within each batch), batches in arrival order:
    what (c) would reach with no queue, database or web work around it."""
    items = [ScoringInput(t) for t in texts]
    scorer.score_batch(items[:batch_size])
    started = time.perf_counter()
    for start in range(0, len(items), batch_size):
        scorer.score_batch(items[start:start + batch_size])
    return len(texts) / (time.perf_counter() - started)


def agreement(checkpoint: Path, texts: list[str], device: str, precision: str) -> dict:
    items = [ScoringInput(t) for t in texts]
    reference = DetoxifyScorer("original", str(checkpoint), precision="fp32", device=device).score_batch(items)
    reduced = DetoxifyScorer("original", str(checkpoint), precision=precision, device=device).score_batch(items)
    worst = max(abs(a[k] - b[k]) for a, b in zip(reference, reduced) for k in a)
    rules = PolicyRules()
    changed = sum(apply_policy(rules, a).status != apply_policy(rules, b).status for a, b in zip(reference, reduced))
    return {"max_score_difference": round(worst, 5), "decisions_changed": changed, "sample": len(texts)}


class WorkerPath:
    """The Flask app in this process, a real Celery worker process, Postgres and Redis."""

    def __init__(self, checkpoint: Path, args, folder: Path):
        self.database_url, self.drop = scratch_database(args.postgres_url)
        redis.Redis.from_url(args.redis_url).flushdb()
        self.settings = Settings.from_env({}).replace(
            database_url=self.database_url, redis_url=args.redis_url, secret_key="bench",
            instance_path=folder, rate_limit_ip="1000000/minute", rate_limit_author="1000000/minute")
        self.sessions = make_session_factory(make_engine(self.database_url))
        with self.sessions.begin() as session:
            self.site_key = create_site(session, "bench", ["https://bench.example"]).public_key
        self.client = create_app(self.settings, session_factory=self.sessions).test_client()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODQUEUE_")}
        env.update(MODQUEUE_DATABASE_URL=self.database_url, MODQUEUE_REDIS_URL=args.redis_url,
                   MODQUEUE_TOXICITY_MODEL="original", MODQUEUE_DETOXIFY_CHECKPOINT=str(checkpoint),
                   MODQUEUE_TORCH_PRECISION=args.precision, MODQUEUE_TORCH_DEVICE=args.device,
                   MODQUEUE_TORCH_THREADS=str(max(1, args.threads // args.worker_processes)),
                   MODQUEUE_WORKER_METRICS_PORT="0",
                   MODQUEUE_INSTANCE_PATH=str(folder), HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
        if args.batch_interval is not None:
            env["MODQUEUE_BATCH_INTERVAL_SECONDS"] = str(args.batch_interval)
        if args.batch_size is not None:
            env["MODQUEUE_BATCH_SIZE"] = str(args.batch_size)
        self.redis = redis.Redis.from_url(args.redis_url)
        # Decisions are waited for as the dashboard learns of them: the worker publishes an event for each
        # decision it has committed. (Asking the database 20 times a second took a tenth of a core from the
        # two that (c) measures: the bench's queries and Postgres answering them.)
        self.events = self.redis.pubsub(ignore_subscribe_messages=True)
        self.events.subscribe(EVENTS_CHANNEL)
        self.log = open(folder / "worker.log", "wb")
        self.log_from = 0
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.main", "worker", "--concurrency",
             str(args.worker_processes),
             "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
            env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        self.peak_rss = 0
        self.processes = args.worker_processes
        # The worker's processes, listed again at most every TREE_SECONDS, and when their RSS was last read.
        self._tree: list[psutil.Process] = []
        self._tree_at = self._sampled_at = float("-inf")

    def wait_loaded(self, timeout: float = 300) -> None:
        """Wait until every pool process has loaded its model (each announces its scorer in Redis when it
        has). Until then a burst would also measure the loading of the slower ones."""
        deadline = time.monotonic() + timeout
        while len(read_scorer_states(self.redis)) < self.processes:
            if time.monotonic() > deadline or self.worker.poll() is not None:
                raise TimeoutError("the worker's pool processes did not all load their model")
            self.sample_rss()
            time.sleep(0.1)

    #: While comments are scored the worker's RSS is read at most this often, and its list of processes
    #: made again at most every TREE_SECONDS: listing a process's children walks every process of the
    #: machine (4.4 ms of CPU on machine K), and done 20 times a second it took about 4% of both cores from
    #: the worker that (c) measures.
    SAMPLE_SECONDS = 0.25
    TREE_SECONDS = 2.0

    def sample_rss(self, every: float = 0.0) -> None:
        now = time.monotonic()
        if now - self._sampled_at < every:
            return
        self._sampled_at = now
        try:
            if not every or now - self._tree_at >= self.TREE_SECONDS:  # while loading, every time
                parent = psutil.Process(self.worker.pid)
                self._tree, self._tree_at = [parent, *parent.children(recursive=True)], now
            for process in self._tree:
                self.peak_rss = max(self.peak_rss, process.memory_info().rss)
        except psutil.NoSuchProcess:  # a pool process replaced: list them again next time
            self._tree_at = float("-inf")

    def memory(self) -> dict:
        """The worker's memory now, in MiB: each process's RSS, and (USS, PSS) what is its own and its share
        of what it shares. The pool processes share the model the main process loaded before forking, so
        their RSS counts it once each while the PSS summed over all processes counts it once."""
        parent = psutil.Process(self.worker.pid)
        infos = [(p, p.memory_full_info()) for p in [parent, *parent.children(recursive=True)]]
        mib = 2**20
        return {"main_rss_mib": round(infos[0][1].rss / mib),
                "pool_rss_mib": [round(i.rss / mib) for _, i in infos[1:]],
                "pool_uss_mib": [round(i.uss / mib) for _, i in infos[1:]],
                "total_pss_mib": round(sum(i.pss for _, i in infos) / mib)}

    def post(self, body: str) -> str:
        response = self.client.post("/api/v1/comments", json={
            "site": self.site_key, "article": {"id": "bench"}, "author": {"name": "Bench"}, "body": body})
        assert response.status_code == 202, response.get_data(as_text=True)
        return response.get_json()["id"]

    def wait_decided(self, ids: list[str], timeout: float = 600) -> None:
        """Until every one of `ids` is decided: their decision events, then one query to confirm. The
        database is also asked whenever no event came for SAMPLE_SECONDS, so an event lost (pub/sub keeps
        nothing for a listener that is not reading) costs a moment, not the run."""
        waiting, deadline = set(ids), time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sample_rss(every=self.SAMPLE_SECONDS)
            message = self.events.get_message(timeout=self.SAMPLE_SECONDS)
            if message is not None:
                event = json.loads(message["data"])
                if event.get("type") in DECISION_EVENTS:
                    waiting.discard(event.get("id"))
                if waiting:
                    continue
            with self.sessions() as session:
                waiting = set(session.scalars(select(Comment.id).where(Comment.id.in_(ids),
                                                                       Comment.status == PENDING)))
            if not waiting:
                return
        raise TimeoutError("comments still pending")

    def burst(self, texts: list[str]) -> float:
        started = time.perf_counter()
        ids = [self.post(t) for t in texts]
        self.wait_decided(ids)
        return len(ids) / (time.perf_counter() - started)

    def latencies(self, texts: list[str], rate: float) -> list[float]:
        ids, gap, started = [], 1.0 / rate, time.perf_counter()
        for n, text in enumerate(texts):
            time.sleep(max(0.0, started + n * gap - time.perf_counter()))
            ids.append(self.post(text))
            self.sample_rss(every=self.SAMPLE_SECONDS)
        self.wait_decided(ids)
        with self.sessions() as session:
            rows = session.execute(select(Comment.created_at, Comment.decided_at).where(Comment.id.in_(ids))).all()
        return [(decided - created).total_seconds() for created, decided in rows]

    BATCH_LINE = re.compile(rb"(\d+) comments decided in (\d+) ms \(toxicity (\d+) ms, spam (\d+) ms\)")

    def _batch_rows(self) -> list[tuple[int, ...]]:
        """The worker's batches logged since `log_from` (bytes into its log)."""
        with open(self.log.name, "rb") as log:
            log.seek(self.log_from)
            rows = [tuple(map(int, row)) for row in self.BATCH_LINE.findall(log.read())]
        # Messages whose comments an earlier batch already took (filling itself up) decide nothing: not batches.
        return [row for row in rows if row[0] > 0]

    def skip_logged_batches(self, comments: int, timeout: float = 10) -> None:
        """Leave out of `batch_timings` the batches logged so far, once they hold `comments` decisions (a
        batch's log line follows its decisions' events)."""
        deadline = time.monotonic() + timeout
        while sum(row[0] for row in self._batch_rows()) < comments and time.monotonic() < deadline:
            time.sleep(0.05)
        self.log_from = Path(self.log.name).stat().st_size

    def batch_timings(self) -> dict:
        """Totals over the worker's batches since `skip_logged_batches`, from its log: wall time, and the
        model's and spam scorer's part."""
        rows = self._batch_rows()
        totals = [sum(row[i] for row in rows) for i in range(4)]
        return {"batches": len(rows), "comments": totals[0], "batch_ms": totals[1], "toxicity_ms": totals[2],
                "spam_ms": totals[3]}

    def close(self) -> None:
        self.events.close()
        self.worker.terminate()
        self.worker.wait(60)
        self.log.close()
        self.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "int8"], default="auto")
    parser.add_argument("--comments", type=int, default=192)
    parser.add_argument("--per-comment", type=int, default=96, help="comments for (a), the slow path")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (a), (b) and (c); medians are compared")
    parser.add_argument("--batch-interval", type=float, default=None,
                        help="the worker's MODQUEUE_BATCH_INTERVAL_SECONDS (default: the setting's default)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="the worker's MODQUEUE_BATCH_SIZE (default: the setting's default)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    parser.add_argument("--worker-processes", type=int, default=os.cpu_count() or 1,
                        help="pool processes of the worker in (c), each with threads/processes torch threads "
                             "(what `modqueue worker` runs by default: one per core, one thread each)")
    add_service_arguments(parser)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    texts = comments(args.comments)
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        checkpoint = bert_base_checkpoint(folder / "model")
        path = WorkerPath(checkpoint, args, folder)
        try:
            path.wait_loaded()
            # The worker chose its precision itself (`auto` times its candidates as it loads, and a noisy
            # machine can tip that choice either way): (b) runs in the precision the pool chose.
            worker_precisions = sorted({state["model"].rpartition("/")[2] for state in read_scorer_states(path.redis)})
            asked = worker_precisions[0] if len(worker_precisions) == 1 else args.precision
            precision = DetoxifyScorer("original", str(checkpoint), precision=asked, device=args.device)
            fp32 = DetoxifyScorer("original", str(checkpoint), precision="fp32", device=args.device)

            from detoxify import Detoxify

            detoxify = Detoxify(checkpoint=str(checkpoint), device=args.device)
            b_fp32 = raw_batched(fp32, texts)
            del fp32
            batch_size = args.batch_size or Settings.from_env({}).batch_size
            b_worker = worker_batches(precision, texts, batch_size)
            agree = agreement(checkpoint, texts[:96], args.device, precision.precision)
            # A batch's worth per pool process, so that each has scored (and connected to Postgres and Redis,
            # and compiled its queries) before the rounds: with one warm-up comment, one pool process came to
            # the first round cold, and its first batch spent 120-190 ms more outside the model.
            warm_up = comments(batch_size * args.worker_processes, seed=5)
            path.wait_decided([path.post(text) for text in warm_up], timeout=300)
            path.skip_logged_batches(len(warm_up))
            # Loading holds the checkpoint's state dict beside the model: the peak a memory limit must allow.
            load_peak_mib, path.peak_rss = path.peak_rss / 2**20, 0
            # The machine's speed drifts (shared cores), so (a), (b) and (c) are measured in rounds, each
            # round all three back to back, and the medians compared.
            rounds: dict[str, list[float]] = {"a": [], "b": [], "c": []}
            for n in range(args.rounds):
                rounds["a"].append(per_comment(detoxify, texts[: args.per_comment]))
                rounds["b"].append(raw_batched(precision, texts))
                rounds["c"].append(path.burst(texts))
                print(f"round {n + 1}: (a) {rounds['a'][-1]:.1f}, (b) {rounds['b'][-1]:.1f}, "
                      f"(c) {rounds['c'][-1]:.1f} comments/s", flush=True)
            a, b, c = (statistics.median(rounds[k]) for k in "abc")
            timings = path.batch_timings()
            rate = c / 2
            waits = path.latencies(comments(max(40, int(rate * 20)), seed=11), rate)
            p50, p99 = percentile(waits, 0.5), percentile(waits, 0.99)
            rss_mib = path.peak_rss / 2**20  # while scoring
            memory = path.memory()
        finally:
            path.close()
    print(f"device {args.device}, {args.threads} torch threads, worker precision {precision.precision}, "
          f"{len(texts)} comments of 8-60 words, medians of {args.rounds} rounds")
    if worker_precisions != [precision.precision]:
        print(f"    NOTE: the worker's pool chose {', '.join(worker_precisions)} as it loaded, (b) ran in "
              f"{precision.precision}: (c)/(b) compares different precisions")
    print(f"(a) Detoxify.predict per comment (fp32): {a:.1f} comments/s ({1000 / a:.1f} ms each)")
    print(f"(b) raw batched forward, {precision.precision}: {b:.1f} comments/s (fp32, one pass before the rounds: "
          f"{b_fp32:.1f})")
    print(f"    the worker's model call on arrival-order batches of {batch_size}: {b_worker:.1f} comments/s")
    print(f"    {precision.precision} vs fp32 on {agree['sample']} comments: largest score difference "
          f"{agree['max_score_difference']}, default-policy decisions changed {agree['decisions_changed']}")
    print(f"(c) POST → decision through a real worker ({args.worker_processes} processes × "
          f"{max(1, args.threads // args.worker_processes)} torch threads): {c:.1f} comments/s")
    print(f"    at {rate:.1f} comments/s (half of that): POST→decision p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    print(f"    worker process peak RSS: {max(rss_mib, load_peak_mib):.0f} MiB with the model's loading, "
          f"{rss_mib:.0f} MiB while scoring")
    print(f"    after: main process RSS {memory['main_rss_mib']} MiB; pool processes RSS {memory['pool_rss_mib']} "
          f"MiB, of which their own (USS) {memory['pool_uss_mib']} MiB; the whole worker "
          f"{memory['total_pss_mib']} MiB (PSS)")
    print(f"    the bursts' {timings['batches']} batches: {timings['batch_ms']} ms in all, of which the model "
          f"{timings['toxicity_ms']} ms and the spam scorer {timings['spam_ms']} ms (summed over the processes)")
    print(f"ratios: (c)/(a) {c / a:.2f} (target ≥ 4), (c)/(b) {c / b:.2f} in {precision.precision} (target ≥ 0.8); "
          f"(c) / the worker's model call alone {c / b_worker:.2f}")
    print(json.dumps({
        "device": args.device, "precision": args.precision, "chosen_precision": precision.precision,
        "worker_precisions": worker_precisions, "threads": args.threads,
        "worker_processes": args.worker_processes,
        "batch_interval_s": args.batch_interval or Settings.from_env({}).batch_interval_seconds,
        "batch_size": batch_size,
        "rounds": args.rounds, **{f"{name}_rounds": [round(v, 2) for v in rounds[key]]
                                   for key, name in (("a", "per_comment"), ("b", "batched"), ("c", "worker_path"))},
        "per_comment_per_s": round(a, 2), "batched_fp32_per_s": round(b_fp32, 2), "batched_per_s": round(b, 2),
        "worker_path_per_s": round(c, 2), "worker_vs_per_comment": round(c / a, 2),
        "worker_vs_batched": round(c / b, 2), "worker_model_call_per_s": round(b_worker, 2),
        "worker_vs_model_call": round(c / b_worker, 2), "latency_rate_per_s": round(rate, 2),
        "latency_p50_ms": round(p50 * 1000), "latency_p99_ms": round(p99 * 1000),
        "worker_peak_rss_mib": round(max(rss_mib, load_peak_mib)),
        "worker_scoring_peak_rss_mib": round(rss_mib), "worker_memory_after": memory, "burst_batches": timings,
        **agree,
    }))


if __name__ == "__main__":
    main()
