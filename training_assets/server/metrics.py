"""The server's Prometheus metrics, in a registry of its own (so two apps in one process, as in
tests, never share counts): requests and errors by outcome, the latency of each answer, the
versions served and scored in shadow, the registry polls, and the prediction log's counts."""

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from training_assets.server.models import ROLES

# Milliseconds matter here: a features-and-model answer takes a few, a failure at most 100.
LATENCY_BUCKETS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1.0)
PREFIX = "training_assets_serve"


class ServerMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            f"{PREFIX}_requests",
            "Prediction requests answered, by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self.errors = Counter(
            f"{PREFIX}_errors",
            "Prediction requests not answered with predictions, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{PREFIX}_request_seconds",
            "Time to answer a prediction request, from its parsed body to its response.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            f"{PREFIX}_predictions",
            "Drivers scored, by role (champion answers; challenger and previous in shadow).",
            ["role"],
            registry=self.registry,
        )
        self.shadow_skipped = Counter(
            f"{PREFIX}_shadow_skipped",
            "Requests not scored in shadow (by any model) because the shadow queue was full.",
            registry=self.registry,
        )
        self.shadow_failed = Counter(
            f"{PREFIX}_shadow_failed",
            "Requests a model in shadow failed to score, by role.",
            ["role"],
            registry=self.registry,
        )

    def watch(self, follower, log) -> None:
        """Report the follower's versions and polls and the log's counts at each scrape."""
        self.registry.register(_StateCollector(follower, log))


class _StateCollector:
    def __init__(self, follower, log):
        self.follower, self.log = follower, log

    def collect(self):
        versions = GaugeMetricFamily(
            f"{PREFIX}_model_version",
            "The registered version held in each role (champion answers; challenger and "
            "previous are scored in shadow); absent when none is loaded.",
            labels=["role", "model_name"],
        )
        # One read of what serves, so a scrape never mixes two polls.
        held = self.follower.served
        for role in ROLES:
            served = getattr(held, role)
            if served is not None:
                versions.add_metric([role, served.name], served.version)
        yield versions
        for name, value, text in (
            ("registry_polls", self.follower.polls, "Polls of the registry's aliases."),
            ("registry_poll_errors", self.follower.poll_errors, "Polls that failed."),
            ("model_swaps", self.follower.swaps, "Times the champion was swapped."),
        ):
            yield CounterMetricFamily(f"{PREFIX}_{name}", text, value=value)
        for name, value, text in (
            ("logged", self.log.logged, "Prediction log rows written."),
            ("dropped", self.log.dropped, "Prediction log rows dropped (queue full)."),
            ("failed_writes", self.log.failed_writes, "Prediction log writes that failed."),
        ):
            yield CounterMetricFamily(f"training_assets_prediction_log_{name}", text, value=value)
        yield GaugeMetricFamily(
            "training_assets_prediction_log_pending_rows",
            "Prediction log rows waiting for the next write.",
            value=self.log.pending_rows,
        )
