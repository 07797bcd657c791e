"""`/metrics` in Prometheus text format, made from the status document at each scrape.

Gauges describe the queue as it is (the CSV is the truth, so they are exact after a restart);
`parallel_orchestrator_queue_read_seconds` is a histogram of how long the dashboard's reads of the
queue took. GeeLark requests come from the budget file the workers share (the last minute, per
endpoint); a simulated run adds the simulator's own counters, including genuine rate-limit answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from orchestrator.views.status_report import AccountState, StatusReport

PREFIX = "parallel_orchestrator"
READ_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels))


def per_label(name: str, documentation: str, label: str, values: Mapping[str, float]) -> GaugeMetricFamily:
    """One gauge with one label, a sample per key of `values` (sorted)."""
    family = gauge(name, documentation, (label,))
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def queue_metrics(report: StatusReport) -> Iterator[Metric]:
    yield per_label("jobs", "Jobs in the queue by status.", "status", report.counts)
    posts = gauge("account_posts_today", "Successful posts today per account.", ("account",))
    limit = gauge("account_daily_limit", "Daily post limit per account.", ("account",))
    held = gauge("account_held", "1 when the account is blocked or cooling down.", ("account", "state"))
    for a in report.accounts:
        posts.add_metric([a.account], a.done_today)
        limit.add_metric([a.account], a.daily_limit)
        for state in (AccountState.BLOCKED, AccountState.COOLING):
            held.add_metric([a.account, state.value], 1.0 if a.state is state else 0.0)
    yield from (posts, limit, held)
    if report.attempts is not None:
        attempts = gauge("job_attempts", "Attempts recorded on the queue's jobs, by kind.", ("kind",))
        attempts.add_metric(["job"], report.attempts.job)
        attempts.add_metric(["infrastructure"], report.attempts.infrastructure)
        yield attempts
    by_type = {g.error_type: g.count for g in report.failures}
    yield per_label("failures", "Failed and review jobs by error class.", "error_type", by_type)


def fleet_metrics(report: StatusReport) -> Iterator[Metric]:
    fleet = report.fleet
    if fleet is None:
        return
    yield per_label("workers", "Workers by state.", "state", Counter(r.activity.value for r in fleet.rows))
    yield GaugeMetricFamily(
        f"{PREFIX}_phones_running", "Phones our ledger says run.", value=fleet.phones.running
    )
    if fleet.phones.billed_minutes is not None:
        billed = gauge("billed_phone_minutes", "Phone minutes billed since the run started.", ("source",))
        billed.add_metric([fleet.phones.source], fleet.phones.billed_minutes)
        yield billed


def geelark_metrics(report: StatusReport) -> Iterator[Metric]:
    use = report.geelark
    if use is None:
        return
    yield per_label(
        "geelark_requests_last_minute", "GeeLark requests sent in the last minute.", "endpoint",
        use.requests_last_minute,
    )  # fmt: skip
    yield GaugeMetricFamily(
        f"{PREFIX}_geelark_rate_limit_per_minute",
        "The request budget per endpoint and minute the workers share.",
        value=use.rate_limit_per_min,
    )
    if use.simulator_calls is not None:
        yield per_label(
            "geelark_simulator_requests", "Requests the simulator answered (this run).", "endpoint",
            use.simulator_calls,
        )  # fmt: skip
    if use.simulator_rate_limited is not None:
        yield per_label(
            "geelark_rate_limited", "Rate-limit answers the simulator gave (this run).", "endpoint",
            use.simulator_rate_limited,
        )  # fmt: skip


class StatusCollector(Collector):
    """Every scrape: the latest status document (`latest()`) as metric families."""

    def __init__(self, latest: Callable[[], StatusReport]) -> None:
        self.latest = latest

    def collect(self) -> Iterator[Metric]:
        report = self.latest()
        yield from queue_metrics(report)
        yield from fleet_metrics(report)
        yield from geelark_metrics(report)


def metrics_registry(latest: Callable[[], StatusReport]) -> tuple[CollectorRegistry, Histogram]:
    """A registry of its own (no process-wide state) and the queue-read histogram to observe into."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(latest))
    reads = Histogram(
        f"{PREFIX}_queue_read_seconds",
        "How long reading the queue took for the dashboard (status document, metrics).",
        buckets=READ_BUCKETS,
        registry=registry,
    )
    return registry, reads
