"""Prometheus metrics, in a registry owned by the app (no module-level globals).

Requests are counted and timed by route template (`/v1/banks/{name}`), never by raw
path, so bank names and hash values never become label values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.ledger.hits import LAG_BUCKETS
from app.review.intake import Written

log = logging.getLogger("hashwall.access")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


class IndexSizeCollector(Collector):
    """Reports the live index's size per signal type when scraped."""

    def __init__(self, sizes: Callable[[], dict[str, int]]) -> None:
        self._sizes = sizes

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "hashwall_index_hashes", "Hashes in the in-memory index", labels=["signal_type"]
        )
        for signal_type, size in self._sizes().items():
            gauge.add_metric([signal_type], size)
        yield gauge


class ChangeLagCollector(Collector):
    """Reports how far this process's index is behind the change log when scraped."""

    def __init__(self, lag: Callable[[], tuple[int, float]]) -> None:
        self._lag = lag

    def collect(self) -> Iterator[Metric]:
        sequences, seconds = self._lag()
        yield GaugeMetricFamily(
            "hashwall_change_lag_sequences",
            "Changes committed to the change log and not yet applied to this index",
            value=sequences,
        )
        yield GaugeMetricFamily(
            "hashwall_change_lag_seconds",
            "Age of the oldest committed change not yet applied to this index",
            value=seconds,
        )


class SweepCollector(Collector):
    """Reports the takedown sweep's figures, which the worker keeps in the database
    (`app.ledger.hits`), when scraped: any server shows them."""

    def __init__(self, read: Callable[[], Any]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        try:
            state = self._read()
        except Exception:
            log.warning("sweep metrics unavailable", exc_info=True)
            return
        lag = HistogramMetricFamily(
            "hashwall_sweep_lag_seconds",
            "Seconds from a change of hashes committing to its sweep committing, by pass "
            "(match: within the match distance, where blocks are; review: the review band)",
            labels=["pass"],
        )
        swept = CounterMetricFamily(
            "hashwall_sweep_hashes", "Hashes the takedown sweep looked up in the ledger"
        )
        found = CounterMetricFamily(
            "hashwall_sweep_contents", "Recorded uploads the takedown sweep found"
        )
        if state is not None:
            for sweep_pass, held in sorted((state.lag or {}).items()):
                buckets = [
                    (str(bound), count)
                    for bound, count in zip(LAG_BUCKETS, held["buckets"], strict=True)
                ]
                lag.add_metric(
                    [sweep_pass], [*buckets, ("+Inf", held["count"])], sum_value=held["sum"]
                )
            swept.add_metric([], state.hashes_swept)
            found.add_metric([], state.contents_found)
        yield lag
        yield swept
        yield found


class Metrics:
    """The app's metrics and their registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hashwall_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hashwall_http_request_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.verdicts = Counter(
            "hashwall_verdicts",
            "Verdicts given, by verdict and reason",
            ["verdict", "reason"],
            registry=self.registry,
        )
        self.review_items = Counter(
            "hashwall_review_items_opened",
            "Review queue items opened by this process's verdicts",
            registry=self.registry,
        )
        self.quarantines = Counter(
            "hashwall_hashes_quarantined",
            "Hashes this process quarantined for matching far over their baseline",
            registry=self.registry,
        )

    def wrote(self, written: Written) -> None:
        """Count what one batch of verdict outcomes opened and quarantined."""
        if written.opened:
            self.review_items.inc(written.opened)
        if written.quarantined:
            self.quarantines.inc(written.quarantined)

    def watch_index(self, sizes: Callable[[], dict[str, int]]) -> None:
        """Report index sizes from `sizes` on every scrape."""
        self.registry.register(IndexSizeCollector(sizes))

    def watch_lag(self, lag: Callable[[], tuple[int, float]]) -> None:
        """Report the change-log lag from `lag` (sequences, seconds) on every scrape."""
        self.registry.register(ChangeLagCollector(lag))

    def watch_sweep(self, read: Callable[[], Any]) -> None:
        """Report the sweep's state, as `read` returns it (a `SweepState` or None)."""
        self.registry.register(SweepCollector(read))


class MetricsMiddleware:
    """Times every HTTP request, counts it, and writes one structured access log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": method,
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "key": scope.get("state", {}).get("key_name"),
                },
            )
