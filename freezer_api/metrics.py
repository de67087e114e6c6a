# SPDX-License-Identifier: Apache-2.0
"""Prometheus metrics (prometheus-client): the server's own, and the catalogue's.

The server's metrics (requests, latencies, database connections, group commits,
transaction retries) are counted in each process. With ``PROMETHEUS_MULTIPROC_DIR`` set
(``freezer-api`` sets it for its workers; under uwsgi or gunicorn the operator does) every
process writes them to files there, and ``/metrics`` adds up all processes'. The
catalogue's gauges (last restorable backup per set, objective states, last contact per
client, jobs by state, stale jobs) are read from the database when scraped, at most every
``[metrics] catalogue_seconds``, by the process that answers.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: methods counted by their name; any other is counted as OTHER (labels stay few)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class ServerMetrics:
    """The metrics one process counts; one per process (``server_metrics``)."""

    def __init__(self) -> None:
        multiprocess_mode = MULTIPROC_DIR in os.environ
        if multiprocess_mode and values.ValueClass is values.MutexValue:
            # NOTE: prometheus-client chooses how values are kept when it is imported; the
            # freezer-api command sets the directory afterwards, before its workers start
            values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        self.multiprocess = multiprocess_mode
        #: what ``/metrics`` reads in a single process
        self.registry = CollectorRegistry()
        registry = None if multiprocess_mode else self.registry
        self.requests = Counter(
            "freezer_api_requests",
            "Requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "freezer_api_request_duration_seconds",
            "Seconds from a request's arrival in the application to its answer.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.connections = Gauge(
            "freezer_api_db_connections_in_use",
            "Database connections checked out of the pools of the live processes.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.group_commit = Histogram(
            "freezer_api_group_commit_writers",
            "Writers whose changes one SQLite commit carried (group commit).",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=registry,
        )
        self.retries = Counter(
            "freezer_api_transaction_retries",
            "Transactions run again after a deadlock or a Galera certification conflict.",
            registry=registry,
        )
        self.gave_up = Counter(
            "freezer_api_transaction_conflicts_surfaced",
            "Transactions that lost every attempt, answered 503.",
            registry=registry,
        )
        self.search_fallbacks = Counter(
            "freezer_api_search_fallbacks",
            "Free-text searches answered from SQL because OpenSearch failed.",
            registry=registry,
        )

    def exposition(self, catalogue: Catalogue | None) -> bytes:
        """The text ``/metrics`` answers: every process's metrics, and the catalogue's."""
        registry = CollectorRegistry()
        if self.multiprocess:
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry.register(_Forward(self.registry))
        if catalogue is not None:
            registry.register(catalogue)
        return generate_latest(registry)


class _Forward:
    """Another registry's metrics, as a collector."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


_metrics: ServerMetrics | None = None
_lock = threading.Lock()


def server_metrics() -> ServerMetrics:
    """This process's metrics, created on first use."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = ServerMetrics()
    return _metrics


def method_label(method: str) -> str:
    return method if method in METHODS else "OTHER"


class RequestMetrics:
    """A falcon middleware: counts each answered request and its latency."""

    def __init__(self) -> None:
        self._metrics = server_metrics()

    def process_request(self, req: Any, resp: Any) -> None:
        req.context.metrics_started = time.perf_counter()

    def process_response(self, req: Any, resp: Any, resource: Any, req_succeeded: bool) -> None:
        started = getattr(req.context, "metrics_started", None)
        route = req.uri_template or "unrouted"
        method = method_label(req.method)
        status = str(resp.status)[:3]
        self._metrics.requests.labels(route, method, status).inc()
        if started is not None:
            self._metrics.latency.labels(route, method).observe(time.perf_counter() - started)


def watch_pool(engine: Any) -> None:
    """Count the connections ``engine``'s pool has checked out."""
    from sqlalchemy import event

    gauge = server_metrics().connections
    event.listen(engine, "checkout", lambda *_: gauge.inc())
    event.listen(engine, "checkin", lambda *_: gauge.dec())


class Catalogue:
    """A collector of the catalogue's gauges, read from the database at most every
    ``every`` seconds (each scrape in between gets the last reading)."""

    def __init__(self, read: Callable[[], list[Metric]], every: float) -> None:
        self._read = read
        self._every = every
        self._lock = threading.Lock()
        self._read_at = -float("inf")
        self._last: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= self._every:
                self._last = self._read()
                self._read_at = now
            yield from self._last

    def describe(self) -> list[Metric]:
        return []


def gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


__all__ = ["CONTENT_TYPE_LATEST"]
