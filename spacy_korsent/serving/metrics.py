"""The server's Prometheus metrics (``GET /metrics``).

Each server has its own registry, so that two in one process (tests, a Ray replica) do not mix
their counts. With several worker processes (``--workers``) prometheus_client's multiprocess
mode adds up every worker's values: the command sets ``PROMETHEUS_MULTIPROC_DIR`` before the
workers start, and :meth:`Metrics.render` then reads all of them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from .batcher import BatchObserver

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
TOKEN_BUCKETS = (16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


class Metrics(BatchObserver):
    """Requests by status, queue depth, batch sizes and tokens, latencies."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "korsent_requests",
            "POST /analyze requests answered, by HTTP status",
            ["status"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "korsent_queue_depth",
            "Texts waiting for a batch",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.batch_size = Histogram(
            "korsent_batch_size",
            "Texts per batch",
            buckets=SIZE_BUCKETS,
            registry=self.registry,
        )
        self.batch_tokens = Histogram(
            "korsent_batch_tokens",
            "Subword tokens per batch",
            buckets=TOKEN_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "korsent_batch_seconds",
            "Time the pipeline took for a batch",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_seconds = Histogram(
            "korsent_queue_seconds",
            "Time a request waited in the queue before its batch started",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "korsent_request_seconds",
            "Time from receiving a POST /analyze request to its answer, by HTTP status",
            ["status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def answered(self, status: int, seconds: float) -> None:
        self.requests.labels(str(status)).inc()
        self.request_seconds.labels(str(status)).observe(seconds)

    def queued(self, texts: int) -> None:
        self.queue_depth.set(texts)

    def batch(self, texts: int, tokens: int, seconds: float, waits: list[float]) -> None:
        self.batch_size.observe(texts)
        self.batch_tokens.observe(tokens)
        self.batch_seconds.observe(seconds)
        for wait in waits:
            self.queue_seconds.observe(wait)

    def render(self) -> bytes:
        """The Prometheus text: this process's metrics, or every worker's in multiprocess mode."""
        path = os.environ.get(MULTIPROCESS_DIR)
        if not path:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=path)
        return generate_latest(merged)
