"""Prometheus metrics shared by the web processes and the workers.

Under gunicorn and Celery's prefork pool each process counts on its own; with PROMETHEUS_MULTIPROC_DIR
set (`modqueue web` and `modqueue worker` set it) the values are summed across processes at scrape time.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY

COMMENTS_RECEIVED = Counter("modqueue_comments_received_total", "Comments accepted by the API.", ["site"])
COMMENTS_DECIDED = Counter(
    "modqueue_comments_decided_total", "Decisions on comments, by the policy or a moderator.",
    ["site", "outcome", "decided_by"],
)
MODERATOR_DECISIONS = Counter("modqueue_moderator_decisions_total", "Moderators' decisions.", ["site", "action"])
SCORING_BATCH_SIZE = Histogram(
    "modqueue_scoring_batch_size", "Comments scored per model call.", buckets=(1, 2, 4, 8, 16, 32, 64, 128)
)
SCORING_BATCH_SECONDS = Histogram(
    "modqueue_scoring_batch_seconds", "Time to score and decide one batch.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DECISION_LATENCY = Histogram(
    "modqueue_post_to_decision_seconds", "From the comment's POST to the policy's decision.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
COMPAT_REQUESTS = Counter(
    "modqueue_compat_requests_total", "Calls to the Perspective, Akismet and Coral compatible APIs.",
    ["api", "endpoint", "outcome"],
)
COMPAT_SECONDS = Histogram(
    "modqueue_compat_request_seconds", "Time to answer a compatibility API call (worker round trip included).",
    ["api"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ANALYSIS_BATCH_SIZE = Histogram(
    "modqueue_analysis_batch_size", "Compatibility API requests answered per model call.",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
SCORING_PUBLISHED = Counter(
    "modqueue_scoring_ids_published_total",
    "Comment ids the web processes handed to the queue: sent, or left for the sweeper (broker down, buffer full).",
    ["outcome"],
)


class QueueDepth:
    """Reports values measured at scrape time (queue length in Redis, pending comments in the database)."""

    def __init__(self, queued: float | None, pending: float | None):
        self.queued, self.pending = queued, pending

    def collect(self):
        if self.queued is not None:
            yield GaugeMetricFamily("modqueue_queue_depth", "Messages waiting in the scoring queue.", self.queued)
        if self.pending is not None:
            yield GaugeMetricFamily("modqueue_pending_comments", "Comments accepted and not yet decided.",
                                    self.pending)


def render(*extra_collectors) -> bytes:
    """The exposition text of this process group's metrics plus any scrape-time collectors."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry(auto_describe=True)
        for collector in list(REGISTRY._collector_to_names):
            registry.register(collector)
    for collector in extra_collectors:
        registry.register(collector)
    return generate_latest(registry)
