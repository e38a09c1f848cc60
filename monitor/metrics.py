"""Prometheus metrics of one service process (a registry of its own, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .models import PollResult


class Metrics:
    """Counters the service moves as it polls and delivers."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("monitor_polls", "Polls of a source", ["source"], registry=r)
        self.poll_errors = Counter("monitor_poll_errors", "Polls that failed", ["source"], registry=r)
        self.poll_seconds = Histogram(
            "monitor_poll_duration_seconds",
            "Time a poll took",
            ["source"],
            registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.items_seen = Counter("monitor_items_seen", "Ticker lines found on polls", ["source"], registry=r)
        self.items_new = Counter("monitor_items_new", "Ticker lines never seen before", ["source"], registry=r)
        self.last_success = Gauge(
            "monitor_last_success_timestamp_seconds", "Last successful poll", ["source"], registry=r
        )
        self.queued = Counter(
            "monitor_alerts_queued",
            "Alerts the rules routed to a channel (before the same-line window)",
            ["channel"],
            registry=r,
        )
        self.sent = Counter("monitor_alerts_sent", "Alerts delivered", ["channel"], registry=r)
        self.failed = Counter("monitor_alerts_failed", "Alerts given up on", ["channel"], registry=r)

    def poll(self, result: PollResult, seconds: float, now: float) -> None:
        """Count one poll."""
        source = result.source
        self.polls.labels(source).inc()
        self.poll_seconds.labels(source).observe(seconds)
        if result.error:
            self.poll_errors.labels(source).inc()
            return
        self.last_success.labels(source).set(now)
        self.items_seen.labels(source).inc(result.found)
        self.items_new.labels(source).inc(result.new)
        for alert in result.alerts:
            self.queued.labels(alert.channel).inc()

    def delivery(self, channel: str, sent: int, failed: int) -> None:
        """Count alerts delivered or given up on."""
        if sent:
            self.sent.labels(channel).inc(sent)
        if failed:
            self.failed.labels(channel).inc(failed)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
